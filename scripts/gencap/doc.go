// Package gencap generates deterministic, labelled packet captures that model
// how real devices behave on an office LAN: iPhones, iPads and Macs (DHCP with
// Apple's option list, ECN-setting SYNs, background DNS names, Apple-like TLS
// ClientHellos built by uTLS, mDNS announcements, Private Relay QUIC
// Initials), Windows 11 PCs (some running iCloud for Windows or browsing
// apple.com), Android phones and Linux desktops, plus the organisation's work
// mail server reached over IMAPS, IMAP+STARTTLS, submission+STARTTLS and
// HTTPS (ActiveSync).
//
// It exists so orchard's tests, benchmarks and demo have realistic traffic
// with known ground truth. It models device behaviour from public knowledge;
// it must not import orchard's signatures/ (that would make tests circular),
// nor agent/ or capture/.
//
// Captures: Office (a labelled office day, ≥50 hosts), Bench (a large office
// or handshake-heavy mix for throughput benchmarks), Flood (one SYN from each
// of n distinct sources, then a normal session) and Sample (a small office
// morning for the demo). Every function takes an explicit seed; the same seed
// always yields the same bytes. Packets are built by hand (Ethernet, IPv4,
// IPv6, TCP, UDP, ICMPv6, ARP) with correct checksums and written with
// gopacket's pcapgo writer.
//
// Errors: the capture functions return an error only when writing to the
// io.Writer fails or an option is out of range (ErrOption); TLS ClientHello
// construction errors from uTLS are wrapped with the profile that failed.
//
// May import: the standard library, gopacket (pcapgo, layers), miekg/dns,
// refraction-networking/utls. Nothing of orchard.
package gencap
