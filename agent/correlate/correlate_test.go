package correlate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/capture/observe"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestWithin(t *testing.T) {
	c := New(config.Correlation{Window: time.Hour, Suppress: time.Hour}, nil)
	v := Apple{Apple: true, Since: t0, LastApple: t0.Add(10 * time.Minute)}
	acc := &mail.Access{FirstSeen: t0.Add(-3 * time.Hour), LastSeen: t0.Add(-time.Hour), Flows: 1}
	cases := []struct {
		now     time.Time
		newFlow bool
		want    bool
	}{
		{t0, false, true},                       // verdict turns Apple exactly a window after the last mail
		{t0.Add(time.Nanosecond), false, false}, // a moment later
		{t0.Add(70 * time.Minute), true, true},  // new mail a window after the last Apple evidence
		{t0.Add(70*time.Minute + time.Second), true, false},
	}
	for i, cs := range cases {
		if got := c.Within(cs.now, v, acc, cs.newFlow); got != cs.want {
			t.Errorf("case %d: got %v want %v", i, got, cs.want)
		}
	}
}

func TestEvaluateAndAllowlist(t *testing.T) {
	allow := []config.Allow{
		{Hostname: "*-lab-ipad", Reason: "lab"},
		{Prefix: netip.MustParsePrefix("10.20.0.0/24"), Hostname: "kiosk", Reason: "both must match"},
		{MAC: observe.MAC{2, 0, 0, 0, 0, 1}, Reason: "expiring", Expires: t0.Add(time.Hour)},
	}
	c := New(config.Correlation{Window: 24 * time.Hour, Suppress: time.Hour}, allow)
	v := Apple{Apple: true, Since: t0, LastApple: t0}
	acc := &mail.Access{Server: "m", FirstSeen: t0, LastSeen: t0, Flows: 1}
	cases := []struct {
		name string
		dev  Device
		now  time.Time
		want Outcome
	}{
		{"hostname wildcard", Device{Hostname: "QA-Lab-iPad."}, t0, Allowlisted},
		{"prefix and hostname", Device{Hostname: "kiosk", IPs: []netip.Addr{netip.MustParseAddr("10.20.0.7")}}, t0, Allowlisted},
		{"prefix without hostname", Device{Hostname: "other", IPs: []netip.Addr{netip.MustParseAddr("10.20.0.7")}}, t0, Raise},
		{"mac before expiry", Device{MACs: []observe.MAC{{2, 0, 0, 0, 0, 1}}}, t0.Add(59 * time.Minute), Allowlisted},
		{"mac at expiry", Device{MACs: []observe.MAC{{2, 0, 0, 0, 0, 1}}}, t0.Add(time.Hour), Raise},
	}
	for _, cs := range cases {
		var st HostState
		if got, _ := c.Evaluate(cs.now, &cs.dev, v, acc, &st, true); got != cs.want {
			t.Errorf("%s: %v, want %v", cs.name, got, cs.want)
		}
	}
	var st HostState
	d := Device{Key: "x"}
	if o, _ := c.Evaluate(t0, &d, Apple{}, acc, &st, true); o != None {
		t.Errorf("not Apple: %v", o)
	}
	seq := []struct {
		at   time.Duration
		want Outcome
	}{{0, Raise}, {30 * time.Minute, Suppressed}, {time.Hour, Raise}, {time.Hour + time.Minute, Suppressed}}
	for _, s := range seq {
		if o, _ := c.Evaluate(t0.Add(s.at), &d, v, acc, &st, true); o != s.want {
			t.Errorf("at %v: %v, want %v", s.at, o, s.want)
		}
	}
	if st.Raised("m") != 2 {
		t.Errorf("raised %d", st.Raised("m"))
	}
}
