package dnsmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// pack builds wire bytes with miekg/dns, for hand-made test messages.
func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sampleResponse(t testing.TB) []byte {
	m := new(dns.Msg)
	m.Id = 0xbeef
	m.Response = true
	m.Rcode = dns.RcodeSuccess
	m.Question = []dns.Question{{Name: "WWW.Apple.COM.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	m.Answer = []dns.RR{
		rr(t, "www.apple.com. 300 IN CNAME WWW.Apple.com.EdgeKey.NET."),
		rr(t, "www.apple.com.edgekey.net. 60 IN A 17.253.144.10"),
		rr(t, "www.apple.com.edgekey.net. 60 IN AAAA 2a01:b740:a42::1"),
		rr(t, `info.local. 120 IN TXT "model=iMac17,1" "osxvers=17"`),
		rr(t, "_imaps._tcp.Example.com. 60 IN SRV 0 1 993 Mail.Example.COM."),
		rr(t, "x.example. 60 IN TYPE65534 \\# 2 abcd"),
	}
	m.Extra = []dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}}
	return pack(t, m)
}

func TestParseResponse(t *testing.T) {
	var p Parser
	m, err := p.Parse(sampleResponse(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 0xbeef || !m.Response {
		t.Errorf("header: id %#x response %v", m.ID, m.Response)
	}
	if len(m.Questions) != 1 || m.Questions[0].Name != "www.apple.com" || m.Questions[0].Type != "A" || m.Questions[0].Class != 1 {
		t.Fatalf("question: %+v", m.Questions)
	}
	want := []struct{ name, typ, data string }{
		{"www.apple.com", "CNAME", "www.apple.com.edgekey.net"},
		{"www.apple.com.edgekey.net", "A", "17.253.144.10"},
		{"www.apple.com.edgekey.net", "AAAA", "2a01:b740:a42::1"},
		{"info.local", "TXT", `"model=iMac17,1" "osxvers=17"`},
		{"_imaps._tcp.example.com", "SRV", "0 1 993 mail.example.com"},
		{"x.example", "TYPE65534", `\# 2 abcd`},
	}
	if len(m.Answers) != len(want) {
		t.Fatalf("answers: %d, want %d: %+v", len(m.Answers), len(want), m.Answers)
	}
	for i, w := range want {
		a := m.Answers[i]
		if a.Name != w.name || a.Type != w.typ || a.Data != w.data {
			t.Errorf("answer %d: %q %q %q, want %q %q %q", i, a.Name, a.Type, a.Data, w.name, w.typ, w.data)
		}
	}
	if m.Answers[1].Addr != netip.MustParseAddr("17.253.144.10") || m.Answers[2].Addr != netip.MustParseAddr("2a01:b740:a42::1") {
		t.Errorf("addrs: %v %v", m.Answers[1].Addr, m.Answers[2].Addr)
	}
	if !slices.Equal(m.Answers[3].TXT, []string{"model=iMac17,1", "osxvers=17"}) {
		t.Errorf("txt: %q", m.Answers[3].TXT)
	}
	if m.Answers[0].TTL != 300 {
		t.Errorf("ttl %d", m.Answers[0].TTL)
	}
	if len(m.Extra) != 1 || m.Extra[0].Type != "OPT" || m.Extra[0].Name != "" || m.Extra[0].Data != "udp=1232" {
		t.Errorf("extra: %+v", m.Extra)
	}
}

func TestMDNSClassBits(t *testing.T) {
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: "_companion-link._tcp.local.", Qtype: dns.TypePTR, Qclass: 0x8001}}
	m.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: "_companion-link._tcp.local.", Rrtype: dns.TypePTR, Class: 0x8001, Ttl: 4500},
		Ptr: "John\\226\\128\\153s\\ iMac._companion-link._tcp.local."}}
	b := pack(t, m)
	var p Parser
	got, err := p.Parse(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Questions[0].Class != 1 {
		t.Errorf("mDNS class %#x, want QU bit removed", got.Questions[0].Class)
	}
	if got.Answers[0].Data != "john’s imac._companion-link._tcp.local" {
		t.Errorf("ptr %q", got.Answers[0].Data)
	}
	// As unicast DNS the bit is part of the class and is kept.
	got, err = p.Parse(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Questions[0].Class != 0x8001 {
		t.Errorf("unicast class %#x", got.Questions[0].Class)
	}
}

func TestNameEscapes(t *testing.T) {
	cases := []struct{ wire, want string }{
		{"Example.COM.", "example.com"},
		{".", ""},
		{"a\\.b.example.", `a\.b.example`},                         // dot inside a label stays escaped
		{"caf\\195\\169.example.", "café.example"},                 // valid UTF-8 kept
		{"x\\255y.example.", `x\255y.example`},                     // invalid UTF-8: miekg escape
		{"Ctl\\007.example.", `ctl\007.example`},                   // control byte: miekg escape, lower-cased
		{"sp\\ ace.Local.", "sp ace.local"},                        // printable: unescaped like tshark
		{"\\226\\128\\174rtl.example.", `\226\128\174rtl.example`}, // U+202E is a format char, not printable
	}
	var p Parser
	for _, c := range cases {
		m := new(dns.Msg)
		m.Question = []dns.Question{{Name: c.wire, Qtype: dns.TypeA, Qclass: dns.ClassINET}}
		got, err := p.Parse(pack(t, m), false)
		if err != nil {
			t.Fatalf("%s: %v", c.wire, err)
		}
		if got.Questions[0].Name != c.want {
			t.Errorf("%s: %q, want %q", c.wire, got.Questions[0].Name, c.want)
		}
	}
}

func TestTXTStrings(t *testing.T) {
	m := new(dns.Msg)
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: 1},
		Txt: []string{"name=John\\226\\128\\153s iMac", "q=\\\"x\\\"", "bin=\\255\\000", "Model=Mac14,2"}}}
	var p Parser
	got, err := p.Parse(pack(t, m), true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"name=John’s iMac", `q="x"`, `bin=\255\000`, "Model=Mac14,2"}
	if !slices.Equal(got.Answers[0].TXT, want) {
		t.Errorf("txt %q, want %q", got.Answers[0].TXT, want)
	}
}

func TestErrors(t *testing.T) {
	var p Parser
	if m, err := p.Parse([]byte{1, 2, 3}, false); !errors.Is(err, ErrTruncated) || m != nil {
		t.Errorf("short header: %v %v", m, err)
	}
	// A compression pointer to itself is a loop, not a truncation.
	loop := []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}
	m, err := p.Parse(loop, false)
	if !errors.Is(err, ErrMalformed) || m == nil {
		t.Errorf("pointer loop: %v %v", m, err)
	}
	// Two questions promised, one present: a cut capture.
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	b := pack(t, q)
	b[5] = 2
	m, err = p.Parse(b, false)
	if !errors.Is(err, ErrTruncated) || m == nil || len(m.Questions) != 1 || m.Questions[0].Name != "a.example" {
		t.Errorf("short count: %+v %v", m, err)
	}
}

// TestNoStaleSections checks a failed parse does not report records of the
// previous message (miekg leaves sections in place when it fails early).
func TestNoStaleSections(t *testing.T) {
	var p Parser
	if _, err := p.Parse(sampleResponse(t), false); err != nil {
		t.Fatal(err)
	}
	bad := []byte{0, 1, 0x81, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12}
	m, err := p.Parse(bad, false)
	if err == nil {
		t.Fatal("want error")
	}
	if m != nil && (len(m.Answers) != 0 || len(m.Extra) != 0) {
		t.Errorf("stale records: %+v", m)
	}
}

func TestMDNSSuricataExpectations(t *testing.T) {
	path := mdnsCapture(t)
	var p Parser
	seen := 0
	for _, pl := range readL4(t, path) {
		if pl.tcp || pl.dstPort != 5353 {
			continue
		}
		m, err := p.Parse(pl.payload, true)
		if err != nil {
			t.Fatalf("frame %d: %v", pl.frame, err)
		}
		switch pl.frame {
		case 6: // suricata-verify mdns test.yaml, pcap_cnt 6
			seen++
			if !m.Response || len(m.Answers) < 2 {
				t.Fatalf("frame 6: %+v", m)
			}
			a0, a1 := m.Answers[0], m.Answers[1]
			if a0.Name != "john’s imac._device-info._tcp.local" || !slices.Equal(a0.TXT, []string{"model=iMac17,1", "osxvers=17"}) {
				t.Errorf("frame 6 answer 0: %q %q", a0.Name, a0.TXT)
			}
			if a1.Name != "_companion-link._tcp.local" || a1.Type != "PTR" || a1.Data != "john’s imac._companion-link._tcp.local" {
				t.Errorf("frame 6 answer 1: %+v", a1)
			}
		case 11:
			seen++
			var names []string
			for _, q := range m.Questions {
				if q.Type != "PTR" || q.Class != 1 {
					t.Errorf("frame 11 question %+v", q)
				}
				names = append(names, q.Name)
			}
			want := []string{"_apple-mobdev._tcp.local", "92e80812._sub._apple-mobdev2._tcp.local", "_apple-pairable._tcp.local"}
			if !slices.Equal(names, want) {
				t.Errorf("frame 11 questions %q, want %q", names, want)
			}
		}
	}
	if seen != 2 {
		t.Errorf("saw %d of the 2 expected mDNS messages", seen)
	}
}

func TestNextTCP(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	m1 := pack(t, q)
	q.SetQuestion("bb.example.", dns.TypeAAAA)
	m2 := pack(t, q)
	var stream []byte
	for _, m := range [][]byte{m1, m2} {
		stream = append(stream, byte(len(m)>>8), byte(len(m)))
		stream = append(stream, m...)
	}
	stream = append(stream, 0, 40, 1, 2, 3) // a third message, incomplete
	msgs, rest := SplitTCP(stream)
	if len(msgs) != 2 || !bytes.Equal(msgs[0], m1) || !bytes.Equal(msgs[1], m2) {
		t.Fatalf("msgs %d", len(msgs))
	}
	if !bytes.Equal(rest, []byte{0, 40, 1, 2, 3}) {
		t.Errorf("rest %v", rest)
	}
	// Every split point of the stream: complete messages come out once the
	// bytes are there, never before, never twice.
	for cut := range len(stream) {
		var got int
		buf := append([]byte(nil), stream[:cut]...)
		for {
			_, r, ok := NextTCP(buf)
			if !ok {
				break
			}
			got++
			buf = r
		}
		buf = append(buf, stream[cut:]...)
		for {
			_, r, ok := NextTCP(buf)
			if !ok {
				break
			}
			got++
			buf = r
		}
		if got != 2 || len(buf) != 5 {
			t.Fatalf("cut %d: %d messages, %d left", cut, got, len(buf))
		}
	}
	if _, r, ok := NextTCP([]byte{0}); ok || len(r) != 1 {
		t.Error("one byte must not yield a message")
	}
	if msg, _, ok := NextTCP([]byte{0, 0, 9}); !ok || len(msg) != 0 {
		t.Error("zero-length prefix yields an empty message")
	}
}

// TestPrefixes checks every truncated prefix of valid messages fails
// cleanly with ErrTruncated or ErrMalformed.
func TestPrefixes(t *testing.T) {
	var p Parser
	q := new(dns.Msg)
	q.SetQuestion("www.icloud.com.", dns.TypeHTTPS)
	q.SetEdns0(1232, true)
	for _, full := range [][]byte{sampleResponse(t), pack(t, q)} {
		if _, err := p.Parse(full, false); err != nil {
			t.Fatal(err)
		}
		for n := range len(full) {
			_, err := p.Parse(full[:n], false)
			if err == nil {
				t.Fatalf("prefix %d of %d parsed without error", n, len(full))
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("prefix %d: unnamed error %v", n, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sampleResponse(f), false)
	q := new(dns.Msg)
	q.SetQuestion("_apple-mobdev._tcp.local.", dns.TypePTR)
	f.Add(pack(f, q), true)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, false)
	f.Fuzz(func(t *testing.T, b []byte, mdns bool) {
		var p Parser
		m, err := p.Parse(b, mdns)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unnamed error %v", err)
		}
		if m != nil {
			for _, r := range append(m.Answers, m.Extra...) {
				if (r.Type == "A" || r.Type == "AAAA") && r.Addr.IsValid() && r.Data != r.Addr.String() {
					t.Fatalf("addr %v data %q", r.Addr, r.Data)
				}
			}
		}
	})
}

func FuzzNextTCP(f *testing.F) {
	f.Add([]byte{0, 3, 1, 2, 3, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		rest := b
		for {
			m, r, ok := NextTCP(rest)
			if !ok {
				break
			}
			total += 2 + len(m)
			rest = r
		}
		if total+len(rest) != len(b) {
			t.Fatalf("lost bytes: %d + %d != %d", total, len(rest), len(b))
		}
	})
}

func BenchmarkParseQuery(b *testing.B) {
	q := new(dns.Msg)
	q.SetQuestion("gateway.icloud.com.", dns.TypeA)
	buf := pack(b, q)
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.Parse(buf, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := sampleResponse(b)
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.Parse(buf, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNextTCP(b *testing.B) {
	stream := make([]byte, 0, 1024)
	for range 8 {
		stream = append(stream, 0, 30)
		stream = append(stream, make([]byte, 30)...)
	}
	b.ReportAllocs()
	for b.Loop() {
		rest := stream
		for {
			_, r, ok := NextTCP(rest)
			if !ok {
				break
			}
			rest = r
		}
	}
}
