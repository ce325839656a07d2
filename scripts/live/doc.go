// Package livetest holds test helpers for live capture: a pair of network
// namespaces joined by a veth (traffic stays inside them: no addresses, no
// routes out), replay of a capture onto the veth with tcpreplay, running a
// function inside a namespace, and bulk-heavy captures built from
// gencap.Bench. Tests in bpf, capture/live and agent/cmd/orchard use it.
//
// It may import scripts/gencap and gopacket. Helpers take a testing.TB and
// fail the test on setup errors; RequireRoot skips when not root, except
// under CI=true where it fails.
package livetest
