package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// TestFlowInterestResolved: a flow is wanted when its server address was
// resolved from a mail server's name, and only then; the bit filter in
// front of the map, rebuilt when the bounded map evicts, never hides an
// address the map holds.
func TestFlowInterestResolved(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte("sensor: s\nmail:\n  servers:\n    - name: corp\n      names: [mail.corp.example]\n      protocols: [imaps]\n"))
	if err != nil {
		t.Fatal(err)
	}
	fi := newFlowInterest()
	fi.set(mail.NewMatcher(cfg.Mail.Servers), nil)
	client := netip.MustParseAddr("10.0.0.5")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	answer := func(at time.Time, name string, addrs ...netip.Addr) {
		d := &observe.DNSMessage{Response: true, Questions: []observe.DNSQuestion{{Name: name, Type: "A", Class: 1}}}
		for _, a := range addrs {
			d.Answers = append(d.Answers, observe.DNSRecord{Name: name, Type: "A", TTL: 300, Addr: a})
		}
		fi.learn(&observe.Observation{Kind: observe.KindDNS, Meta: observe.Meta{Time: at}, DNS: d})
	}
	srv := netip.MustParseAddr("198.51.100.7")
	if fi.Wants(6, client, srv, 50000, 993, "") {
		t.Fatal("wanted before any DNS answer")
	}
	answer(t0, "www.example.org", srv) // not a mail server's name
	if fi.Wants(6, client, srv, 50000, 993, "") {
		t.Fatal("wanted after another name's answer")
	}
	answer(t0, "mail.corp.example", srv)
	if !fi.Wants(6, client, srv, 50000, 993, "") || !fi.Wants(6, client, netip.MustParseAddr("::ffff:198.51.100.7"), 50000, 993, "") {
		t.Fatal("not wanted after the mail server's answer")
	}
	// Fill past the bound: old entries go, the filter is rebuilt, and
	// Wants agrees with the map for every address, kept or not.
	var all []netip.Addr
	for i := range maxResolved + 700 {
		a := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		all = append(all, a)
		answer(t0.Add(time.Duration(i)*time.Millisecond), "mail.corp.example", a)
	}
	kept := 0
	for _, a := range append(all, srv, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")) {
		_, inMap := fi.resolved[a]
		if got := fi.Wants(6, client, a, 50000, 993, ""); got != inMap {
			t.Fatalf("Wants(%v) = %v, in the map: %v", a, got, inMap)
		}
		if inMap {
			kept++
		}
	}
	if len(fi.resolved) > maxResolved || kept < maxResolved/2 {
		t.Errorf("%d resolved addresses kept, %d in the map (bound %d)", kept, len(fi.resolved), maxResolved)
	}
}
