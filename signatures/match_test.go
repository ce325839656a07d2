package signatures

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

func embeddedSet(t testing.TB) *Set {
	t.Helper()
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func meta() observe.Meta {
	return observe.Meta{Time: t0, Source: "test.pcap", Packet: 7,
		Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("10.0.0.1")}
}

func dnsQuery(names ...string) *observe.Observation {
	o := &observe.Observation{Meta: meta(), Kind: observe.KindDNS, DNS: &observe.DNSMessage{}}
	for _, n := range names {
		o.DNS.Questions = append(o.DNS.Questions, observe.DNSQuestion{Name: n, Type: "A", Class: 1})
	}
	return o
}

func ids(ev []Evidence) []string {
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.SignatureID
	}
	return out
}

func wantIDs(t *testing.T, ev []Evidence, want ...string) {
	t.Helper()
	got := ids(ev)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("evidence %v, want %v", got, want)
	}
}

func TestMatchDNSNames(t *testing.T) {
	s := embeddedSet(t)
	cases := []struct {
		name string
		want string // signature id, "" for no match
	}{
		{"captive.apple.com", "apple.dns.captive"},
		{"50-courier.push.apple.com", "apple.dns.push-courier"},
		{"courier.push.apple.com", "apple.dns.push-courier-bare"},
		{"-courier.push.apple.com", ""}, // "*" needs at least one character
		{"a.b-courier.push.apple.com", ""},
		{"gsp64-ssl.ls.apple.com", "apple.dns.location-gsp"},
		{"gspe1-ssl.ls.apple.com", "apple.dns.location-gsp"},
		{"gsp-ssl.ls.apple.com", ""},
		{"p52-keyvalueservice.icloud.com", "apple.dns.icloud-kvs"},
		{"p130-contacts.icloud.com", "apple.dns.icloud-contacts"},
		{"time.apple.com", "apple.dns.time"},
		{"time-ios.apple.com", "apple.dns.time-ios"}, // exact beats time*.apple.com
		{"time7.apple.com", "apple.dns.time-numbered"},
		{"mask.icloud.com", "apple.dns.private-relay"},
		{"www.apple.com", "apple.dns.www"},
		{"is1-ssl.mzstatic.com", "apple.dns.mzstatic"},
		{"a.b.c.mzstatic.com", "apple.dns.mzstatic"},
		{"mzstatic.com", ""},
		{"ctldl.windowsupdate.com", "windows.dns.windowsupdate"},
		{"au.download.windowsupdate.com", "windows.dns.windowsupdate"},
		{"www.msftconnecttest.com", "windows.dns.ncsi"},
		{"connectivitycheck.gstatic.com", "android.dns.connectivity-check"},
		{"nmcheck.gnome.org", "linux.dns.gnome-check"},
		{"apple.com.evil.example", ""},
		{"notapple.com", ""},
		{"", ""},
	}
	for _, tc := range cases {
		ev := s.Match(dnsQuery(tc.name), nil)
		if tc.want == "" {
			if len(ev) != 0 {
				t.Errorf("%q: unexpected %v", tc.name, ids(ev))
			}
			continue
		}
		if len(ev) != 1 || ev[0].SignatureID != tc.want {
			t.Errorf("%q: got %v, want %s", tc.name, ids(ev), tc.want)
		}
	}
}

func TestMatchEvidenceFields(t *testing.T) {
	s := embeddedSet(t)
	o := dnsQuery("mesu.apple.com")
	o.DNS.Response = true
	prior := []Evidence{{SignatureID: "earlier"}}
	ev := s.Match(o, prior)
	if len(ev) != 2 || ev[0].SignatureID != "earlier" {
		t.Fatalf("Match must append to dst: %v", ids(ev))
	}
	e := ev[1]
	want := Evidence{Time: t0, Kind: "dns-name", Detail: "dns response mesu.apple.com", SignatureID: "apple.dns.mesu",
		Platform: "apple", Weight: 3.5, Source: "test.pcap", Packet: 7, Set: "apple-dns.yaml@" + s.Versions()["apple-dns.yaml"]}
	if e != want {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
}

func TestMatchDedupWithinObservation(t *testing.T) {
	s := embeddedSet(t)
	ev := s.Match(dnsQuery("1-courier.push.apple.com", "2-courier.push.apple.com", "captive.apple.com"), nil)
	wantIDs(t, ev, "apple.dns.push-courier", "apple.dns.captive")
}

func TestMatchTLS(t *testing.T) {
	s := embeddedSet(t)
	o := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{
		ServerName: "Gateway.iCloud.com.", JA4: "t13d2613h2_2802a3db6c62_845d286b0d67", JA3: "6fa3244afc6bb6f9fad207b6b52af26b"}}
	ev := s.Match(o, nil)
	wantIDs(t, ev, "apple.dns.icloud-gateway", "apple.tls.ja4-macos-system", "apple.tls.ja3-macos-system")
	if ev[0].Detail != "tls sni gateway.icloud.com" || ev[1].Kind != KindTLSJA4 || ev[2].Detail != "ja3 6fa3244afc6bb6f9fad207b6b52af26b" {
		t.Errorf("details: %+v", ev)
	}
	o.TLS = &observe.ClientHello{ServerName: "www.example.com", JA4: "t13d1516h2_8daaf6152771_e5627efa2ab1", QUIC: &observe.QUICInfo{}}
	ev = s.Match(o, nil)
	wantIDs(t, ev, "browser.tls.chrome-4")
	if ev[0].Platform != PlatformBrowserGeneric || ev[0].Weight <= 0 || ev[0].Weight > 0.5 {
		t.Errorf("browser counter-evidence: %+v", ev[0])
	}
}

func TestMatchTLSSNIOnlyKind(t *testing.T) {
	body := goodHead +
		"  - id: t.sni\n    kind: tls-sni\n    pattern: \"*.push.example.com\"\n    platform: apple\n    weight: 2\n    source: t\n" +
		"  - id: t.dns\n    kind: dns-name\n    pattern: \"*.push.example.com\"\n    platform: apple\n    weight: 1\n    source: t\n"
	s, err := loadOne("t.yaml", body)
	if err != nil {
		t.Fatal(err)
	}
	tls := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{ServerName: "a.push.example.com"}}
	wantIDs(t, s.Match(tls, nil), "t.sni")
	wantIDs(t, s.Match(dnsQuery("a.push.example.com"), nil), "t.dns")
}

func appleSYN(ecn bool, ws int8) *observe.Observation {
	q := []string{"df", "id+"}
	if ecn {
		q = append(q, "ecn")
	}
	return &observe.Observation{Meta: meta(), Kind: observe.KindTCP, TCP: &observe.TCPSyn{
		IPVersion: 4, TTL: 63, InitialTTL: 64, MSS: 1460, Window: 65535, WindowScale: ws,
		Options: "mss,nop,ws,nop,nop,ts,sok,eol+1", Quirks: q, Fingerprint: "4:64+1:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+,ecn:0"}}
}

func TestMatchTCP(t *testing.T) {
	s := embeddedSet(t)
	wantIDs(t, s.Match(appleSYN(true, 6), nil), "apple.tcp.syn-ecn-ws6")
	wantIDs(t, s.Match(appleSYN(true, 5), nil), "apple.tcp.syn-ecn")
	wantIDs(t, s.Match(appleSYN(false, 5), nil), "apple.tcp.syn")
	o := appleSYN(false, 5)
	o.TCP.Options = "mss,nop,ws,nop,nop,ts,sok,eol" // no padding byte
	wantIDs(t, s.Match(o, nil), "apple.tcp.syn")
	o.TCP.Options = "mss,nop,ws,nop,nop,ts,sok,eolx"
	wantIDs(t, s.Match(o, nil))
	win := &observe.Observation{Meta: meta(), Kind: observe.KindTCP, TCP: &observe.TCPSyn{
		InitialTTL: 128, Window: 64240, WindowScale: 8, MSS: 1460, Options: "mss,nop,ws,nop,nop,sok"}}
	wantIDs(t, s.Match(win, nil), "windows.tcp.syn-64240")
	win.TCP.Window = 62000
	wantIDs(t, s.Match(win, nil), "windows.tcp.syn-ttl128")
	lin := &observe.Observation{Meta: meta(), Kind: observe.KindTCP, TCP: &observe.TCPSyn{
		InitialTTL: 64, Window: 64240, WindowScale: 7, MSS: 1460, Options: "mss,sok,ts,nop,ws"}}
	wantIDs(t, s.Match(lin, nil), "linux.tcp.syn-64240")
}

func TestMatchTCPJA4T(t *testing.T) {
	s, err := loadOne("t.yaml", goodHead+"  - id: t.ja4t\n    kind: tcp-syn\n    pattern: {ja4t: 65535_2-1-3-1-1-8-4-0-0_1460_6}\n    platform: apple\n    weight: 1\n    source: t\n")
	if err != nil {
		t.Fatal(err)
	}
	o := appleSYN(true, 6)
	o.TCP.JA4T = "65535_2-1-3-1-1-8-4-0-0_1460_6"
	wantIDs(t, s.Match(o, nil), "t.ja4t")
	o.TCP.JA4T = "64240_2-1-3-1-1-4_1460_8"
	wantIDs(t, s.Match(o, nil))
}

func dhcpObs(msg string, params []uint8, order []uint16, vendor, host string) *observe.Observation {
	return &observe.Observation{Meta: meta(), Kind: observe.KindDHCP, DHCP: &observe.DHCP{
		MessageType: msg, ParamList: params, OptionOrder: order, VendorClass: vendor, Hostname: host}}
}

func TestMatchDHCP(t *testing.T) {
	s := embeddedSet(t)
	// iPhone request: satori list, Apple option order, hostname.
	o := dhcpObs("request", []uint8{1, 3, 6, 15, 119, 252}, []uint16{53, 55, 57, 61, 50, 51, 12, 255}, "", "Johns-iPhone")
	ev := s.Match(o, nil)
	wantIDs(t, ev, "apple.dhcp.ios-params", "apple.host.iphone")
	if ev[0].Detail != "dhcp request params=1,3,6,15,119,252 order=53,55,57,61,50,51,12" {
		t.Errorf("detail %q", ev[0].Detail)
	}
	// Order only (an unknown list) still gives the order evidence.
	o = dhcpObs("discover", []uint8{1, 2, 3}, []uint16{53, 55, 57, 61, 51, 12, 0, 0, 255}, "", "")
	wantIDs(t, s.Match(o, nil), "apple.dhcp.order-discover")
	// The same Apple list with a vendor class is not Apple's: Apple sends no option 60.
	o = dhcpObs("request", []uint8{1, 3, 6, 15, 119, 252}, nil, "MSFT 5.0", "DESKTOP-AB12CD3")
	wantIDs(t, s.Match(o, nil), "windows.dhcp.vendor", "windows.host.default")
	o = dhcpObs("request", []uint8{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252}, []uint16{53, 61, 12, 81, 60, 55, 255}, "MSFT 5.0", "")
	wantIDs(t, s.Match(o, nil), "windows.dhcp.params-11", "windows.dhcp.vendor")
	o = dhcpObs("discover", []uint8{1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108}, nil, "android-dhcp-13", "android-1a2b3c4d5e6f7a8b")
	wantIDs(t, s.Match(o, nil), "android.dhcp.params-12", "android.dhcp.vendor", "android.host.default")
	o = dhcpObs("discover", nil, nil, "udhcp 1.36.1", "")
	wantIDs(t, s.Match(o, nil), "linux.dhcp.vendor-udhcp")
	// Server messages are not about the client's platform.
	o = dhcpObs("ack", []uint8{1, 3, 6, 15, 119, 252}, nil, "", "Johns-iPhone")
	wantIDs(t, s.Match(o, nil))
	// Hostname patterns.
	for host, want := range map[string]string{
		"Johns-MacBook-Pro": "apple.host.mac", "Annas-iPad": "apple.host.ipad", "iMac": "apple.host.mac",
		"iphonedev-build01": "", "Living-Room-AppleTV": "apple.host.other",
	} {
		ev := s.Match(dhcpObs("request", nil, nil, "", host), nil)
		if got := strings.Join(ids(ev), ""); got != want {
			t.Errorf("hostname %q: %q, want %q", host, got, want)
		}
	}
}

func mdnsResponse(rrs ...observe.DNSRecord) *observe.Observation {
	return &observe.Observation{Meta: meta(), Kind: observe.KindMDNS, DNS: &observe.DNSMessage{Response: true, Answers: rrs}}
}

func TestMatchMDNS(t *testing.T) {
	s := embeddedSet(t)
	// The iMac announcement of suricata-verify's mdns test.
	o := mdnsResponse(
		observe.DNSRecord{Name: "john’s imac._device-info._tcp.local", Type: "TXT", TXT: []string{"model=iMac17,1", "osxvers=17"}},
		observe.DNSRecord{Name: "_companion-link._tcp.local", Type: "PTR", Data: "john’s imac._companion-link._tcp.local."},
	)
	ev := s.Match(o, nil)
	wantIDs(t, ev, "apple.mdns.device-info", "apple.host.mac", "apple.model.imac17-1", "apple.mdns.txt-osxvers", "apple.mdns.companion-link")
	var model Evidence
	for _, e := range ev {
		if e.Kind == KindMDNSModel {
			model = e
		}
	}
	if model.Model != "iMac (Retina 5K, 27-inch, Late 2015)" || model.Platform != PlatformAppleMacOS || model.Detail != "mdns model iMac17,1" {
		t.Errorf("model evidence %+v", model)
	}
	// Queries are not announcements.
	q := mdnsResponse(observe.DNSRecord{Name: "_companion-link._tcp.local", Type: "PTR"})
	q.DNS.Response = false
	q.DNS.Questions = []observe.DNSQuestion{{Name: "_companion-link._tcp.local", Type: "PTR"}}
	wantIDs(t, s.Match(q, nil))
	// Service enumeration, host records, rpMd in Extra, subtypes.
	o = mdnsResponse(observe.DNSRecord{Name: "_services._dns-sd._udp.local", Type: "PTR", Data: "_sleep-proxy._udp.local."},
		observe.DNSRecord{Name: "Annas-iPhone.local", Type: "A", Addr: netip.MustParseAddr("10.0.0.9")},
		observe.DNSRecord{Name: "92e80812._sub._apple-mobdev2._tcp.local", Type: "PTR", Data: "x._apple-mobdev2._tcp.local"})
	o.DNS.Extra = []observe.DNSRecord{{Name: "Annas-iPhone._companion-link._tcp.local", Type: "TXT", TXT: []string{"rpMd=iPhone14,2", "rpVr=510.2"}}}
	ev = s.Match(o, nil)
	wantIDs(t, ev, "apple.mdns.sleep-proxy", "apple.host.iphone", "apple.mdns.apple-mobdev2", "apple.mdns.companion-link", "apple.model.iphone14-2", "apple.mdns.txt-rpvr")
	if last := ev[len(ev)-2]; last.Model != "iPhone 13 Pro" || last.Platform != PlatformAppleIOS {
		t.Errorf("rpMd model: %+v", last)
	}
}

func TestModel(t *testing.T) {
	s := embeddedSet(t)
	cases := []struct{ id, product, platform string }{
		{"iPhone14,2", "iPhone 13 Pro", PlatformAppleIOS},
		{"iPhone15,2", "iPhone 14 Pro", PlatformAppleIOS},
		{"iPad13,1", "iPad Air (4th generation)", PlatformAppleIPadOS},
		{"MacBookPro18,1", "MacBook Pro (16-inch, 2021)", PlatformAppleMacOS},
		{"iMac17,1", "iMac (Retina 5K, 27-inch, Late 2015)", PlatformAppleMacOS},
		{"Mac14,2", "MacBook Air (M2, 2022)", PlatformAppleMacOS},
		{"AudioAccessory5,1", "HomePod mini", PlatformApple},
		{"iPhone99,1", "iPhone", PlatformAppleIOS},            // family fallback
		{"MacBookPro99,9", "MacBook Pro", PlatformAppleMacOS}, // longest family wins over Mac*
		{"Mac99,1", "Mac", PlatformAppleMacOS},
		{"Watch9,9", "Apple Watch", PlatformApple},
	}
	for _, tc := range cases {
		p, pl, ok := s.Model(tc.id)
		if !ok || p != tc.product || pl != tc.platform {
			t.Errorf("Model(%q) = %q %q %v, want %q %q", tc.id, p, pl, ok, tc.product, tc.platform)
		}
	}
	for _, id := range []string{"", "Xserve1,1", "iPhone", "Pixel7,1", "SM-G991B"} {
		if p, pl, ok := s.Model(id); ok {
			t.Errorf("Model(%q) = %q %q, want unknown", id, p, pl)
		}
	}
}

func TestMatchHTTP(t *testing.T) {
	s := embeddedSet(t)
	cases := []struct{ host, ua, want string }{
		{"captive.apple.com", "CaptiveNetworkSupport-481.0.1 wispr", "apple.dns.captive apple.http.captive-network-support"},
		{"ocsp2.apple.com:80", "com.apple.trustd/3.0", "apple.dns.ocsp2 apple.http.trustd"},
		{"example.com", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "apple.http.safari-iphone"},
		{"example.com", "Weather/1.0 CFNetwork/1494.0.7 Darwin/23.4.0", "apple.http.cfnetwork"},
		{"example.com", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "apple.http.safari-mac"},
		{"example.com", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "apple.http.macintosh"},
		{"www.msftconnecttest.com", "Microsoft NCSI", "windows.dns.ncsi windows.http.ncsi"},
		{"example.com", "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A)", "android.http.dalvik"},
		{"[2001:db8::1]:8080", "Go-http-client/1.1", ""},
	}
	for _, tc := range cases {
		o := &observe.Observation{Meta: meta(), Kind: observe.KindHTTP, HTTP: &observe.HTTPRequest{Method: "GET", Target: "/", Host: tc.host, UserAgent: tc.ua}}
		if got := strings.Join(ids(s.Match(o, nil)), " "); got != tc.want {
			t.Errorf("%s / %s: got %q, want %q", tc.host, tc.ua, got, tc.want)
		}
	}
}

func TestMatchAddressPort(t *testing.T) {
	s := embeddedSet(t)
	flow := func(dst string, port uint16) *observe.Observation {
		m := meta()
		m.Dst, m.DstPort, m.Transport = netip.MustParseAddr(dst), port, observe.TransportTCP
		return &observe.Observation{Meta: m, Kind: observe.KindFlow, Flow: &observe.Flow{Reason: "start"}}
	}
	ev := s.Match(flow("17.57.146.52", 5223), nil)
	wantIDs(t, ev, "apple.net.apns-5223")
	if len(ev) == 1 && ev[0].Detail != "flow to 17.57.146.52:5223" {
		t.Errorf("detail %q", ev[0].Detail)
	}
	wantIDs(t, s.Match(flow("::ffff:17.57.146.52", 5223), nil), "apple.net.apns-5223")
	wantIDs(t, s.Match(flow("2620:149:a44::1", 5223), nil), "apple.net.apns-5223-v6")
	wantIDs(t, s.Match(flow("17.253.144.10", 443), nil), "apple.net.17-https")
	wantIDs(t, s.Match(flow("18.0.0.1", 5223), nil))
	wantIDs(t, s.Match(flow("17.1.1.1", 80), nil))
	// A flow is evidence once: at its start, not again when it ends
	// (each end reason), with or without the memoising Matcher.
	m := s.NewMatcher()
	wantIDs(t, m.Match(flow("17.57.146.52", 5223), nil), "apple.net.apns-5223")
	for _, reason := range []string{"fin", "rst", "idle", "evicted", "end-of-input"} {
		end := flow("17.57.146.52", 5223)
		end.Flow.Reason = reason
		wantIDs(t, s.Match(end, nil))
		wantIDs(t, m.Match(end, nil))
	}
}

func TestMatchIgnoresEmptyAndForeign(t *testing.T) {
	s := embeddedSet(t)
	for _, o := range []*observe.Observation{
		nil,
		{Kind: observe.KindDNS},
		{Kind: observe.KindMDNS},
		{Kind: observe.KindTLS},
		{Kind: observe.KindTCP},
		{Kind: observe.KindDHCP},
		{Kind: observe.KindHTTP},
		{Kind: observe.KindFlow},
		{Kind: observe.KindARP, ARP: &observe.ARPBinding{}},
		{Kind: observe.Kind(200)},
	} {
		if ev := s.Match(o, nil); len(ev) != 0 {
			t.Errorf("%v: %v", o, ids(ev))
		}
	}
}

func TestMatchNoAllocOnMiss(t *testing.T) {
	s := embeddedSet(t)
	obs := []*observe.Observation{
		dnsQuery("www.example.com", "a.b.c.d.example.net"),
		{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{ServerName: "www.example.com", JA4: "t13d0000h2_000000000000_000000000000", JA3: "00000000000000000000000000000000"}},
		{Meta: meta(), Kind: observe.KindTCP, TCP: &observe.TCPSyn{InitialTTL: 255, Window: 1, Options: "mss"}},
		{Meta: meta(), Kind: observe.KindFlow, Flow: &observe.Flow{}},
	}
	dst := make([]Evidence, 0, 8)
	for _, o := range obs {
		if n := testing.AllocsPerRun(100, func() { dst = s.Match(o, dst[:0]) }); n != 0 {
			t.Errorf("%v: %v allocations per miss", o.Kind, n)
		}
	}
}

func TestEmbeddedDataInvariants(t *testing.T) {
	s := embeddedSet(t)
	v := s.Versions()
	for _, f := range []string{"apple-dns.yaml", "apple-tls.yaml", "apple-tcp.yaml", "apple-dhcp.yaml", "apple-mdns.yaml",
		"apple-http.yaml", "apple-net.yaml", "models.yaml", "counter.yaml"} {
		if v[f] == "" {
			t.Errorf("%s missing or without version", f)
		}
	}
	kindsSeen := map[string]int{}
	for _, e := range s.Entries() {
		kindsSeen[e.Kind]++
		if e.Source == "" || e.Set == "" {
			t.Errorf("%s: no source or set", e.ID)
		}
		// Names any browser reaches must stay light; background names heavy.
		if e.Kind == KindDNSName {
			switch e.Pattern {
			case "www.apple.com", "apple.com", "icloud.com", "www.icloud.com", "itunes.apple.com":
				if e.Weight > 0.7 {
					t.Errorf("%s: browser-reachable name weighs %v", e.Pattern, e.Weight)
				}
			case "*-courier.push.apple.com", "gsp*-ssl.ls.apple.com", "mesu.apple.com", "gdmf.apple.com",
				"captive.apple.com", "mask.icloud.com", "doh.dns.apple.com":
				if e.Weight < 2.5 || e.Weight > 4 {
					t.Errorf("%s: background name weighs %v", e.Pattern, e.Weight)
				}
			}
		}
		if e.Platform == PlatformBrowserGeneric && e.Weight > 0.5 {
			t.Errorf("%s: cross-platform client weighs %v", e.ID, e.Weight)
		}
	}
	for k := range kinds {
		if k != KindTLSSNI && kindsSeen[k] == 0 {
			t.Errorf("no embedded entry of kind %s", k)
		}
	}
}

func BenchmarkMatchDNS(b *testing.B) {
	s := embeddedSet(b)
	o := dnsQuery("17-courier.push.apple.com")
	dst := make([]Evidence, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Match(o, dst[:0])
	}
	if len(dst) != 1 {
		b.Fatal("no match")
	}
}

func BenchmarkMatchNoHit(b *testing.B) {
	s := embeddedSet(b)
	o := dnsQuery("static.cdn.example-corp-intranet.example.com")
	dst := make([]Evidence, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Match(o, dst[:0])
	}
	if len(dst) != 0 {
		b.Fatal("unexpected match")
	}
}

func BenchmarkMatchTLS(b *testing.B) {
	s := embeddedSet(b)
	o := &observe.Observation{Meta: meta(), Kind: observe.KindTLS, TLS: &observe.ClientHello{
		ServerName: "www.example.com", JA4: "t13d2613h2_2802a3db6c62_845d286b0d67", JA3: "6fa3244afc6bb6f9fad207b6b52af26b"}}
	dst := make([]Evidence, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Match(o, dst[:0])
	}
}
