package mail

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/capture/observe"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func matcher(t *testing.T) *Matcher {
	t.Helper()
	c, err := config.Parse("t.yaml", []byte(`
mail:
  presets: [microsoft365]
  servers:
    - name: corp
      names: [mail.corp.example, "*.mail.corp.example"]
      addresses: [192.0.2.10, 198.51.100.0/28]
      protocols: [imap, imaps, submission, https]
`))
	if err != nil {
		t.Fatal(err)
	}
	return NewMatcher(c.Mail.Servers)
}

func flow(dst string, port uint16, reason string, sec int) *observe.Observation {
	return &observe.Observation{Kind: observe.KindFlow,
		Meta: observe.Meta{Time: t0.Add(time.Duration(sec) * time.Second), Src: netip.MustParseAddr("192.168.1.20"), SrcPort: 50000 + port,
			Dst: netip.MustParseAddr(dst), DstPort: port, Transport: observe.TransportTCP, CommunityID: "1:" + dst},
		Flow: &observe.Flow{Reason: reason, PacketsOut: 10, PacketsIn: 12, BytesOut: 1000, BytesIn: 5000, End: t0.Add(time.Duration(sec) * time.Second)}}
}

func TestAddressAndPort(t *testing.T) {
	m := matcher(t)
	var st HostState
	if u := m.Observe(&st, flow("192.0.2.10", 80, "start", 0)); u.Access != nil {
		t.Error("port 80 is no configured protocol")
	}
	if u := m.Observe(&st, flow("192.0.2.11", 993, "start", 0)); u.Access != nil {
		t.Error("address outside the server matched")
	}
	u := m.Observe(&st, flow("198.51.100.7", 993, "start", 1))
	if u.Access == nil || !u.NewFlow || u.Access.Server != "corp" || u.Access.Protocol != "imaps" || u.Access.Method != MethodAddress {
		t.Fatalf("imaps to CIDR: %+v", u)
	}
	end := flow("198.51.100.7", 993, "fin", 30)
	u = m.Observe(&st, end)
	if u.NewFlow || u.Access.Flows != 1 || u.Access.Packets != 22 || u.Access.Bytes != 6000 || !u.Access.LastSeen.Equal(end.Time) {
		t.Errorf("after end: %+v", u.Access)
	}
	// A flow whose start was never seen (capture began mid-flow) counts once.
	u = m.Observe(&st, flow("192.0.2.10", 587, "end-of-input", 40))
	if !u.NewFlow || u.Access.Flows != 2 || u.Access.Bytes != 12000 || len(u.Access.Protocols) != 2 {
		t.Errorf("end without start: %+v", u.Access)
	}
	// Microsoft 365 by address.
	if u := m.Observe(&st, flow("52.97.10.1", 443, "start", 50)); u.Access == nil || u.Access.Server != "microsoft365-exchange-online" {
		t.Errorf("m365 address: %+v", u.Access)
	}
	if len(st.Accesses) != 2 {
		t.Errorf("accesses %d", len(st.Accesses))
	}
}

func TestSNIAndStartTLS(t *testing.T) {
	m := matcher(t)
	var st HostState
	// Shared front end: the address says nothing, the SNI does.
	start := flow("203.0.113.50", 443, "start", 0)
	if u := m.Observe(&st, start); u.Access != nil {
		t.Fatal("unknown address matched")
	}
	hello := &observe.Observation{Kind: observe.KindTLS, Meta: start.Meta, TLS: &observe.ClientHello{ServerName: "EAS.Mail.Corp.Example."}}
	u := m.Observe(&st, hello)
	if u.Access == nil || u.Access.Method != MethodSNI || u.Access.Protocol != "https" || u.Access.Flows != 1 {
		t.Fatalf("sni: %+v", u.Access)
	}
	if u := m.Observe(&st, flow("203.0.113.50", 443, "fin", 9)); u.Access == nil || u.Access.Packets != 22 || u.NewFlow {
		t.Errorf("end of SNI flow not counted: %+v", u)
	}
	// A bare "*.suffix" does not match the suffix itself, nor lookalikes.
	for _, n := range []string{"mail.corp.example.evil", "xmail.corp.example"} {
		if m.nameServer(n) >= 0 {
			t.Errorf("%s matched", n)
		}
	}
	// STARTTLS on submission.
	st2 := HostState{}
	sub := flow("192.0.2.10", 587, "start", 0)
	m.Observe(&st2, sub)
	h := &observe.Observation{Kind: observe.KindTLS, Meta: sub.Meta, TLS: &observe.ClientHello{ServerName: "mail.corp.example", Prologue: "smtp-starttls"}}
	end := flow("192.0.2.10", 587, "fin", 5)
	end.Flow.Plaintext = []string{"EHLO annas-iphone.local", "STARTTLS"}
	m.Observe(&st2, h)
	u = m.Observe(&st2, end)
	if !u.Access.StartTLS || len(u.Access.Details) != 2 || u.Access.Flows != 1 {
		t.Errorf("starttls: %+v", u.Access)
	}
	// SNI on a port the server does not serve is not mail access.
	st3 := HostState{}
	o := flow("203.0.113.50", 8443, "start", 0)
	if u := m.Observe(&st3, &observe.Observation{Kind: observe.KindTLS, Meta: o.Meta, TLS: &observe.ClientHello{ServerName: "mail.corp.example"}}); u.Access != nil {
		t.Error("port 8443 matched")
	}
}

func TestDNSAnswer(t *testing.T) {
	m := matcher(t)
	var st HostState
	front := netip.MustParseAddr("203.0.113.80")
	ans := &observe.Observation{Kind: observe.KindDNS, Meta: observe.Meta{Time: t0},
		DNS: &observe.DNSMessage{Response: true, Questions: []observe.DNSQuestion{{Name: "outlook.office365.com", Type: "A"}},
			Answers: []observe.DNSRecord{
				{Name: "outlook.office365.com", Type: "CNAME", TTL: 30, Data: "outlook.ha.office365.com."},
				{Name: "outlook.ha.office365.com", Type: "A", TTL: 10, Addr: front},
			}}}
	m.Observe(&st, ans)
	u := m.Observe(&st, flow("203.0.113.80", 993, "start", 60))
	if u.Access == nil || u.Access.Method != MethodDNS || u.Access.Name != "outlook.office365.com" || u.Access.Protocol != "imaps" {
		t.Fatalf("dns: %+v", u.Access)
	}
	// The binding expires (TTL 10s, floor DNSMinTTL).
	var st2 HostState
	m.Observe(&st2, ans)
	if u := m.Observe(&st2, flow("203.0.113.80", 993, "start", int(DNSMinTTL/time.Second)+1)); u.Access != nil {
		t.Error("expired DNS answer matched")
	}
	// An answer the host did not receive binds nothing for it.
	var other HostState
	if u := m.Observe(&other, flow("203.0.113.80", 993, "start", 60)); u.Access != nil {
		t.Error("another host's DNS answer matched")
	}
}

func TestBoundedState(t *testing.T) {
	m := matcher(t)
	var st HostState
	for i := 0; i < 1000; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		m.Observe(&st, &observe.Observation{Kind: observe.KindDNS, Meta: observe.Meta{Time: t0},
			DNS: &observe.DNSMessage{Response: true, Questions: []observe.DNSQuestion{{Name: "mail.corp.example"}},
				Answers: []observe.DNSRecord{{Name: "mail.corp.example", Type: "A", TTL: 300, Addr: a}}}})
		o := flow("192.0.2.10", 993, "start", i)
		o.SrcPort = uint16(i)
		m.Observe(&st, o)
	}
	if len(st.dns) > maxDNS || len(st.open) > maxOpen || st.Accesses[0].Flows != 1000 {
		t.Errorf("dns %d open %d flows %d", len(st.dns), len(st.open), st.Accesses[0].Flows)
	}
}

// TestNameServerOrder: a name belongs to the first server that has it,
// exactly or under a wildcard, whatever later servers say; names match
// case-insensitively and without the root dot.
func TestNameServerOrder(t *testing.T) {
	m := NewMatcher([]config.MailServer{
		{Name: "a", Names: []string{"*.example.com"}, Protocols: []config.Protocol{{Name: "https", Port: 443}}},
		{Name: "b", Names: []string{"mail.example.com", "imap.example.org"}, Protocols: []config.Protocol{{Name: "imaps", Port: 993}}},
		{Name: "c", Names: []string{"imap.example.org", "*.example.net"}, Protocols: []config.Protocol{{Name: "imaps", Port: 993}}},
	})
	for name, want := range map[string]int{
		"mail.example.com": 0, "Mail.Example.COM.": 0, "imap.example.org": 1, "IMAP.example.org.": 1,
		"x.example.net": 2, "example.net": -1, "example.com": -1, "other.test": -1,
		"X.EXAMPLE.NET.": 2, "mail.example.com.evil": -1, "com": -1, "": -1,
		// One root dot only, whatever the case (upper case once matched).
		"mail.example.com..": -1, "MAIL.EXAMPLE.COM..": -1,
	} {
		if got := m.nameServer(name); got != want {
			t.Errorf("nameServer(%q) = %d, want %d", name, got, want)
		}
	}
	single := NewMatcher([]config.MailServer{{Name: "s", Names: []string{"mailhost"}, Protocols: []config.Protocol{{Name: "imaps", Port: 993}}}})
	if single.nameServer("MAILHOST") != 0 || single.nameServer("mailhost.") != 0 || single.nameServer("x.mailhost") != -1 {
		t.Error("single-label name")
	}
	if none := NewMatcher([]config.MailServer{{Name: "n", Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}}}); none.nameServer("mail.example.com") != -1 {
		t.Error("a matcher without names matched a name")
	}
	// Only ports some server speaks on can be mail; QUIC only for https.
	if !m.mailPort(993, observe.TransportTCP) || !m.mailPort(443, observe.TransportUDP) || m.mailPort(993, observe.TransportUDP) || m.mailPort(80, observe.TransportTCP) {
		t.Error("mailPort")
	}
	edges := NewMatcher([]config.MailServer{{Name: "e", Names: []string{"x.example"}, Protocols: []config.Protocol{
		{Name: "imaps", Port: 63}, {Name: "imaps", Port: 64}, {Name: "https", Port: 65535}}}})
	for _, c := range []struct {
		port uint16
		tr   observe.Transport
		want bool
	}{
		{63, observe.TransportTCP, true}, {64, observe.TransportTCP, true}, {65535, observe.TransportTCP, true},
		{65535, observe.TransportUDP, true}, {64, observe.TransportUDP, false}, {0, observe.TransportTCP, false},
		{62, observe.TransportTCP, false}, {65, observe.TransportTCP, false}, {65534, observe.TransportTCP, false},
		{63, observe.TransportNone, false},
	} {
		if got := edges.mailPort(c.port, c.tr); got != c.want {
			t.Errorf("mailPort(%d, %v) = %v", c.port, c.tr, got)
		}
	}
}

// TestNameServerTailFilter: the tail filter rejects no name the full lookup
// accepts. Each configuration's names and wildcard suffixes are varied (case,
// root dot, labels added or cut, bytes changed near the end, non-ASCII
// letters that lower-case to ASCII, random strings) and looked up with the
// filter and without it.
func TestNameServerTailFilter(t *testing.T) {
	var configs [][]config.MailServer
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	configs = append(configs, def.Mail.Servers)
	for _, p := range config.Presets() {
		c, err := config.Parse("p.yaml", []byte("sensor: s\nmail:\n  presets: ["+p+"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, c.Mail.Servers)
	}
	https := []config.Protocol{{Name: "https", Port: 443}}
	configs = append(configs,
		[]config.MailServer{{Name: "short", Names: []string{"mx", "*.io", "Mail.Example.ORG."}, Protocols: https}},
		[]config.MailServer{{Name: "one", Names: []string{"a"}, Protocols: https}, {Name: "two", Names: []string{"*.b"}, Protocols: https}},
		[]config.MailServer{{Name: "idn", Names: []string{"*.bücher.example", "post.ß.example"}, Protocols: https}},
	)
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@`{~"
	vary := func(n string) string {
		b := []byte(n)
		switch r.IntN(8) {
		case 0: // flip the case of some letters
			for i := range b {
				if r.IntN(2) == 0 && (b[i]|0x20 >= 'a' && b[i]|0x20 <= 'z') {
					b[i] ^= 0x20
				}
			}
		case 1:
			b = append(b, '.')
		case 2:
			b = append([]byte("x"+string(alphabet[r.IntN(26)])+"."), b...)
		case 3:
			if len(b) > 0 {
				b = b[r.IntN(len(b)):]
			}
		case 4:
			if len(b) > 0 {
				b[len(b)-1-r.IntN(min(len(b), 8))] = alphabet[r.IntN(len(alphabet))]
			}
		case 5: // Kelvin sign and dotted capital I lower-case by Unicode rules
			s := strings.Replace(string(b), "k", "\u212a", 1)
			b = []byte(strings.Replace(s, "i", "\u0130", 1))
		case 6:
			b = b[:0]
			for range r.IntN(12) {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
		case 7:
			b = []byte(strings.ToUpper(string(b)))
		}
		return string(b)
	}
	for ci, servers := range configs {
		m := NewMatcher(servers)
		ref := NewMatcher(servers)
		ref.tailLen = 0
		var names []string
		for _, s := range servers {
			for _, n := range s.Names {
				names = append(names, n, strings.Replace(n, "*.", "host.", 1), strings.TrimPrefix(n, "*"))
			}
		}
		hits := 0
		for range 20000 {
			n := names[r.IntN(len(names))]
			for range 1 + r.IntN(3) {
				n = vary(n)
			}
			want := ref.nameServer(n)
			if got := m.nameServer(n); got != want {
				t.Fatalf("config %d (tails %d bytes): nameServer(%q) = %d with the filter, %d without", ci, m.tailLen, n, got, want)
			}
			if want >= 0 {
				hits++
			}
		}
		if m.tailLen == 0 || hits < 2000 {
			t.Errorf("config %d: tail length %d, %d of 20000 varied names match: the test does not exercise the filter", ci, m.tailLen, hits)
		}
	}
}
