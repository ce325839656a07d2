package agent_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/ecs"
	"github.com/orchard-nsm/orchard/agent/internal/golden"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/signatures"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakeSigs gives hand-made evidence so these tests pin the agent's logic,
// not the signature data: DNS/SNI names from a table, SYNs by initial TTL.
type fakeSigs struct{}

var names = map[string]struct {
	id, platform string
	w            float64
}{
	"1-courier.push.apple.com": {"apple.dns.push-courier", "apple", 3.5},
	"mesu.apple.com":           {"apple.dns.mesu", "apple-ios", 3.0},
	"www.msftconnecttest.com":  {"windows.dns.ncsi", "windows", 3.5},
}

func (fakeSigs) Match(o *observe.Observation, dst []signatures.Evidence) []signatures.Evidence {
	add := func(kind, detail, id, platform string, w float64) {
		dst = append(dst, signatures.Evidence{Time: o.Time, Kind: kind, Detail: detail, SignatureID: id,
			Platform: platform, Weight: w, Source: o.Source, Packet: o.Packet, Set: "fake.yaml@1"})
	}
	switch o.Kind {
	case observe.KindDNS:
		for _, q := range o.DNS.Questions {
			if n, ok := names[q.Name]; ok {
				add("dns-name", "dns query "+q.Name, n.id, n.platform, n.w)
			}
		}
	case observe.KindTCP:
		if o.TCP.InitialTTL == 64 {
			add("tcp-syn", o.TCP.Fingerprint, "apple.tcp.ios", "apple-ios", 3)
		} else if o.TCP.InitialTTL == 128 {
			add("tcp-syn", o.TCP.Fingerprint, "windows.tcp.syn", "windows", 2.5)
		}
	}
	return dst
}

func (fakeSigs) Versions() map[string]string { return map[string]string{"fake.yaml": "1"} }

var (
	iphone   = observe.MAC{0x8c, 0x85, 0x90, 0, 0, 1}
	mac2     = observe.MAC{0x8c, 0x85, 0x90, 0, 0, 2}
	pc       = observe.MAC{0x3c, 0x52, 0x82, 0, 0, 3}
	router   = observe.MAC{0x00, 0x00, 0x5e, 0, 1, 1}
	mailAddr = netip.MustParseAddr("192.0.2.10")
)

type seq struct {
	obs []*observe.Observation
	pkt uint64
}

func (s *seq) add(o *observe.Observation) {
	s.pkt++
	o.Source, o.Packet = "test.pcap", s.pkt
	s.obs = append(s.obs, o)
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func (s *seq) dns(m observe.MAC, ip string, d time.Duration, name string) {
	s.add(&observe.Observation{Kind: observe.KindDNS,
		Meta: observe.Meta{Time: at(d), SrcMAC: m, DstMAC: router, Src: netip.MustParseAddr(ip), Dst: netip.MustParseAddr("192.168.1.1"),
			SrcPort: 5353, DstPort: 53, Transport: observe.TransportUDP},
		DNS: &observe.DNSMessage{ID: 7, Questions: []observe.DNSQuestion{{Name: name, Type: "A", Class: 1}}}})
}

func (s *seq) syn(m observe.MAC, ip string, d time.Duration, ittl uint8) {
	s.add(&observe.Observation{Kind: observe.KindTCP,
		Meta: observe.Meta{Time: at(d), SrcMAC: m, DstMAC: router, Src: netip.MustParseAddr(ip), Dst: netip.MustParseAddr("17.57.144.10"),
			SrcPort: 49152, DstPort: 5223, Transport: observe.TransportTCP},
		TCP: &observe.TCPSyn{InitialTTL: ittl, TTL: ittl, Fingerprint: "4:" + string(rune('0'+ittl/64)) + ":syn"}})
}

func (s *seq) ack(m observe.MAC, ip string, d time.Duration) {
	s.add(&observe.Observation{Kind: observe.KindDHCP,
		Meta: observe.Meta{Time: at(d), SrcMAC: router, DstMAC: m, Src: netip.MustParseAddr("192.168.1.1"), Dst: netip.MustParseAddr(ip),
			SrcPort: 67, DstPort: 68, Transport: observe.TransportUDP},
		DHCP: &observe.DHCP{MessageType: "ack", ClientMAC: m, AssignedIP: netip.MustParseAddr(ip), LeaseTime: 7200}})
}

// mail adds a mail flow to 192.0.2.10:993 from start to end.
func (s *seq) mail(m observe.MAC, ip string, start, end time.Duration, sport uint16) {
	meta := observe.Meta{Time: at(start), SrcMAC: m, DstMAC: router, Src: netip.MustParseAddr(ip), Dst: mailAddr,
		SrcPort: sport, DstPort: 993, Transport: observe.TransportTCP, CommunityID: "1:flow" + strings.Repeat("x", int(sport%7))}
	s.add(&observe.Observation{Kind: observe.KindFlow, Meta: meta, Flow: &observe.Flow{Start: at(start), Reason: "start", SYNSeen: true}})
	hm := meta
	hm.Time = at(start + 50*time.Millisecond)
	s.add(&observe.Observation{Kind: observe.KindTLS, Meta: hm, TLS: &observe.ClientHello{ServerName: "mail.corp.example", JA4: "t13d2014h2_a09f3c656075_14788d8d241b"}})
	em := meta
	em.Time = at(end)
	s.add(&observe.Observation{Kind: observe.KindFlow, Meta: em, Flow: &observe.Flow{Start: at(start), End: at(end), Reason: "fin",
		PacketsOut: 20, PacketsIn: 25, BytesOut: 3000, BytesIn: 41000, SYNSeen: true, Established: true}})
}

// apple makes a host Apple: a push-courier lookup and an iOS SYN.
func (s *seq) apple(m observe.MAC, ip string, d time.Duration) {
	s.dns(m, ip, d, "1-courier.push.apple.com")
	s.syn(m, ip, d+time.Second, 64)
}

const baseConfig = `sensor: test-sensor
mail:
  servers:
    - name: corp-mail
      names: [mail.corp.example]
      addresses: [192.0.2.10]
      protocols: [imaps, submission, https]
verdict:
  threshold: 0.9
`

type collector struct {
	findings []*correlate.Finding
	mail     []*agent.MailEvent
}

func (c *collector) Finding(f *correlate.Finding)  { c.findings = append(c.findings, f) }
func (c *collector) MailAccess(e *agent.MailEvent) { c.mail = append(c.mail, e) }

// newAgent makes an agent with the config text, the fake signatures and a
// collector for its findings.
func newAgent(t *testing.T, cfgText string) (*agent.Agent, *collector) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	a, err := agent.New(cfg, fakeSigs{}, nil, c)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func run(t *testing.T, cfgText string, s *seq) (*agent.Agent, *collector) {
	t.Helper()
	a, c := newAgent(t, cfgText)
	for _, o := range s.obs {
		a.Observe(o)
	}
	a.Flush(s.obs[len(s.obs)-1].Time)
	return a, c
}

// goldenAlerts compares the alerts (and the counters) with testdata/NAME.golden.jsonl.
func goldenAlerts(t *testing.T, name string, a *agent.Agent, c *collector) {
	t.Helper()
	var buf []byte
	for _, f := range c.findings {
		buf = ecs.AppendAlert(buf, f)
	}
	st, _ := json.Marshal(a.Stats())
	buf = append(append(buf, st...), '\n')
	golden.Check(t, filepath.Join("testdata", name+".golden.jsonl"), buf)
	for _, line := range bytes.Split(bytes.TrimSpace(buf), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("invalid JSON line: %s", line)
		}
	}
}

func TestAppleThenMail(t *testing.T) {
	var s seq
	s.apple(iphone, "192.168.1.20", 0)
	s.mail(iphone, "192.168.1.20", 10*time.Minute, 10*time.Minute+30*time.Second, 50001)
	a, c := run(t, baseConfig, &s)
	if len(c.findings) != 1 {
		t.Fatalf("%d findings, want 1", len(c.findings))
	}
	f := c.findings[0]
	// @timestamp is the packet that completed the finding (the flow start);
	// the alert waited for the flow's end to carry its counts.
	if !f.Time.Equal(at(10*time.Minute)) || f.Mail.Packets != 45 || f.Mail.Bytes != 44000 || f.Mail.Flows != 1 {
		t.Errorf("finding time %v mail %+v", f.Time, f.Mail)
	}
	if !f.Verdict.Apple || len(f.Verdict.Evidence) == 0 || f.Sensor != "test-sensor" || f.Device.MAC != iphone {
		t.Errorf("finding %+v", f)
	}
	if len(c.mail) != 1 || c.mail[0].Access.Server != "corp-mail" {
		t.Errorf("mail events %+v", c.mail)
	}
	goldenAlerts(t, "apple_then_mail", a, c)
}

func TestMailThenApple(t *testing.T) {
	var s seq
	s.mail(iphone, "192.168.1.20", 0, 30*time.Second, 50001)
	s.apple(iphone, "192.168.1.20", 3*time.Hour)
	a, c := run(t, baseConfig, &s)
	if len(c.findings) != 1 {
		t.Fatalf("%d findings, want 1", len(c.findings))
	}
	// Completed by the SYN that tipped the verdict.
	if f := c.findings[0]; !f.Time.Equal(at(3*time.Hour+time.Second)) || f.Mail.Bytes != 44000 {
		t.Errorf("finding at %v, bytes %d", f.Time, f.Mail.Bytes)
	}
	goldenAlerts(t, "mail_then_apple", a, c)
}

func TestWindowEdges(t *testing.T) {
	cfg := baseConfig + "correlation:\n  window: 1h\n"
	var s seq
	// Host 1: mail, then Apple exactly one window later: a finding.
	s.mail(iphone, "192.168.1.20", 0, 30*time.Second, 50001)
	s.dns(iphone, "192.168.1.20", 30*time.Second+time.Hour-time.Second, "1-courier.push.apple.com")
	s.syn(iphone, "192.168.1.20", 30*time.Second+time.Hour, 64)
	// Host 2: the same, one second later: none.
	s.mail(mac2, "192.168.1.21", 2*time.Hour, 2*time.Hour+30*time.Second, 50002)
	s.dns(mac2, "192.168.1.21", 3*time.Hour+30*time.Second, "1-courier.push.apple.com")
	s.syn(mac2, "192.168.1.21", 3*time.Hour+31*time.Second, 64)
	// Host 2 again, Apple now; mail one window after its last Apple
	// evidence: a finding (Apple first, then mail).
	s.mail(mac2, "192.168.1.21", 4*time.Hour+31*time.Second, 4*time.Hour+40*time.Second, 50003)
	a, c := run(t, cfg, &s)
	if len(c.findings) != 2 || c.findings[0].Device.MAC != iphone || c.findings[1].Device.MAC != mac2 ||
		!c.findings[1].Time.Equal(at(4*time.Hour+31*time.Second)) {
		for _, f := range c.findings {
			t.Logf("finding %v at %v", f.Device.Key, f.Time)
		}
		t.Fatalf("%d findings, want 2 (iphone at the edge, mac2 on its second mail)", len(c.findings))
	}
	goldenAlerts(t, "window_edges", a, c)
}

func TestSuppressionAndReRaise(t *testing.T) {
	cfg := baseConfig + "correlation:\n  window: 24h\n  suppress: 1h\n"
	var s seq
	s.apple(iphone, "192.168.1.20", 0)
	s.mail(iphone, "192.168.1.20", time.Minute, 2*time.Minute, 50001)
	s.mail(iphone, "192.168.1.20", 10*time.Minute, 11*time.Minute, 50002)
	s.mail(iphone, "192.168.1.20", 30*time.Minute, 31*time.Minute, 50003)
	s.mail(iphone, "192.168.1.20", 61*time.Minute, 62*time.Minute, 50004)
	a, c := run(t, cfg, &s)
	if len(c.findings) != 2 {
		t.Fatalf("%d findings, want 2", len(c.findings))
	}
	f1, f2 := c.findings[0], c.findings[1]
	if f1.Raise != 1 || f2.Raise != 2 || f2.Reason != "re-raise" || f2.Mail.Flows != 4 || f1.Mail.Flows != 1 {
		t.Errorf("raise %d/%d reason %q flows %d/%d", f1.Raise, f2.Raise, f2.Reason, f1.Mail.Flows, f2.Mail.Flows)
	}
	if st := a.Stats(); st.Suppressed != 2 || st.Findings != 2 {
		t.Errorf("stats %+v", st)
	}
	goldenAlerts(t, "suppression", a, c)
}

func TestAllowlistExpiry(t *testing.T) {
	cfg := baseConfig + `allow:
  - mac: "8c:85:90:00:00:01"
    reason: approved, ticket 4711
    expires: 2026-03-02T10:00:00Z
  - hostname: "*-lab-ipad"
    reason: lab
`
	var s seq
	s.apple(iphone, "192.168.1.20", 0)
	s.mail(iphone, "192.168.1.20", time.Minute, 2*time.Minute, 50001)
	// After the entry expired at 10:00 the device is alerted.
	s.mail(iphone, "192.168.1.20", 90*time.Minute, 91*time.Minute, 50002)
	a, c := run(t, cfg, &s)
	if len(c.findings) != 1 || !c.findings[0].Time.Equal(at(90*time.Minute)) {
		t.Fatalf("%d findings, want 1 after expiry", len(c.findings))
	}
	if st := a.Stats(); st.Allowlisted != 1 {
		t.Errorf("allowlisted %d, want 1", st.Allowlisted)
	}
	goldenAlerts(t, "allowlist_expiry", a, c)
}

func TestAddressReuse(t *testing.T) {
	var s seq
	// The Mac holds .50, shows it is Apple, then leaves; the lease moves to a PC.
	s.ack(iphone, "192.168.1.50", 0)
	s.apple(iphone, "192.168.1.50", time.Minute)
	s.ack(pc, "192.168.1.50", 2*time.Hour)
	s.syn(pc, "192.168.1.50", 2*time.Hour+time.Second, 128)
	s.dns(pc, "192.168.1.50", 2*time.Hour+2*time.Second, "www.msftconnecttest.com")
	// The PC reads mail from .50 (with its MAC, and once seen without any
	// link-layer header, as from a kernel flow record).
	s.mail(pc, "192.168.1.50", 3*time.Hour, 3*time.Hour+time.Minute, 50001)
	s.mail(observe.MAC{}, "192.168.1.50", 3*time.Hour+5*time.Minute, 3*time.Hour+6*time.Minute, 50002)
	// The Mac comes back on another address and reads mail: alerted.
	s.ack(iphone, "192.168.1.51", 4*time.Hour)
	s.mail(iphone, "192.168.1.51", 4*time.Hour+time.Minute, 4*time.Hour+2*time.Minute, 50003)
	a, c := run(t, baseConfig, &s)
	if len(c.findings) != 1 || c.findings[0].Device.MAC != iphone {
		t.Fatalf("%d findings, want 1 for the Mac", len(c.findings))
	}
	f := c.findings[0]
	if len(f.Device.IPs) != 1 || f.Device.IPs[0] != netip.MustParseAddr("192.168.1.51") {
		t.Errorf("alert lists addresses %v; .50 belongs to the PC now", f.Device.IPs)
	}
	for _, h := range a.Hosts() {
		if h.Device.MAC == pc && (h.Verdict.Apple || len(h.Mail) != 1 || h.Mail[0].Flows != 2) {
			t.Errorf("PC state %+v", h)
		}
	}
	goldenAlerts(t, "address_reuse", a, c)
}

func TestHostsSnapshot(t *testing.T) {
	var s seq
	s.ack(iphone, "192.168.1.20", 0)
	s.apple(iphone, "192.168.1.20", time.Minute)
	s.syn(pc, "192.168.1.30", time.Minute, 128)
	a, _ := run(t, baseConfig, &s)
	hs := a.Hosts()
	if len(hs) != 2 {
		t.Fatalf("%d hosts", len(hs))
	}
	var buf []byte
	for i := range hs {
		buf = ecs.AppendHost(buf, at(time.Hour), "test-sensor", &hs[i])
	}
	golden.Check(t, filepath.Join("testdata", "hosts.golden.jsonl"), buf)
}

func TestHostTableBound(t *testing.T) {
	cfg := baseConfig + "hosts:\n  max: 1000\n"
	c, err := config.Parse("t.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(c, fakeSigs{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &observe.Observation{Kind: observe.KindTCP, TCP: &observe.TCPSyn{InitialTTL: 64}}
	for i := 0; i < 100000; i++ {
		o.Time = at(time.Duration(i) * time.Millisecond)
		o.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		a.Observe(o)
	}
	if st := a.Stats(); st.Hosts != 1000 || st.Evicted != 99000 {
		t.Errorf("stats %+v", st)
	}
}

func BenchmarkObserveMix(b *testing.B) {
	var s seq
	for i := 0; i < 50; i++ {
		m := observe.MAC{0x8c, 0x85, 0x90, 0, 1, byte(i)}
		ip := netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + i)}).String()
		s.apple(m, ip, time.Duration(i)*time.Second)
		s.dns(m, ip, time.Duration(i)*time.Second, "www.example.com")
		s.mail(m, ip, time.Duration(i)*time.Second+time.Minute, time.Duration(i)*time.Second+2*time.Minute, uint16(40000+i))
	}
	cfg, err := config.Parse("b.yaml", []byte(baseConfig))
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(cfg, fakeSigs{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range s.obs {
		a.Observe(o) // warm: hosts exist, alerts raised (then suppressed)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Observe(s.obs[i%len(s.obs)])
	}
}

func TestReload(t *testing.T) {
	var s seq
	s.apple(iphone, "192.168.1.20", 0)
	a, c := run(t, baseConfig, &s)
	if !a.Hosts()[0].Verdict.Apple {
		t.Fatal("not Apple before reload")
	}
	// A stricter threshold turns the verdict; an allowlist entry applies to
	// mail access from then on.
	strict, err := config.Parse("r.yaml", []byte(strings.Replace(baseConfig, "threshold: 0.9", "threshold: 0.99", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(strict, fakeSigs{}, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if a.Hosts()[0].Verdict.Apple {
		t.Error("verdict not re-evaluated under the new threshold")
	}
	allow, err := config.Parse("r.yaml", []byte(baseConfig+"allow:\n  - mac: \"8c:85:90:00:00:01\"\n    reason: approved\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(allow, fakeSigs{}, at(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var s2 seq
	s2.mail(iphone, "192.168.1.20", 3*time.Minute, 4*time.Minute, 50001)
	for _, o := range s2.obs {
		a.Observe(o)
	}
	a.Flush(at(5 * time.Minute))
	if len(c.findings) != 0 || a.Stats().Allowlisted != 1 {
		t.Errorf("findings %d, stats %+v", len(c.findings), a.Stats())
	}
	bad := &config.Config{Verdict: config.Verdict{Threshold: 7}}
	if err := a.Reload(bad, fakeSigs{}, at(6*time.Minute)); err == nil || !strings.Contains(err.Error(), "verdict.threshold") {
		t.Errorf("bad config accepted: %v", err)
	}
}

func TestTickReleasesHeldAlert(t *testing.T) {
	a, c := newAgent(t, baseConfig)
	var s seq
	s.apple(iphone, "192.168.1.20", 0)
	s.mail(iphone, "192.168.1.20", time.Minute, time.Hour, 50001)
	for _, o := range s.obs[:len(s.obs)-1] { // the long session has not ended
		a.Observe(o)
	}
	a.Tick(at(time.Minute + 30*time.Second))
	if len(c.findings) != 0 {
		t.Fatal("alert released before its hold time")
	}
	a.Tick(at(time.Minute + agent.HoldForCounts))
	if len(c.findings) != 1 || !c.findings[0].Time.Equal(at(time.Minute)) {
		t.Fatalf("findings %d", len(c.findings))
	}
}

// TestIdleHostsExpire: hosts unseen for hosts.idle are dropped by the sweep
// that observations drive (at most once a minute of capture time), and a
// host seen again in time stays.
func TestIdleHostsExpire(t *testing.T) {
	a, _ := newAgent(t, baseConfig+"hosts:\n  idle: 10m\n")
	obs := func(s *seq) {
		for _, o := range s.obs {
			a.Observe(o)
		}
	}
	var s seq
	s.syn(iphone, "192.168.1.20", 0, 64)
	s.syn(pc, "192.168.1.30", time.Second, 128)
	obs(&s)
	if st := a.Stats(); st.Hosts != 2 || st.Expired != 0 {
		t.Fatalf("after the first packets: %+v", st)
	}
	// The PC keeps talking; the iPhone falls silent. Sweeps run at 1m30s,
	// 2m30s, ... 9m30s: none finds the iPhone idle for 10m.
	pcAt := func(d time.Duration) {
		s = seq{}
		s.syn(pc, "192.168.1.30", d, 128)
		obs(&s)
	}
	for m := 1; m <= 9; m++ {
		pcAt(time.Duration(m)*time.Minute + 30*time.Second)
	}
	if st := a.Stats(); st.Hosts != 2 || st.Expired != 0 {
		t.Fatalf("9m30s in: %+v, want both hosts", st)
	}
	// At 10m15s the iPhone is idle for longer than 10m, but the next
	// sweep is not due before 10m30s.
	pcAt(10*time.Minute + 15*time.Second)
	if st := a.Stats(); st.Hosts != 2 || st.Expired != 0 {
		t.Fatalf("10m15s in: %+v, want no sweep yet", st)
	}
	pcAt(10*time.Minute + 31*time.Second)
	if st := a.Stats(); st.Hosts != 1 || st.Expired != 1 {
		t.Fatalf("10m31s in: %+v, want the iPhone expired and the PC kept", st)
	}
	if got := a.Hosts(); len(got) != 1 || got[0].Device.MAC != pc {
		t.Errorf("hosts left: %+v", got)
	}
}
