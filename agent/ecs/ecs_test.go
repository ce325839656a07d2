package ecs

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/internal/golden"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/agent/verdict"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/signatures"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)

var (
	phone = observe.MAC{0x8c, 0x85, 0x90, 0xaa, 0xbb, 0x01}
	gw    = observe.MAC{0x00, 0x00, 0x5e, 0x00, 0x01, 0x01}
)

func meta(tr observe.Transport, sport, dport uint16) observe.Meta {
	return observe.Meta{Time: t0, Source: "office.pcapng", Packet: 42, SrcMAC: phone, DstMAC: gw,
		Src: netip.MustParseAddr("192.168.1.20"), Dst: netip.MustParseAddr("17.253.144.10"),
		SrcPort: sport, DstPort: dport, Transport: tr, CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="}
}

func observations() []*observe.Observation {
	return []*observe.Observation{
		{Kind: observe.KindTLS, Meta: meta(observe.TransportTCP, 50123, 443), TLS: &observe.ClientHello{
			ServerName: "gateway.icloud.com", ALPN: []string{"h2", "http/1.1"}, JA3: "773906b0efdefa24a7f2b8eb6985bf37",
			JA3String: "771,4865-4866,0-23,29-23,0", JA4: "t13d2014h2_a09f3c656075_14788d8d241b", JA4R: "t13d2014h2_1301,1302_0000,0017",
			Oddities: []string{"sni-trailing-dot"}}},
		{Kind: observe.KindTLS, Meta: meta(observe.TransportUDP, 50124, 443), TLS: &observe.ClientHello{
			ServerName: "mask.icloud.com", ALPN: []string{"h3"}, JA4: "q13d0310h3_55b375c5d22e_cd85d2d88918",
			QUIC: &observe.QUICInfo{Version: 1, TransportParameters: []observe.QUICTransportParameter{{ID: 1, Value: []byte{0x80, 0, 0x75, 0x30}}, {ID: 0x2ab2, Value: nil}}}}},
		{Kind: observe.KindDNS, Meta: meta(observe.TransportUDP, 5353, 53), DNS: &observe.DNSMessage{ID: 4711,
			Questions: []observe.DNSQuestion{{Name: "1-courier.push.apple.com", Type: "A", Class: 1}}}},
		{Kind: observe.KindDNS, Meta: meta(observe.TransportUDP, 53, 5353), DNS: &observe.DNSMessage{ID: 4711, Response: true,
			Questions: []observe.DNSQuestion{{Name: "1-courier.push.apple.com", Type: "A", Class: 1}},
			Answers: []observe.DNSRecord{
				{Name: "1-courier.push.apple.com", Type: "CNAME", TTL: 60, Data: "1.courier-push-apple.com.akadns.net."},
				{Name: "1.courier-push-apple.com.akadns.net", Type: "A", TTL: 30, Data: "17.57.144.20", Addr: netip.MustParseAddr("17.57.144.20")},
			}}},
		{Kind: observe.KindMDNS, Meta: meta(observe.TransportUDP, 5353, 5353), DNS: &observe.DNSMessage{Response: true,
			Answers: []observe.DNSRecord{{Name: "Anna’s iPhone._device-info._tcp.local", Type: "TXT", TTL: 4500, Data: `"model=iPhone14,2"`, TXT: []string{"model=iPhone14,2"}}},
			Extra:   []observe.DNSRecord{{Name: "Annas-iPhone.local", Type: "A", TTL: 120, Data: "192.168.1.20", Addr: netip.MustParseAddr("192.168.1.20")}}}},
		{Kind: observe.KindTCP, Meta: meta(observe.TransportTCP, 50125, 5223), TCP: &observe.TCPSyn{IPVersion: 4, TTL: 64, InitialTTL: 64,
			MSS: 1460, Window: 65535, WindowScale: 6, Options: "mss,nop,ws,nop,nop,ts,sok,eol+1",
			Quirks: []string{"df", "id+", "ecn"}, Fingerprint: "4:64:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+,ecn:0", JA4T: "65535_2-1-3-1-1-8-4-0_1460_6"}},
		{Kind: observe.KindDHCP, Meta: meta(observe.TransportUDP, 68, 67), DHCP: &observe.DHCP{MessageType: "request", ClientMAC: phone,
			ClientID: []byte{1, 0x8c, 0x85, 0x90, 0xaa, 0xbb, 0x01}, RequestedIP: netip.MustParseAddr("192.168.1.20"), Hostname: "Annas-iPhone",
			ParamList: []uint8{1, 121, 3, 6, 15, 108, 114, 119, 252}, OptionOrder: []uint16{53, 55, 57, 61, 50, 51, 12}, MaxMsgSize: 1500}},
		{Kind: observe.KindARP, Meta: observe.Meta{Time: t0, Source: "office.pcapng", Packet: 43, SrcMAC: phone, DstMAC: observe.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
			ARP: &observe.ARPBinding{Protocol: "arp", Op: "gratuitous", IP: netip.MustParseAddr("192.168.1.20"), MAC: phone}},
		{Kind: observe.KindHTTP, Meta: meta(observe.TransportTCP, 50126, 80), HTTP: &observe.HTTPRequest{Method: "GET", Target: "/hotspot-detect.html",
			Version: "HTTP/1.0", Host: "captive.apple.com", UserAgent: "CaptiveNetworkSupport-481.0.1 wispr"}},
		{Kind: observe.KindFlow, Meta: meta(observe.TransportTCP, 50127, 993), Flow: &observe.Flow{Start: t0, End: t0.Add(90 * time.Second),
			PacketsOut: 20, PacketsIn: 25, BytesOut: 3000, BytesIn: 41000, SYNSeen: true, Established: true, Reason: "fin",
			Prologue: "imap-starttls", Plaintext: []string{`a1 ID ("name" "iPhone Mail")`, "a2 STARTTLS"}}},
	}
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden.jsonl"), got)
}

// field walks a decoded JSON object along a dotted path of nested objects.
func field(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = o[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestEvents(t *testing.T) {
	var buf []byte
	obs := observations()
	required := map[observe.Kind][]string{
		observe.KindTLS:  {"tls.client.server_name", "tls.client.ja4", "orchard.tls.alpn", "network.protocol"},
		observe.KindDNS:  {"dns.type", "dns.id", "dns.question.name", "dns.question.type"},
		observe.KindMDNS: {"dns.answers", "orchard.mdns.txt"},
		observe.KindTCP:  {"orchard.tcp.fingerprint", "orchard.tcp.ja4t", "orchard.tcp.quirks"},
		observe.KindDHCP: {"orchard.dhcp.message_type", "orchard.dhcp.hostname", "orchard.dhcp.param_list", "orchard.dhcp.option_order", "orchard.dhcp.client_id", "orchard.dhcp.requested_ip"},
		observe.KindARP:  {"orchard.arp.ip", "orchard.arp.mac", "orchard.arp.op"},
		observe.KindHTTP: {"http.request.method", "url.original", "url.domain", "user_agent.original"},
		observe.KindFlow: {"source.bytes", "destination.packets", "orchard.flow.reason", "event.end"},
	}
	for _, o := range obs {
		start := len(buf)
		buf = AppendEvent(buf, o)
		line := buf[start:]
		if line[len(line)-1] != '\n' {
			t.Fatal("no trailing newline")
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: invalid JSON: %v\n%s", o.Kind, err, line)
		}
		common := []string{"@timestamp", "event.kind", "event.dataset", "orchard.file", "orchard.packet", "source.mac"}
		if o.Kind != observe.KindARP {
			common = append(common, "source.ip", "source.port", "destination.ip", "destination.port", "network.transport", "network.community_id")
		}
		for _, p := range append(common, required[o.Kind]...) {
			if _, ok := field(m, p); !ok {
				t.Errorf("%s event lacks %s: %s", o.Kind, p, line)
			}
		}
		if ds, _ := field(m, "event.dataset"); ds != "orchard."+o.Kind.String() {
			t.Errorf("dataset %v", ds)
		}
	}
	var m map[string]any
	json.Unmarshal(bytes.Split(buf, []byte("\n"))[1], &m)
	if p, _ := field(m, "network.protocol"); p != "quic" {
		t.Errorf("QUIC hello protocol %v", p)
	}
	if v, _ := field(m, "orchard.quic.version"); v != 1.0 {
		t.Errorf("quic version %v", v)
	}
	compareGolden(t, "events", buf)
}

func TestEventNoAllocBeyondBuffer(t *testing.T) {
	o := observations()[0]
	buf := AppendEvent(nil, o)
	n := testing.AllocsPerRun(100, func() { buf = AppendEvent(buf[:0], o) })
	// "orchard."+kind concatenation is the only allowed allocation.
	if n > 1 {
		t.Errorf("AppendEvent allocates %v times with a reused buffer", n)
	}
}

func TestStringEscaping(t *testing.T) {
	in := "a\"b\\c\n\x01<x>&\xff\u2028é"
	out := appendString(nil, in)
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if s != "a\"b\\c\n\x01<x>&\uFFFD\u2028é" {
		t.Errorf("round trip %q", s)
	}
	if bytes.ContainsAny(out, "<>&\n") {
		t.Errorf("unescaped: %s", out)
	}
}

func finding() *correlate.Finding {
	ev := signatures.Evidence{Time: t0, Kind: "dns-name", Detail: "dns query 1-courier.push.apple.com", SignatureID: "apple.dns.push-courier",
		Platform: "apple", Weight: 3.5, Source: "office.pcapng", Packet: 7, Set: "apple-dns.yaml@2026.11.27-1"}
	return &correlate.Finding{
		Time: t0.Add(time.Minute), Source: "office.pcapng", Packet: 99, Sensor: "gw-hq-1",
		Device: correlate.Device{Key: phone.String(), MAC: phone, MACs: []observe.MAC{phone, {0x06, 1, 2, 3, 4, 5}},
			IPs: []netip.Addr{netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("2001:db8::20")}, Hostname: "Annas-iPhone", Private: false},
		Verdict: verdict.Result{Apple: true, Confidence: 0.99731, OS: "iOS", Model: "iPhone 13 Pro",
			Evidence: []verdict.Item{{Evidence: ev, Count: 3, Last: t0.Add(30 * time.Second)}}, Signatures: []string{"apple-dns.yaml@2026.11.27-1"}},
		Mail: mail.Access{Server: "corp-mail", Address: netip.MustParseAddr("192.0.2.10"), Port: 993, Protocol: "imaps", Protocols: []string{"imaps"},
			Transport: "tcp", Method: "address", FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(2 * time.Minute), Flows: 1, Packets: 45, Bytes: 44000,
			StartTLS: true, CommunityID: "1:abc=", Details: []string{`a1 ID ("name" "iPhone Mail")`}},
		Raise: 1, Reason: "new",
	}
}

func TestAlertAndHost(t *testing.T) {
	f := finding()
	buf := AppendAlert(nil, f)
	var m map[string]any
	if err := json.Unmarshal(buf, &m); err != nil {
		t.Fatalf("%v\n%s", err, buf)
	}
	for p, want := range map[string]any{
		"event.kind": "alert", "event.dataset": "orchard.alert", "rule.id": "orchard.apple-device-work-mail",
		"observer.name": "gw-hq-1", "network.community_id": "1:abc=", "host.mac": "8c:85:90:aa:bb:01",
		"orchard.verdict.apple": true, "orchard.verdict.confidence": 0.9973, "orchard.mail.server": "corp-mail",
		"orchard.mail.flows": 1.0, "orchard.mail.bytes": 44000.0, "orchard.mail.starttls": true, "@timestamp": "2026-03-02T09:01:00.123456789Z",
		"host.hostname": "Annas-iPhone", "event.severity": 73.0,
	} {
		if got, ok := field(m, p); !ok || got != want {
			t.Errorf("%s = %v, want %v", p, got, want)
		}
	}
	if ev, _ := field(m, "orchard.evidence"); len(ev.([]any)) != 1 {
		t.Errorf("evidence %v", ev)
	}
	h := &agent.HostState{Device: f.Device, FirstSeen: t0, LastSeen: t0.Add(time.Hour), Verdict: f.Verdict,
		Mail: []mail.Access{f.Mail}, Signatures: []string{"apple-dns.yaml@2026.11.27-1"}}
	hb := AppendHost(nil, t0.Add(2*time.Hour), "gw-hq-1", h)
	var hm map[string]any
	if err := json.Unmarshal(hb, &hm); err != nil {
		t.Fatalf("%v\n%s", err, hb)
	}
	for _, p := range []string{"event.kind", "host.mac", "host.ip", "host.hostname", "orchard.verdict.apple", "orchard.verdict.confidence",
		"orchard.verdict.os", "orchard.verdict.model", "orchard.evidence", "orchard.signatures", "orchard.host.linked_macs"} {
		if _, ok := field(hm, p); !ok {
			t.Errorf("host line lacks %s: %s", p, hb)
		}
	}
	me := AppendMail(nil, &agent.MailEvent{Time: t0, Source: "x", Packet: 1, Sensor: "s", Device: f.Device, Access: f.Mail, CommunityID: "1:abc="})
	if !json.Valid(me) || !bytes.Contains(me, []byte(`"dataset":"orchard.mail"`)) {
		t.Errorf("mail event %s", me)
	}
	compareGolden(t, "alert", append(append(buf, hb...), me...))
}

func TestSummary(t *testing.T) {
	f1 := finding()
	f2 := finding()
	f2.Raise, f2.Mail.Flows = 2, 5
	var b strings.Builder
	if err := WriteSummary(&b, []*correlate.Finding{f1, f2}, agent.Stats{Hosts: 12, Findings: 2, Allowlisted: 1, MailFlows: 9}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "DEVICE") {
		t.Fatalf("summary:\n%s", out)
	}
	for _, w := range []string{"Annas-iPhone (8c:85:90:aa:bb:01)", "iOS", "iPhone 13 Pro", "corp-mail", "imaps", "0.997", "allowlisted 1"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(lines[1], " "), "2") {
		t.Errorf("row does not show the latest alert (raise 2): %q", lines[1])
	}
}

// TestKeysArePlainNames: keys are written without escaping, so every key
// of every kind of line (events of each dataset, alert, host, mail event)
// must be a plain field name.
func TestKeysArePlainNames(t *testing.T) {
	var lines [][]byte
	for _, o := range observations() {
		lines = append(lines, AppendEvent(nil, o))
	}
	f := finding()
	lines = append(lines, AppendAlert(nil, f))
	h := &agent.HostState{Device: f.Device, FirstSeen: t0, LastSeen: t0.Add(time.Hour), Verdict: f.Verdict,
		Mail: []mail.Access{f.Mail}, Signatures: []string{"apple-dns.yaml@2026.11.27-1"}}
	lines = append(lines, AppendHost(nil, t0, "gw-hq-1", h))
	lines = append(lines, AppendMail(nil, &agent.MailEvent{Time: t0, Source: "x", Packet: 1, Sensor: "s", Device: f.Device, Access: f.Mail, CommunityID: "1:abc="}))
	keys := 0
	for _, line := range lines {
		// Walk the tokens: in an object, every other string is a key.
		dec := json.NewDecoder(bytes.NewReader(line))
		type frame struct{ object, wantKey bool }
		var stack []frame
		for {
			tok, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%v in %s", err, line)
				}
				break
			}
			top := len(stack) - 1
			if d, ok := tok.(json.Delim); ok {
				switch d {
				case '{', '[':
					if top >= 0 && stack[top].object {
						stack[top].wantKey = true
					}
					stack = append(stack, frame{object: d == '{', wantKey: d == '{'})
				default:
					stack = stack[:top]
				}
				continue
			}
			if top < 0 || !stack[top].object {
				continue
			}
			if stack[top].wantKey {
				k := tok.(string)
				keys++
				for i := 0; i < len(k); i++ {
					if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '@') {
						t.Errorf("key %q in %s is not a plain field name", k, line)
						break
					}
				}
			}
			stack[top].wantKey = !stack[top].wantKey
		}
	}
	if keys < 300 {
		t.Errorf("%d keys walked: the test misses lines", keys)
	}
}
