// Package observe defines the observations that capture hands to the rest of
// orchard: plain value types describing what one host said on the wire (a DNS
// message, a TLS or QUIC ClientHello, a TCP SYN, a DHCP request, an ARP or NDP
// binding, an mDNS announcement, an HTTP request head, a flow summary).
//
// It imports nothing of the project. Besides the types it holds the one
// computation every consumer may need from them, the Community ID.
// Observations are produced only for the rare packets that carry one, so
// they may allocate; the per-packet decode path does not. An Observation
// never aliases a packet buffer: producers copy out before emitting. Its
// slices and strings are read-only: producers may share them between
// observations (the ClientHello lists and fingerprints of one TLS stack,
// the fields of one SYN shape are cached and shared), so a consumer that
// wants to change one must copy it first.
package observe

import (
	"net/netip"
	"time"
)

// Kind says which payload of an Observation is set.
type Kind uint8

// Observation kinds. The string form is the suffix of the JSON
// event.dataset ("orchard." + Kind.String()).
const (
	KindUnknown Kind = iota
	KindTLS          // TLS ClientHello over TCP, or over QUIC (TLS.QUIC set)
	KindDNS          // DNS message (query or answer), unicast
	KindMDNS         // multicast DNS message (port 5353)
	KindTCP          // TCP SYN fingerprint
	KindDHCP         // DHCPv4 or DHCPv6 message
	KindARP          // ARP or IPv6 NDP address-to-MAC binding
	KindHTTP         // plain HTTP/1.x request head
	KindFlow         // a flow started (Flow.Reason "start"), ended or was evicted: counts
)

var kindNames = [...]string{"unknown", "tls", "dns", "mdns", "tcp", "dhcp", "arp", "http", "flow"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Transport is the L4 protocol of an observation.
type Transport uint8

const (
	TransportNone Transport = iota
	TransportTCP
	TransportUDP
	TransportICMP
)

func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	case TransportICMP:
		return "icmp"
	}
	return ""
}

// MAC is an Ethernet address. The zero value means "not seen" (no L2 header,
// e.g. raw IP captures).
type MAC [6]byte

// IsZero reports whether the address is unset.
func (m MAC) IsZero() bool { return m == MAC{} }

// LocallyAdministered reports whether the U/L bit is set: randomised
// ("private Wi-Fi address") MACs of iOS, macOS, Android and Windows have it.
func (m MAC) LocallyAdministered() bool { return m[0]&0x02 != 0 }

// Multicast reports whether the I/G bit is set.
func (m MAC) Multicast() bool { return m[0]&0x01 != 0 }

func (m MAC) String() string {
	if m.IsZero() {
		return ""
	}
	var b [17]byte
	return string(m.AppendText(b[:0]))
}

// AppendText appends the MAC as String writes it, lower-case hex with
// colons (the zero MAC too), without an allocation.
func (m MAC) AppendText(b []byte) []byte {
	const hex = "0123456789abcdef"
	var t [17]byte
	for i, v := range m {
		t[i*3] = hex[v>>4]
		t[i*3+1] = hex[v&0xf]
		if i < 5 {
			t[i*3+2] = ':'
		}
	}
	return append(b, t[:]...)
}

// Meta is what every observation carries: when, where in which file, and
// between whom.
type Meta struct {
	Time      time.Time
	Source    string // capture file name, "-" for stdin, or interface name
	Packet    uint64 // 1-based packet number in Source of the packet that completed the observation
	SrcMAC    MAC
	DstMAC    MAC
	VLAN      uint16 // outermost 802.1Q VLAN id, 0 if untagged
	Src       netip.Addr
	Dst       netip.Addr
	SrcPort   uint16
	DstPort   uint16
	Transport Transport
	// CommunityID is the Corelight Community ID v1 of the 5-tuple
	// ("1:base64"), empty for non-IP observations (ARP), and empty when
	// the producer left it to be computed on demand (capture's
	// Config.LazyCommunityID): read it through Observation.Community.
	CommunityID string
}

// Community returns the observation's Community ID: CommunityID if the
// producer set it, else computed from the 5-tuple (TCP and UDP only; ""
// for ARP and NDP bindings and other transports). It does not store what
// it computes, so concurrent readers are safe.
func (o *Observation) Community() string {
	if o.CommunityID != "" || o.Kind == KindARP {
		return o.CommunityID
	}
	var proto uint8
	switch o.Transport {
	case TransportTCP:
		proto = 6
	case TransportUDP:
		proto = 17
	default:
		return ""
	}
	return CommunityID(o.Src, o.Dst, o.SrcPort, o.DstPort, proto)
}

// Observation is one thing a host said. Exactly one payload pointer matching
// Kind is non-nil.
type Observation struct {
	Meta
	Kind Kind

	TLS  *ClientHello
	DNS  *DNSMessage // KindDNS and KindMDNS
	TCP  *TCPSyn
	DHCP *DHCP
	ARP  *ARPBinding
	HTTP *HTTPRequest
	Flow *Flow
}

// ClientHello is a TLS ClientHello seen over TCP or inside QUIC Initials, with
// its fingerprints.
type ClientHello struct {
	ServerName          string
	ALPN                []string
	Version             uint16   // legacy_version
	SupportedVersions   []uint16 // in order, GREASE included
	CipherSuites        []uint16 // in order, GREASE included
	Extensions          []uint16 // original order, GREASE included
	SupportedGroups     []uint16
	SignatureAlgorithms []uint16
	JA3                 string // MD5 hex of JA3String
	JA3String           string
	JA4                 string
	JA4R                string
	Oddities            []string // lenient-parse notes: "duplicate-extension", "sni-trailing-dot", ...
	Prologue            string   // plaintext protocol before TLS: "smtp-starttls", "imap-starttls", "pop3-stls", "http-connect", "socks4", "socks5", ""
	QUIC                *QUICInfo
}

// QUICInfo is set on ClientHellos carried in QUIC Initial packets.
type QUICInfo struct {
	Version             uint32
	DCID                []byte
	SCID                []byte
	TransportParameters []QUICTransportParameter
	Packets             int // Initial packets whose CRYPTO frames made up the ClientHello
}

// QUICTransportParameter is one quic_transport_parameters entry, value raw.
type QUICTransportParameter struct {
	ID    uint64
	Value []byte
}

// DNSMessage is a DNS or mDNS message, decoded with miekg/dns.
type DNSMessage struct {
	ID        uint16
	Response  bool
	Opcode    int
	Rcode     int
	Questions []DNSQuestion
	Answers   []DNSRecord // answer section
	Extra     []DNSRecord // authority and additional sections (mDNS announcements put records here too)
}

// DNSQuestion is one question entry. Name is lower-cased, without the final dot.
type DNSQuestion struct {
	Name  string
	Type  string // "A", "AAAA", "PTR", "HTTPS", "TYPE65534", ...
	Class uint16 // mDNS unicast-response bit removed
}

// DNSRecord is one resource record. Data is the presentation form of the
// RDATA; Addr is set for A and AAAA; TXT holds the strings of TXT records.
type DNSRecord struct {
	Name string
	Type string
	TTL  uint32
	Data string
	Addr netip.Addr
	TXT  []string
}

// TCPSyn is the fingerprint of a TCP SYN (not SYN-ACK), in the spirit of p0f.
type TCPSyn struct {
	IPVersion   uint8
	TTL         uint8 // observed
	InitialTTL  uint8 // guessed: 32, 64, 128 or 255
	IPOptionLen uint8
	MSS         uint16
	Window      uint16
	WindowScale int8   // -1 when the option is absent
	Options     string // layout, p0f-style: "mss,nop,ws,nop,nop,ts,sok,eol+1"
	Quirks      []string
	// Fingerprint is the p0f-like signature:
	// "ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass".
	Fingerprint string
	// JA4T is the FoxIO JA4T-style window_options_mss_scale string, kept
	// because public fingerprint lists use it (not a licensed JA4+ method:
	// it is the raw field list only).
	JA4T string
}

// DHCP is a DHCPv4 or DHCPv6 client or server message.
type DHCP struct {
	V6          bool
	MessageType string // "discover", "request", "ack", "solicit", ...
	ClientMAC   MAC
	ClientID    []byte     // option 61 (v4) / DUID (v6)
	RequestedIP netip.Addr // option 50
	AssignedIP  netip.Addr // yiaddr in offers/acks; IA address in v6 replies
	ServerID    netip.Addr
	LeaseTime   uint32   // seconds, 0 if absent
	Hostname    string   // option 12 (v4) / FQDN (option 81 / v6 39)
	VendorClass string   // option 60 / v6 16
	ParamList   []uint8  // option 55 (v4) / ORO (v6, as option codes truncated to 8 bits is wrong: see ParamList16)
	ParamList16 []uint16 // v6 option request option
	OptionOrder []uint16 // option codes in the order sent
	MaxMsgSize  uint16   // option 57
	Oddities    []string
}

// ARPBinding says an IP address is at a MAC, from ARP or IPv6 NDP.
type ARPBinding struct {
	Protocol string // "arp" or "ndp"
	Op       string // "request", "reply", "gratuitous", "ns", "na", "rs", "ra"
	IP       netip.Addr
	MAC      MAC
}

// HTTPRequest is a plain HTTP/1.x request head.
type HTTPRequest struct {
	Method    string
	Target    string
	Version   string
	Host      string
	UserAgent string
}

// Flow summarises one transport flow from its initiator's view when it ends
// or is evicted (Meta.Src is the initiator).
type Flow struct {
	Start       time.Time
	End         time.Time
	PacketsOut  uint64 // initiator to responder
	PacketsIn   uint64
	BytesOut    uint64 // IP bytes
	BytesIn     uint64
	SYNSeen     bool
	Established bool   // SYN-ACK seen, or UDP answered
	Reason      string // "start", "fin", "rst", "idle", "evicted", "end-of-input"
	Gaps        int    // 1 when the first flight had a hole never filled
	// Prologue is the plaintext protocol seen before TLS ("smtp-starttls",
	// "imap-starttls", "pop3-stls", "http-connect", "socks4", "socks5").
	Prologue string
	// Plaintext holds the first client command lines of a plaintext mail
	// session (EHLO name, IMAP ID, CAPA, STARTTLS), credentials redacted.
	// Message content is never kept.
	Plaintext []string
}

// Sink receives observations. The Observation itself is handed over (the
// sink may keep it); its slices stay read-only, see the package comment.
// An engine configured with capture.Config.ReuseObservations lends it
// instead: valid until Observe returns, then reused (strings and the
// record's slices excepted, which are never reused).
type Sink interface {
	Observe(*Observation)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(*Observation)

// Observe calls f(o).
func (f SinkFunc) Observe(o *Observation) { f(o) }
