// Package correlate owns findings: an Apple verdict and work-mail access met
// on one host within the correlation window, in either order. It decides
// whether a finding becomes an alert: one per (device, mail server) per
// suppression window, raised again with updated counts after it; devices on
// the allowlist raise none but are counted.
//
// It imports agent/config (allowlist, windows), agent/verdict and agent/mail
// (the types a Finding carries), and capture/observe. Per-host state lives in
// HostState, kept by the caller with the host. There are no errors.
package correlate

import (
	"net/netip"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/agent/verdict"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// RuleID and RuleName name the one detection rule.
const (
	RuleID   = "orchard.apple-device-work-mail"
	RuleName = "Apple device reached work mail"
	// Severity is the ECS event.severity of the alert (high).
	Severity = 73
)

// Device describes the host a finding is about, at the time of the finding.
type Device struct {
	Key      string // the host key: MAC, or IP for hosts seen only by address
	MAC      observe.MAC
	MACs     []observe.MAC // key MAC first, then linked private MACs
	IPs      []netip.Addr
	Hostname string
	Private  bool
}

// Finding is an alert: everything needed to explain it later.
type Finding struct {
	Time    time.Time // of the packet that completed the finding
	Source  string    // capture file or interface of that packet
	Packet  uint64
	Sensor  string
	Device  Device
	Verdict verdict.Result
	Mail    mail.Access
	Raise   int    // 1 for the first alert of this device and server, 2 and on for re-raises
	Reason  string // "new" or "re-raise"
}

// Outcome is what Evaluate decided.
type Outcome uint8

const (
	None        Outcome = iota // no finding (not Apple, or outside the window)
	Raise                      // raise an alert
	Suppressed                 // a finding, within the suppression window of an earlier alert
	Allowlisted                // a finding for an allowlisted device: counted, not raised
)

func (o Outcome) String() string {
	return [...]string{"none", "raise", "suppressed", "allowlisted"}[o]
}

// Stats count outcomes.
type Stats struct {
	Raised      uint64
	Suppressed  uint64 // new mail flows of alerted devices within suppression
	Allowlisted uint64 // allowlisted (device, server) findings, once per suppression window
}

// Correlator applies the rules. It is not safe for concurrent use.
type Correlator struct {
	window, suppress time.Duration
	allow            []config.Allow
	stats            Stats
}

// New returns a Correlator for the config's correlation section and
// allowlist.
func New(c config.Correlation, allow []config.Allow) *Correlator {
	return &Correlator{window: c.Window, suppress: c.Suppress, allow: allow}
}

// Stats returns the counters.
func (c *Correlator) Stats() Stats { return c.stats }

type alertState struct {
	server     string
	raised     int
	lastRaised time.Time
	allowed    time.Time // last time an allowlisted finding was counted
}

// HostState is one host's alert history. The zero value is ready.
type HostState struct {
	alerts []alertState
}

func (st *HostState) get(server string) *alertState {
	for i := range st.alerts {
		if st.alerts[i].server == server {
			return &st.alerts[i]
		}
	}
	st.alerts = append(st.alerts, alertState{server: server})
	return &st.alerts[len(st.alerts)-1]
}

// Apple is the part of a verdict correlation needs.
type Apple struct {
	Apple      bool
	Since      time.Time // when the verdict turned Apple
	LastApple  time.Time // latest Apple-favouring evidence
	Confidence float64
}

// Within reports whether an Apple verdict and a mail access are at most the
// window apart at now. Observations come in time order, so the event being
// evaluated is the latest: for a new mail flow the gap is back to the latest
// Apple evidence; for a verdict that just turned Apple, back to the latest
// mail activity.
func (c *Correlator) Within(now time.Time, v Apple, acc *mail.Access, newFlow bool) bool {
	other := acc.LastSeen
	if newFlow {
		other = v.LastApple
		if other.Before(v.Since) {
			other = v.Since
		}
	}
	return now.Sub(other) <= c.window
}

// Evaluate decides on one host's access to one mail server at now. newFlow
// says the call is for a new mail flow (suppressed ones are counted).
func (c *Correlator) Evaluate(now time.Time, dev *Device, v Apple, acc *mail.Access, st *HostState, newFlow bool) (Outcome, *config.Allow) {
	if !v.Apple || acc.Flows == 0 || !c.Within(now, v, acc, newFlow) {
		return None, nil
	}
	as := st.get(acc.Server)
	if a := c.allowed(dev, now); a != nil {
		if as.allowed.IsZero() || now.Sub(as.allowed) >= c.suppress {
			as.allowed = now
			c.stats.Allowlisted++
		}
		return Allowlisted, a
	}
	if as.raised > 0 && now.Sub(as.lastRaised) < c.suppress {
		if newFlow {
			c.stats.Suppressed++
		}
		return Suppressed, nil
	}
	as.raised++
	as.lastRaised = now
	c.stats.Raised++
	return Raise, nil
}

// Raised returns how many alerts this host raised for server.
func (st *HostState) Raised(server string) int {
	for i := range st.alerts {
		if st.alerts[i].server == server {
			return st.alerts[i].raised
		}
	}
	return 0
}

// allowed returns the first active allowlist entry matching dev at now.
func (c *Correlator) allowed(dev *Device, now time.Time) *config.Allow {
	for i := range c.allow {
		a := &c.allow[i]
		if !a.Active(now) {
			continue
		}
		if !a.MAC.IsZero() && !containsMAC(dev.MACs, a.MAC) {
			continue
		}
		if a.Prefix.IsValid() && !containsAddr(dev.IPs, a.Prefix) {
			continue
		}
		if a.Hostname != "" && !hostnameMatch(a.Hostname, dev.Hostname) {
			continue
		}
		return a
	}
	return nil
}

func containsMAC(ms []observe.MAC, m observe.MAC) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func containsAddr(as []netip.Addr, p netip.Prefix) bool {
	for _, a := range as {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func hostnameMatch(pattern, h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" {
		return false
	}
	if suf, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(h, suf)
	}
	return h == pattern
}
