// Package agent ties orchard's detection together: observations from
// capture go through the signature matcher into per-host evidence (host
// identity in agent/hosts, verdicts in agent/verdict), flows are checked for
// work-mail access (agent/mail), and an Apple verdict meeting mail access
// becomes a finding (agent/correlate) handed to a FindingSink. JSON output
// lives in agent/ecs, the config in agent/config.
//
// It may import capture/observe, signatures and its own subpackages; nothing
// in capture/ or signatures/ imports it. New returns an error (prefixed
// "agent:") only for a config that does not validate. Observe never fails:
// odd observations are ignored and counted.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sort"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/hosts"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/agent/verdict"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/signatures"
)

// Signatures turns an observation into evidence; *signatures.Set is one.
type Signatures interface {
	Match(o *observe.Observation, dst []signatures.Evidence) []signatures.Evidence
	Versions() map[string]string
}

// FindingSink receives alerts. The Finding is the sink's to keep.
type FindingSink interface {
	Finding(*correlate.Finding)
}

// FindingSinkFunc adapts a function to FindingSink.
type FindingSinkFunc func(*correlate.Finding)

// Finding calls f.
func (f FindingSinkFunc) Finding(x *correlate.Finding) { f(x) }

// MailSink, when the FindingSink also implements it, receives every new
// work-mail flow (the orchard.mail events of --events).
type MailSink interface {
	MailAccess(*MailEvent)
}

// MailEvent is one new work-mail flow of a host.
type MailEvent struct {
	Time        time.Time
	Source      string
	Packet      uint64
	Sensor      string
	Device      correlate.Device
	Access      mail.Access // totals so far, this flow included
	CommunityID string      // of this flow
}

// HoldForCounts is how long (in capture time) an alert waits for its mail
// flow to end so that it carries packet and byte counts. The alert keeps the
// time of the packet that completed the finding.
const HoldForCounts = time.Minute

// Stats are the agent's counters.
type Stats struct {
	Observations uint64
	Evidence     uint64
	Hosts        int
	Evicted      uint64
	Expired      uint64
	Linked       uint64
	Routers      int
	MailFlows    uint64
	// FlowEndsDropped counts flow ends of hosts no longer in the table
	// (not mail access): they make no new host.
	FlowEndsDropped uint64
	Findings        uint64 // alerts raised (first and re-raised)
	Suppressed      uint64
	Allowlisted     uint64
}

// HostState is a snapshot of one host (orchard analyze --hosts).
type HostState struct {
	Device      correlate.Device
	FirstSeen   time.Time
	LastSeen    time.Time
	VendorClass string
	Verdict     verdict.Result
	Mail        []mail.Access
	Signatures  []string // versions of every loaded signature file ("file@version")
}

type hostData struct {
	verdict verdict.Accumulator
	mail    mail.HostState
	corr    correlate.HostState
}

type pending struct {
	key      hosts.Key
	server   string
	deadline time.Time
	f        *correlate.Finding
}

// Agent is the detection pipeline. Observe, Flush, Hosts, Stats and Reload
// must be called from one goroutine.
type Agent struct {
	cfg  *config.Config
	sigs Signatures
	// match is sigs, or a memoising signatures.Matcher over it when sigs
	// is a *signatures.Set.
	match   Signatures
	log     *slog.Logger
	sink    FindingSink
	table   *hosts.Table[hostData]
	mail    *mail.Matcher
	corr    *correlate.Correlator
	vp      verdict.Params
	ev      []signatures.Evidence
	devIPs  []netip.Addr // scratch of evaluate
	pending []pending
	// pendingDue is at or before the earliest deadline in pending (a
	// removed entry may leave it early: that costs one walk).
	pendingDue time.Time
	corrOld    correlate.Stats // counters of correlators replaced by Reload
	stats      Stats
	// nextSweep is when (Unix seconds) the next idle sweep is due: a
	// minute after the last. Tick runs for every observation, and
	// time.Time.Sub was most of its cost.
	nextSweep int64
	// interest is the flow filter handed to capture; see FlowInterest.
	interest *FlowInterest
}

// New builds an agent. sink may be nil (findings are then only counted);
// log may be nil.
func New(cfg *config.Config, sigs Signatures, log *slog.Logger, sink FindingSink) (*Agent, error) {
	if cfg == nil || sigs == nil {
		return nil, errors.New("agent: config and signatures are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, sigs: sigs, log: log, sink: sink, interest: newFlowInterest(), nextSweep: math.MinInt64}
	a.table = hosts.New(hosts.Config{
		Max:             cfg.Hosts.Max,
		Idle:            cfg.Hosts.Idle,
		RouterAddresses: cfg.Hosts.RouterAddresses,
		Infrastructure:  cfg.Hosts.Infrastructure,
	}, a.removed)
	a.apply(cfg, sigs)
	return a, nil
}

func (a *Agent) apply(cfg *config.Config, sigs Signatures) {
	a.cfg, a.sigs = cfg, sigs
	a.match = sigs
	if set, ok := sigs.(*signatures.Set); ok {
		a.match = set.NewMatcher()
	}
	a.mail = mail.NewMatcher(cfg.Mail.Servers)
	a.interest.set(a.mail, sigs)
	a.corr = correlate.New(cfg.Correlation, cfg.Allow)
	a.vp = verdict.Params{
		Prior:       cfg.Verdict.Prior,
		Threshold:   cfg.Verdict.Threshold,
		KindCaps:    cfg.Verdict.KindCaps,
		DefaultCap:  cfg.Verdict.DefaultCap,
		MaxEvidence: cfg.Verdict.MaxEvidence,
	}
}

// Reload applies a new config and signature set (SIGHUP). Verdicts are
// re-evaluated under the new parameters; per-host mail access restarts,
// because the mail servers may have changed. The host table bounds stay.
func (a *Agent) Reload(cfg *config.Config, sigs Signatures, now time.Time) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.emitPending(time.Time{}) // everything pending goes out under the old rules
	st := a.corr.Stats()
	a.corrOld.Raised += st.Raised
	a.corrOld.Suppressed += st.Suppressed
	a.corrOld.Allowlisted += st.Allowlisted
	a.apply(cfg, sigs)
	a.table.Each(func(h *hosts.Host[hostData]) {
		h.Data.verdict.Recompute(&a.vp, now)
		h.Data.mail = mail.HostState{}
	})
	return nil
}

// removed is called by the host table before a host is dropped.
func (a *Agent) removed(h *hosts.Host[hostData]) {
	for i := 0; i < len(a.pending); i++ {
		if a.pending[i].key == h.Key {
			a.emit(i, h)
			i--
		}
	}
}

// subject returns the host an observation is about, or nil.
func (a *Agent) subject(o *observe.Observation) *hosts.Host[hostData] {
	switch o.Kind {
	case observe.KindDHCP:
		d := o.DHCP
		if d == nil {
			return nil
		}
		switch d.MessageType {
		case "offer", "ack", "nak", "advertise", "reply":
			ip := netip.Addr{}
			if d.MessageType == "ack" || d.MessageType == "reply" {
				ip = d.AssignedIP
			}
			return a.table.Resolve(d.ClientMAC, ip, o.Time)
		}
		ip := o.Src
		if ip.IsValid() && ip.IsUnspecified() {
			ip = netip.Addr{}
		}
		return a.table.Identify(d, ip, o.Time)
	case observe.KindARP:
		if o.ARP == nil || o.ARP.Op == "ra" || a.table.Infrastructure(o.ARP.MAC) {
			return nil
		}
		return a.table.Resolve(o.ARP.MAC, o.ARP.IP, o.Time)
	case observe.KindDNS:
		if o.DNS != nil && o.DNS.Response {
			return a.table.Resolve(o.DstMAC, o.Dst, o.Time)
		}
	case observe.KindFlow:
		// The end of a flow of a host already forgotten (evicted under a
		// flood of sources) makes no new host unless it is mail access.
		if o.Flow != nil && o.Flow.Reason != "start" {
			if h := a.table.ResolveKnown(o.SrcMAC, o.Src, o.Time); h != nil {
				return h
			}
			if !a.mail.ToServer(o) {
				a.stats.FlowEndsDropped++
				return nil
			}
		}
	}
	return a.table.Resolve(o.SrcMAC, o.Src, o.Time)
}

// Observe folds one observation in. Observations must come in time order.
func (a *Agent) Observe(o *observe.Observation) {
	if o == nil {
		return
	}
	a.stats.Observations++
	now := o.Time
	a.Tick(now)
	if o.Kind == observe.KindDNS {
		a.interest.learn(o)
	}
	a.table.Learn(o)
	h := a.subject(o)
	if h == nil {
		return
	}
	d := &h.Data
	became := false
	a.ev = a.match.Match(o, a.ev[:0])
	for i := range a.ev {
		e := &a.ev[i]
		if e.Time.IsZero() {
			e.Time = now
		}
		a.stats.Evidence++
		if d.verdict.Add(e, &a.vp) && d.verdict.Apple() {
			became = true
		}
	}
	u := a.mail.Observe(&d.mail, o)
	if u.Access != nil {
		if u.NewFlow {
			a.stats.MailFlows++
			if ms, ok := a.sink.(MailSink); ok {
				ms.MailAccess(&MailEvent{
					Time: now, Source: o.Source, Packet: o.Packet, Sensor: a.cfg.Sensor,
					Device: a.device(h, now), Access: u.Access.Clone(), CommunityID: o.Community(),
				})
			}
			a.evaluate(h, u.Access, o, true)
		} else if o.Kind == observe.KindFlow && o.Flow != nil && o.Flow.Reason != "start" {
			// A mail flow ended: a held alert now has its counts.
			for i := 0; i < len(a.pending); i++ {
				if a.pending[i].key == h.Key && a.pending[i].server == u.Access.Server {
					a.emit(i, h)
					i--
				}
			}
		}
	}
	if became {
		for i := range d.mail.Accesses {
			a.evaluate(h, &d.mail.Accesses[i], o, false)
		}
	}
}

func (a *Agent) evaluate(h *hosts.Host[hostData], acc *mail.Access, o *observe.Observation, newFlow bool) {
	d := &h.Data
	v := correlate.Apple{
		Apple:      d.verdict.Apple(),
		Since:      d.verdict.AppleSince(),
		LastApple:  d.verdict.LastApple(),
		Confidence: d.verdict.Confidence(&a.vp),
	}
	if !v.Apple {
		return
	}
	// The allow list reads the device's MACs, addresses and name: a
	// view over the host and a reused address slice will do. Only an
	// alert or an allowlisted finding (logged) gets its own copy, not
	// the suppressed findings that most new mail flows of a device are.
	a.devIPs = a.deviceIPs(h, o.Time, a.devIPs[:0])
	dev := correlate.Device{MAC: h.Key.MAC, MACs: h.MACs, IPs: a.devIPs, Hostname: h.Hostname, Private: h.Private}
	out, allow := a.corr.Evaluate(o.Time, &dev, v, acc, &d.corr, newFlow)
	if out == correlate.Raise || out == correlate.Allowlisted {
		dev = a.device(h, o.Time)
	}
	switch out {
	case correlate.Allowlisted:
		a.log.Debug("allowlisted device reached work mail", "host", dev.Key, "server", acc.Server, "reason", allow.Reason)
	case correlate.Raise:
		n := d.corr.Raised(acc.Server)
		reason := "new"
		if n > 1 {
			reason = "re-raise"
		}
		f := &correlate.Finding{
			Time: o.Time, Source: o.Source, Packet: o.Packet, Sensor: a.cfg.Sensor,
			Device: dev, Raise: n, Reason: reason,
		}
		d := o.Time.Add(HoldForCounts)
		a.pending = append(a.pending, pending{key: h.Key, server: acc.Server, deadline: d, f: f})
		if len(a.pending) == 1 || d.Before(a.pendingDue) {
			a.pendingDue = d
		}
		// The flow may already be over (a flow-end record completed it).
		if o.Kind == observe.KindFlow && o.Flow != nil && o.Flow.Reason != "start" {
			a.emit(len(a.pending)-1, h)
		}
	}
}

// emit completes pending finding i with the host's current verdict and mail
// counts and hands it to the sink.
func (a *Agent) emit(i int, h *hosts.Host[hostData]) {
	p := a.pending[i]
	a.pending = append(a.pending[:i], a.pending[i+1:]...)
	if h != nil {
		p.f.Verdict = h.Data.verdict.Result(&a.vp)
		for j := range h.Data.mail.Accesses {
			if h.Data.mail.Accesses[j].Server == p.server {
				p.f.Mail = h.Data.mail.Accesses[j].Clone()
			}
		}
	}
	if a.sink != nil {
		a.sink.Finding(p.f)
	}
}

// emitPending emits held findings whose deadline is before now; a zero now
// emits all.
func (a *Agent) emitPending(now time.Time) {
	// Most observations come while an alert is held and none is due:
	// the earliest deadline answers without a walk of the list.
	if !now.IsZero() && now.Before(a.pendingDue) {
		return
	}
	var next time.Time
	for i := 0; i < len(a.pending); i++ {
		if d := a.pending[i].deadline; now.IsZero() || !now.Before(d) {
			a.emit(i, a.table.Get(a.pending[i].key))
			i--
		} else if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	a.pendingDue = next
}

// Tick advances the agent's clock without an observation: held alerts whose
// wait is over are emitted and idle hosts expire. Live capture calls it
// every few seconds so a quiet network does not hold an alert back.
func (a *Agent) Tick(now time.Time) {
	if len(a.pending) > 0 {
		a.emitPending(now)
	}
	if sec := now.Unix(); sec >= a.nextSweep {
		a.table.Expire(now)
		a.nextSweep = sec + 60
	}
}

// Flush ends the input: held alerts are emitted with the counts so far.
func (a *Agent) Flush(now time.Time) {
	a.emitPending(time.Time{})
	_ = now
}

// device describes h at time now. Addresses that have since moved to
// another device are left out.
func (a *Agent) device(h *hosts.Host[hostData], now time.Time) correlate.Device {
	return correlate.Device{
		Key:      h.Key.String(),
		MAC:      h.Key.MAC,
		MACs:     append([]observe.MAC(nil), h.MACs...),
		IPs:      a.deviceIPs(h, now, nil),
		Hostname: h.Hostname,
		Private:  h.Private,
	}
}

// deviceIPs appends to dst h's addresses at time now, most recent first.
func (a *Agent) deviceIPs(h *hosts.Host[hostData], now time.Time, dst []netip.Addr) []netip.Addr {
	for i := len(h.IPs) - 1; i >= 0; i-- {
		ip := h.IPs[i].Addr
		if !h.Key.MAC.IsZero() {
			if m, ok := a.table.OwnerAt(ip, now); ok {
				if k, _ := a.table.KeyFor(m, netip.Addr{}, now); k != h.Key {
					continue
				}
			}
		}
		dst = append(dst, ip)
	}
	return dst
}

// Hosts returns a snapshot of every host, ordered by key.
func (a *Agent) Hosts() []HostState {
	var out []HostState
	var versions []string
	for f, v := range a.sigs.Versions() {
		versions = append(versions, f+"@"+v)
	}
	sort.Strings(versions)
	a.table.Each(func(h *hosts.Host[hostData]) {
		s := HostState{
			Device:      a.device(h, h.LastSeen),
			FirstSeen:   h.FirstSeen,
			LastSeen:    h.LastSeen,
			VendorClass: h.VendorClass,
			Verdict:     h.Data.verdict.Result(&a.vp),
			Signatures:  versions,
		}
		for i := range h.Data.mail.Accesses {
			s.Mail = append(s.Mail, h.Data.mail.Accesses[i].Clone())
		}
		out = append(out, s)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Device.Key < out[j].Device.Key })
	return out
}

// Stats returns the counters.
func (a *Agent) Stats() Stats {
	s := a.stats
	ts := a.table.Stats()
	s.Hosts, s.Evicted, s.Expired, s.Linked, s.Routers = ts.Hosts, ts.Evicted, ts.Expired, ts.Linked, ts.Routers
	cs := a.corr.Stats()
	s.Findings = cs.Raised + a.corrOld.Raised
	s.Suppressed = cs.Suppressed + a.corrOld.Suppressed
	s.Allowlisted = cs.Allowlisted + a.corrOld.Allowlisted
	return s
}

// Config returns the config in use.
func (a *Agent) Config() *config.Config { return a.cfg }
