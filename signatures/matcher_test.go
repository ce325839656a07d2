package signatures

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// TestMatcherSameAsSet: a Matcher gives exactly Set.Match's evidence for
// observations that differ in one matched field at a time, on first sight
// and from its memo.
func TestMatcherSameAsSet(t *testing.T) {
	s := embeddedSet(t)
	var obs []*observe.Observation
	tls := func(sni, ja4, ja3 string, quic bool) {
		ch := &observe.ClientHello{ServerName: sni, JA4: ja4, JA3: ja3}
		if quic {
			ch.QUIC = &observe.QUICInfo{}
		}
		obs = append(obs, &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: ch})
	}
	for _, sni := range []string{"", "Gateway.iCloud.com.", "gateway.icloud.com", "www.example.com", "a.b.push.apple.com", "outlook.office365.com"} {
		for _, quic := range []bool{false, true} {
			tls(sni, "t13d2613h2_2802a3db6c62_845d286b0d67", "6fa3244afc6bb6f9fad207b6b52af26b", quic)
			tls(sni, "t13d1516h2_8daaf6152771_e5627efa2ab1", "", quic)
			tls(sni, "", "", quic)
		}
	}
	syn := func(f func(*observe.TCPSyn)) {
		o := appleSYN(true, 6)
		f(o.TCP)
		obs = append(obs, o)
	}
	syn(func(*observe.TCPSyn) {})
	syn(func(s *observe.TCPSyn) { s.WindowScale = 5 })
	syn(func(s *observe.TCPSyn) { s.Quirks = s.Quirks[:2] })
	syn(func(s *observe.TCPSyn) { s.Quirks = append(s.Quirks[:2:2], "ece-cwr") })
	syn(func(s *observe.TCPSyn) { s.Options = "mss,nop,ws,nop,nop,ts,sok,eol" })
	syn(func(s *observe.TCPSyn) { s.Options = "mss,nop,ws,nop,nop,ts,sok,eolx" })
	syn(func(s *observe.TCPSyn) { s.InitialTTL = 128 })
	syn(func(s *observe.TCPSyn) { s.Window = 64240 })
	syn(func(s *observe.TCPSyn) { s.MSS = 1400 })
	syn(func(s *observe.TCPSyn) { s.JA4T = "65535_2-1-3-1-1-8-4-0-0_1460_6" })
	syn(func(s *observe.TCPSyn) { s.Fingerprint = "" })
	syn(func(s *observe.TCPSyn) {
		*s = observe.TCPSyn{InitialTTL: 128, Window: 64240, WindowScale: 8, MSS: 1460, Options: "mss,nop,ws,nop,nop,sok"}
	})
	syn(func(s *observe.TCPSyn) {
		*s = observe.TCPSyn{InitialTTL: 64, Window: 64240, WindowScale: 7, MSS: 1460, Options: "mss,sok,ts,nop,ws"}
	})
	flow := func(dst string, port uint16) {
		o := &observe.Observation{Meta: meta(), Kind: observe.KindFlow, Flow: &observe.Flow{Reason: "start"}}
		if dst != "" {
			o.Dst = netip.MustParseAddr(dst)
		} else {
			o.Dst = netip.Addr{}
		}
		o.DstPort = port
		obs = append(obs, o)
	}
	for _, d := range []string{"17.57.146.20", "::ffff:17.57.146.20", "17.1.2.3", "8.8.8.8", "2620:149::1", ""} {
		for _, p := range []uint16{443, 5223, 80, 0} {
			flow(d, p)
		}
	}
	obs = append(obs, dnsQuery("gateway.icloud.com"), &observe.Observation{Meta: meta(), Kind: observe.KindTLS})

	m := s.NewMatcher()
	for round := range 2 {
		for i, o := range obs {
			want := s.Match(o, nil)
			got := m.Match(o, nil)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round %d, observation %d (%+v %+v):\n got %+v\nwant %+v", round, i, o.TLS, o.TCP, got, want)
			}
		}
	}
	if m.Set() != s || !reflect.DeepEqual(m.Versions(), s.Versions()) {
		t.Error("Set or Versions differ")
	}
}

// TestMatcherAllocs: evidence from a memoised name, SYN shape or flow destination costs no
// allocation beyond dst's growth.
func TestMatcherAllocs(t *testing.T) {
	s := embeddedSet(t)
	m := s.NewMatcher()
	tls := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{
		ServerName: "Gateway.iCloud.com.", JA4: "t13d2613h2_2802a3db6c62_845d286b0d67", JA3: "6fa3244afc6bb6f9fad207b6b52af26b"}}
	syn := appleSYN(true, 6)
	flow := &observe.Observation{Meta: meta(), Kind: observe.KindFlow, Flow: &observe.Flow{Reason: "start"}}
	flow.Dst, flow.DstPort = netip.MustParseAddr("17.57.146.20"), 5223
	dst := make([]Evidence, 0, 8)
	m.Match(tls, dst)
	m.Match(syn, dst)
	m.Match(flow, dst)
	n := testing.AllocsPerRun(100, func() {
		if len(m.Match(tls, dst[:0])) != 3 || len(m.Match(syn, dst[:0])) != 1 || len(m.Match(flow, dst[:0])) != 1 {
			t.Fatal("no evidence")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per memoised TLS+SYN match", n)
	}
}

func BenchmarkMatcherTLS(b *testing.B) {
	s := embeddedSet(b)
	m := s.NewMatcher()
	o := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{
		ServerName: "Gateway.iCloud.com.", JA4: "t13d2613h2_2802a3db6c62_845d286b0d67", JA3: "6fa3244afc6bb6f9fad207b6b52af26b"}}
	dst := make([]Evidence, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = m.Match(o, dst[:0])
	}
}

func BenchmarkSetMatchTLS(b *testing.B) {
	s := embeddedSet(b)
	o := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{
		ServerName: "Gateway.iCloud.com.", JA4: "t13d2613h2_2802a3db6c62_845d286b0d67", JA3: "6fa3244afc6bb6f9fad207b6b52af26b"}}
	dst := make([]Evidence, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Match(o, dst[:0])
	}
}
