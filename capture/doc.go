// Package capture turns packets into observations: what each host said that
// matters for fingerprinting (DNS messages, TLS and QUIC ClientHellos with
// JA3 and JA4, TCP SYN shapes, DHCP, ARP/NDP bindings, mDNS, HTTP request
// heads) and the start and end of the flows the agent asks for.
//
// It is for the network engineer's sensor and the analyst's offline
// analysis alike: one Engine serves the capture file reader (OpenFile,
// NewFileSource), AF_PACKET and the eBPF ring buffer (capture/live), all
// behind the Source interface, so the same traffic gives the same
// observations whichever way it arrives.
//
// An Engine is one worker. It decodes in place with gopacket's
// DecodingLayerParser (Ethernet, 802.1Q/QinQ, Linux SLL and SLL2, raw IP,
// BSD null, IPv4, IPv6 with extension headers, GRE, ERSPAN II, VXLAN,
// Geneve, GTP-U, PPPoE). The common case alone (Ethernet, up to two VLAN
// tags, IPv4 without fragmentation or IPv6 without extension headers, TCP or
// UDP) is decoded by a hand-written fast path (fastpath.go) filling the same
// gopacket layer structs: it is the hot path of every packet, and gopacket's
// per-layer dispatch cost four to five times as much (STYLE.md allows
// hand-written code on hot paths). Everything else, and anything the fast
// path is unsure of, goes to gopacket unchanged; a differential test and a
// fuzz target hold the two to the same result. The engine also keeps a
// bounded flow table (idle and LRU
// eviction), reassembles each TCP direction's first flight up to a bound
// (out of order, retransmitted and overlapping segments; STARTTLS, FTP AUTH
// TLS, HTTP CONNECT and SOCKS prologues), defragments IP, and hands payloads
// to the parsers in the subpackages (tlshello, quic, dnsmsg, tcpfp, dhcp,
// httpreq). Packets without anything to observe cost no allocation.
//
// It may import its own subpackages and gopacket; nothing of agent/. The
// parsers in the subpackages import only capture/observe.
//
// Errors: Run returns only errors of the source itself (ErrBadMagic,
// ErrUnknownLinkType, ErrTruncatedFile, read errors), always naming the file;
// what was read before is processed. Problems inside packets are never
// errors: they are counted by Reason in Stats and the first MaxMessages of
// each reason are logged with source and packet number.
package capture
