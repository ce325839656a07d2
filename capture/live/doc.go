// Package live captures on network interfaces for orchard run. It owns two
// sources that implement capture.Source: AF_PACKET (TPACKET_V3 rings, a
// fanout group spreading flows over N sockets by flow hash, frames large
// enough for 64 KiB GSO/GRO frames) and the eBPF ring buffer of the bpf
// package's TC program. Open picks the mode ("auto" probes the kernel and
// says why it chose what it did), and Capture.Run drives one capture.Engine
// per socket, each on its own goroutine, merging their observations into one
// bounded channel for the single agent goroutine. The send never blocks
// capture: a full channel drops the observation and counts it.
//
// In eBPF mode the kernel counts every TCP flow's packets and bytes; when
// the engine reports a flow's end, its counts are replaced by the kernel's,
// which saw the bulk packets that never reached user space.
//
// It may import capture, capture/observe and bpf. Errors: Open returns
// *OpenError with the interface, what was being done and the capability
// that was missing (Need) when the kernel said EPERM; ErrNoInterface when an
// interface does not exist; ErrIdle is returned by the sources' ReadPacket
// when no packet came for a poll interval (not an end of input).
package live
