// Package metrics serves orchard run's Prometheus /metrics and /healthz.
// Counters are not updated on the packet path: a Collector reads a
// Snapshot, which the daemon assembles from the capture's and the agent's
// own counters, at scrape time.
//
// It may import prometheus/client_golang and nothing of the project. Serve
// returns the listener's error (address in use, permission) prefixed
// "metrics:".
package metrics
