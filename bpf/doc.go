// Package bpf owns orchard's kernel program: a TC classifier (src/orchard.c)
// that runs on the ingress and egress of a capture interface and passes to
// user space, through one BPF ring buffer, only the packets the detection
// needs (DNS, DHCP, ARP/NDP, TCP SYNs, each TCP flow's client first flight
// until its ClientHello or request head is complete, QUIC long-header
// Initials, and the starts, ends and a 30-second sample of flows to the
// configured mail servers). It counts packets and bytes of every TCP flow
// in an LRU map that user space reads when a flow ends, so bulk traffic never
// leaves the kernel; a full ring buffer is counted, never silent.
//
// The bpf2go output (orchard_bpfel.go and orchard_bpfel.o) is committed and
// embedded: building orchard needs no clang. `make generate` (or
// `go generate ./bpf`, which runs gen.sh with CLANG, default clang-14)
// rebuilds it; TestGeneratedIsCurrent fails when the committed files are
// stale.
//
// The package imports only cilium/ebpf, vishvananda/netlink (the clsact
// fallback for kernels without tcx) and x/sys. Errors: Load returns
// ErrNotSupported (wrapped) when the kernel lacks a feature the program
// needs, and an error wrapping os.ErrPermission (EPERM) when the process may
// not load BPF programs (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN missing); Attach
// wraps ErrNoInterface for an unknown interface name.
package bpf
