package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// handshake returns SYN, SYN-ACK, ACK for a flow with client ISN 1000 and
// server ISN 5000.
func handshake(b *pktBuilder, sport, dport uint16) [][]byte {
	return [][]byte{
		b.tcp(tcpSeg{sport: sport, dport: dport, seq: 1000, syn: true, ece: true, cwr: true}),
		b.tcp(tcpSeg{reverse: true, sport: sport, dport: dport, seq: 5000, ack: 1001, syn: true, ackf: true}),
		b.tcp(tcpSeg{sport: sport, dport: dport, seq: 1001, ack: 5001, ackf: true}),
	}
}

func TestClientHelloSplitReorderedRetransmitted(t *testing.T) {
	b := newBuilder(t)
	ch := clientHello(t, "p57-keyvalueservice.icloud.com")
	if len(ch) < 300 {
		t.Fatalf("hello too short: %d", len(ch))
	}
	third := len(ch) / 3
	seg := func(from, to int) []byte {
		return b.tcp(tcpSeg{sport: 50000, dport: 993, seq: 1001 + uint32(from), ack: 5001, ackf: true, payload: ch[from:to]})
	}
	frames := handshake(b, 50000, 993)
	frames = append(frames,
		seg(third, 2*third),   // out of order
		seg(0, third),         // first
		seg(0, third/2),       // retransmitted prefix
		seg(2*third, len(ch)), // last completes it
	)
	c, e := feed(t, frames...)
	hellos := c.kind(observe.KindTLS)
	if len(hellos) != 1 {
		t.Fatalf("got %d ClientHellos, want 1 (stats %+v)", len(hellos), e.Stats())
	}
	h := hellos[0]
	if h.TLS.ServerName != "p57-keyvalueservice.icloud.com" {
		t.Errorf("SNI %q", h.TLS.ServerName)
	}
	if h.Packet != 7 {
		t.Errorf("packet %d, want 7 (the segment that completed the hello)", h.Packet)
	}
	if h.TLS.JA4 == "" || h.TLS.JA3 == "" || h.CommunityID == "" {
		t.Errorf("missing fingerprints: %+v", h.TLS)
	}
	if got := len(c.kind(observe.KindTCP)); got != 1 {
		t.Errorf("%d SYN observations, want 1", got)
	}
	if syn := c.kind(observe.KindTCP)[0].TCP; syn.Window != 65535 || syn.WindowScale != 6 {
		t.Errorf("SYN fingerprint %+v", syn)
	}
}

func TestStartTLSPrologues(t *testing.T) {
	ch := clientHello(t, "mail.corp.example")
	cases := []struct {
		name     string
		port     uint16
		prologue []string
		want     string
	}{
		{"smtp", 587, []string{"EHLO Annas-iPhone.local\r\n", "STARTTLS\r\n"}, "smtp-starttls"},
		{"imap", 143, []string{"a1 CAPABILITY\r\n", "a2 STARTTLS\r\n"}, "imap-starttls"},
		{"pop3", 110, []string{"CAPA\r\n", "STLS\r\n"}, "pop3-stls"},
		{"connect", 3128, []string{"CONNECT mail.corp.example:443 HTTP/1.1\r\nHost: mail.corp.example:443\r\n\r\n"}, "http-connect"},
		{"socks5", 1080, []string{"\x05\x01\x00", "\x05\x01\x00\x03\x11mail.corp.example\x01\xbb"}, "socks5"},
		{"socks4", 1080, []string{"\x04\x01\x01\xbb\xc0\x00\x02\x0auser\x00"}, "socks4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(t)
			frames := handshake(b, 50001, tc.port)
			seq := uint32(1001)
			for _, p := range tc.prologue {
				frames = append(frames, b.tcp(tcpSeg{sport: 50001, dport: tc.port, seq: seq, ack: 5001, ackf: true, payload: []byte(p)}))
				seq += uint32(len(p))
			}
			frames = append(frames, b.tcp(tcpSeg{sport: 50001, dport: tc.port, seq: seq, ack: 5001, ackf: true, payload: ch}))
			c, e := feed(t, frames...)
			hs := c.kind(observe.KindTLS)
			if len(hs) != 1 {
				t.Fatalf("got %d hellos, want 1; stats %+v", len(hs), e.Stats().Skipped)
			}
			if hs[0].TLS.Prologue != tc.want {
				t.Errorf("prologue %q, want %q", hs[0].TLS.Prologue, tc.want)
			}
			flows := c.kind(observe.KindFlow)
			end := flows[len(flows)-1].Flow
			if end.Prologue != tc.want {
				t.Errorf("flow prologue %q", end.Prologue)
			}
		})
	}
}

func TestPlaintextCommandsRedacted(t *testing.T) {
	b := newBuilder(t)
	frames := handshake(b, 50002, 143)
	lines := []string{"a1 ID (\"name\" \"iPhone Mail\" \"version\" \"21A5248v\")\r\n", "a2 LOGIN anna secret\r\n"}
	seq := uint32(1001)
	for _, l := range lines {
		frames = append(frames, b.tcp(tcpSeg{sport: 50002, dport: 143, seq: seq, ack: 5001, ackf: true, payload: []byte(l)}))
		seq += uint32(len(l))
	}
	c, _ := feed(t, frames...)
	flows := c.kind(observe.KindFlow)
	plain := flows[len(flows)-1].Flow.Plaintext
	if len(plain) != 2 || !bytes.Contains([]byte(plain[0]), []byte("iPhone Mail")) {
		t.Fatalf("plaintext %q", plain)
	}
	if bytes.Contains([]byte(plain[1]), []byte("secret")) || bytes.Contains([]byte(plain[1]), []byte("anna")) {
		t.Errorf("credentials not redacted: %q", plain[1])
	}
}

func TestDNSOverTCPAndUDP(t *testing.T) {
	b := newBuilder(t)
	pack := func(name string, id uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		m.Id = id
		p, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	framed := func(p []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p...) }
	two := append(framed(pack("mesu.apple.com", 1)), framed(pack("gdmf.apple.com", 2))...)
	third := framed(pack("captive.apple.com", 3))
	frames := handshake(b, 50003, 53)
	frames = append(frames,
		b.tcp(tcpSeg{sport: 50003, dport: 53, seq: 1001, ack: 5001, ackf: true, payload: two}),
		b.tcp(tcpSeg{sport: 50003, dport: 53, seq: 1001 + uint32(len(two)), ack: 5001, ackf: true, payload: third[:7]}),
		b.tcp(tcpSeg{sport: 50003, dport: 53, seq: 1001 + uint32(len(two)) + 7, ack: 5001, ackf: true, payload: third[7:]}),
		b.udp(50004, 53, false, pack("gs.apple.com", 4)),
		b.udp(5353, 5353, false, pack("_companion-link._tcp.local", 0)),
	)
	c, _ := feed(t, frames...)
	var names []string
	for _, o := range c.kind(observe.KindDNS) {
		names = append(names, o.DNS.Questions[0].Name)
	}
	want := []string{"mesu.apple.com", "gdmf.apple.com", "captive.apple.com", "gs.apple.com"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("name %d = %q, want %q", i, names[i], want[i])
		}
	}
	if m := c.kind(observe.KindMDNS); len(m) != 1 {
		t.Errorf("%d mDNS observations, want 1", len(m))
	}
}

func TestHTTPRequest(t *testing.T) {
	b := newBuilder(t)
	frames := handshake(b, 50005, 80)
	req := "GET /hotspot-detect.html HTTP/1.0\r\nHost: captive.apple.com\r\nUser-Agent: CaptiveNetworkSupport-481.0.1 wispr\r\n\r\n"
	frames = append(frames, b.tcp(tcpSeg{sport: 50005, dport: 80, seq: 1001, ack: 5001, ackf: true, payload: []byte(req)}))
	c, _ := feed(t, frames...)
	hs := c.kind(observe.KindHTTP)
	if len(hs) != 1 || hs[0].HTTP.Host != "captive.apple.com" || hs[0].HTTP.UserAgent != "CaptiveNetworkSupport-481.0.1 wispr" {
		t.Fatalf("http %+v", hs)
	}
}

func TestFlowCountsAndEnd(t *testing.T) {
	b := newBuilder(t)
	frames := handshake(b, 50006, 993)
	bulk := bytes.Repeat([]byte{0x17}, 1400)
	frames = append(frames,
		b.tcp(tcpSeg{reverse: true, sport: 50006, dport: 993, seq: 5001, ack: 1001, ackf: true, payload: bulk}),
		b.tcp(tcpSeg{sport: 50006, dport: 993, seq: 1001, ack: 6401, ackf: true, fin: true}),
		b.tcp(tcpSeg{reverse: true, sport: 50006, dport: 993, seq: 6401, ack: 1002, ackf: true, fin: true}),
	)
	c, _ := feed(t, frames...)
	flows := c.kind(observe.KindFlow)
	if len(flows) != 2 || flows[0].Flow.Reason != "start" || flows[1].Flow.Reason != "fin" {
		t.Fatalf("flows %d %+v", len(flows), flows)
	}
	f := flows[1]
	if f.SrcPort != 50006 || f.DstPort != 993 || f.Flow.PacketsOut != 3 || f.Flow.PacketsIn != 3 || !f.Flow.Established {
		t.Errorf("flow %+v %+v", f.Meta, f.Flow)
	}
	if f.Flow.BytesIn < 1400 {
		t.Errorf("bytes in %d", f.Flow.BytesIn)
	}
}

func TestFlowTableBounded(t *testing.T) {
	c := &collect{}
	e := NewEngine(Config{MaxFlows: 8}, c)
	b := newBuilder(t)
	ts := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 20; i++ {
		f := b.tcp(tcpSeg{sport: uint16(40000 + i), dport: 443, seq: 1, syn: true})
		e.Packet(f, PacketInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)}, layers.LinkTypeEthernet)
	}
	s := e.Stats()
	if s.ActiveFlows != 8 || s.Skipped[ReasonFlowEvicted] != 12 {
		t.Fatalf("active %d evicted %d", s.ActiveFlows, s.Skipped[ReasonFlowEvicted])
	}
	// Idle flows end when time moves on.
	f := b.tcp(tcpSeg{sport: 1, dport: 443, seq: 1, syn: true})
	e.Packet(f, PacketInfo{Timestamp: ts.Add(10 * time.Minute), CaptureLength: len(f), Length: len(f)}, layers.LinkTypeEthernet)
	if got := e.Stats().ActiveFlows; got > 5 {
		t.Errorf("idle flows not expired: %d active", got)
	}
}

func TestBulkPathDoesNotAllocate(t *testing.T) {
	b := newBuilder(t)
	c := &collect{}
	e := NewEngine(Config{}, c)
	frames := handshake(b, 50007, 443)
	bulk := b.tcp(tcpSeg{reverse: true, sport: 50007, dport: 443, seq: 5001, ack: 1001, ackf: true, payload: bytes.Repeat([]byte{0x17}, 1400)})
	up := b.tcp(tcpSeg{sport: 50007, dport: 443, seq: 1001, ack: 5001, ackf: true, payload: []byte{0x17, 3, 3, 0, 1, 0}})
	ts := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for _, f := range append(frames, up) {
		e.Packet(f, PacketInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)}, layers.LinkTypeEthernet)
	}
	info := PacketInfo{Timestamp: ts, CaptureLength: len(bulk), Length: len(bulk)}
	allocs := testing.AllocsPerRun(1000, func() {
		e.Packet(bulk, info, layers.LinkTypeEthernet)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per bulk packet, want 0", allocs)
	}
}

func TestLinkTypes(t *testing.T) {
	ch := clientHello(t, "gateway.icloud.com")
	b := newBuilder(t)
	eth := b.tcp(tcpSeg{sport: 50008, dport: 443, seq: 1, ackf: true, payload: ch})
	ipPart := eth[14:]
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, ipPart...)
	sll2 := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ipPart...)
	null := append([]byte{2, 0, 0, 0}, ipPart...)
	qinq := append(append(append([]byte{}, eth[:12]...), 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00), ipPart...)
	cases := []struct {
		name string
		lt   layers.LinkType
		data []byte
	}{
		{"ethernet", layers.LinkTypeEthernet, eth},
		{"raw", layers.LinkTypeRaw, ipPart},
		{"ipv4", layers.LinkTypeIPv4, ipPart},
		{"sll", layers.LinkTypeLinuxSLL, sll},
		{"sll2", layers.LinkTypeLinuxSLL2, sll2},
		{"null", layers.LinkTypeNull, null},
		{"qinq", layers.LinkTypeEthernet, qinq},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &collect{}
			e := NewEngine(Config{}, c)
			e.Packet(tc.data, PacketInfo{Timestamp: b.ts, CaptureLength: len(tc.data), Length: len(tc.data)}, tc.lt)
			hs := c.kind(observe.KindTLS)
			if len(hs) != 1 || hs[0].TLS.ServerName != "gateway.icloud.com" {
				t.Fatalf("hellos %d, skipped %v", len(hs), e.Stats().Skipped)
			}
			if tc.name == "qinq" && hs[0].VLAN != 10 {
				t.Errorf("vlan %d, want outer 10", hs[0].VLAN)
			}
		})
	}
}

func TestMalformedCountedNotFatal(t *testing.T) {
	b := newBuilder(t)
	bad := []byte{0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0xff, 0xff}
	frames := [][]byte{
		b.tcp(tcpSeg{sport: 50009, dport: 443, seq: 1, ackf: true, payload: bad}),
		b.udp(50010, 53, false, []byte{1, 2, 3}),
		{0x00, 0x01},
	}
	_, e := feed(t, frames...)
	s := e.Stats()
	if s.Skipped[ReasonMalformedTLS] != 1 || s.Skipped[ReasonMalformedDNS] != 1 || s.Skipped[ReasonDecode]+s.Skipped[ReasonNonIP] != 1 {
		t.Fatalf("skips %v", s.Skipped)
	}
}

// TestFlowEvictionLeastRecentlySeen: under pressure the flow evicted is the
// one seen least recently, to within lruGrain: a flow seen again a second
// later survives newer flows that went quiet, one seen again within the
// grain is not reordered.
func TestFlowEvictionLeastRecentlySeen(t *testing.T) {
	c := &collect{}
	e := NewEngine(Config{MaxFlows: 4}, c)
	b := newBuilder(t)
	ts := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	send := func(port uint16, at time.Duration) {
		f := b.tcp(tcpSeg{sport: port, dport: 443, seq: 1, syn: true})
		e.Packet(f, PacketInfo{Timestamp: ts.Add(at), CaptureLength: len(f), Length: len(f)}, layers.LinkTypeEthernet)
	}
	for i := 0; i < 4; i++ {
		send(uint16(40000+i), time.Duration(i)*time.Millisecond) // 40000 is the oldest
	}
	send(40002, 500*time.Millisecond)  // within the grain of its start: not moved
	send(40000, 1100*time.Millisecond) // seen again after the grain: now the newest
	send(40001, 1101*time.Millisecond) // also after the grain: newest
	// A fifth flow evicts the tail: 40002, whose last packet (0.5 s) is
	// newer than 40003's (3 ms) but within the grain of its last move.
	send(50000, 1200*time.Millisecond)
	var ended []uint16
	for _, o := range c.kind(observe.KindFlow) {
		if o.Flow.Reason == "evicted" {
			ended = append(ended, o.SrcPort)
		}
	}
	if len(ended) != 1 || ended[0] != 40002 {
		t.Fatalf("evicted %v, want [40002]", ended)
	}
}
