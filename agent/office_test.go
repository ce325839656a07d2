package agent_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/scripts/gencap"
	"github.com/orchard-nsm/orchard/signatures"
)

type officeRun struct {
	labels   *gencap.Labels
	hosts    []agent.HostState
	findings []*correlate.Finding
	stats    agent.Stats
}

// runOffice generates a labelled capture, runs it through the capture
// engine and the agent with the embedded signatures, and returns what the
// agent concluded.
func runOffice(t testing.TB, gen func(*bytes.Buffer) (*gencap.Labels, error)) *officeRun {
	t.Helper()
	var pcap bytes.Buffer
	lb, err := gen(&pcap)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	var cfgText strings.Builder
	fmt.Fprintf(&cfgText, "sensor: office\nmail:\n  servers:\n    - name: corp-mail\n      names: [%s]\n      addresses: [%s]\n      protocols: [imap, imaps, submission, https]\n",
		lb.Mail.Name, lb.Mail.Address)
	fmt.Fprintf(&cfgText, "    - name: activesync\n      names: [%s]\n      protocols: [https]\n", lb.Mail.ActiveSync)
	if len(lb.Allowlist) > 0 {
		cfgText.WriteString("allow:\n")
		for _, m := range lb.Allowlist {
			fmt.Fprintf(&cfgText, "  - mac: %q\n    reason: approved in the labels\n", m)
		}
	}
	cfg, err := config.Parse("office.yaml", []byte(cfgText.String()))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	r := &officeRun{labels: lb}
	a, err := agent.New(cfg, sigs, nil, agent.FindingSinkFunc(func(f *correlate.Finding) { r.findings = append(r.findings, f) }))
	if err != nil {
		t.Fatal(err)
	}
	// The flow filter orchard uses: only flows the agent can use are reported.
	eng := capture.NewEngine(capture.Config{FlowFilter: a.FlowInterest().Wants}, observe.SinkFunc(a.Observe))
	src, err := capture.NewFileSource("office.pcap", &pcap)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Run(src); err != nil {
		t.Fatalf("capture: %v", err)
	}
	eng.Flush()
	a.Flush(lb.End)
	r.hosts, r.stats = a.Hosts(), a.Stats()
	return r
}

// hostFor finds the agent's host for a labelled MAC (linked MACs included).
func (r *officeRun) hostFor(mac string) *agent.HostState {
	for i := range r.hosts {
		for _, m := range r.hosts[i].Device.MACs {
			if m.String() == mac {
				return &r.hosts[i]
			}
		}
	}
	return nil
}

func (r *officeRun) alerted(mac string) bool {
	for _, f := range r.findings {
		for _, m := range f.Device.MACs {
			if m.String() == mac {
				return true
			}
		}
	}
	return false
}

func TestOfficeDay(t *testing.T) {
	if testing.Short() {
		t.Skip("office day capture: not in -short")
	}
	r := runOffice(t, func(b *bytes.Buffer) (*gencap.Labels, error) {
		return gencap.Office(b, gencap.OfficeOptions{Hosts: 60, Seed: 1})
	})
	checkOffice(t, r)
}

func TestSampleCapture(t *testing.T) {
	r := runOffice(t, func(b *bytes.Buffer) (*gencap.Labels, error) { return gencap.Sample(b) })
	checkOffice(t, r)
}

func checkOffice(t *testing.T, r *officeRun) {
	t.Helper()
	apple, found := 0, 0
	for _, l := range r.labels.Hosts {
		h := r.hostFor(l.MAC)
		if l.Apple {
			apple++
			if h == nil || !h.Verdict.Apple {
				conf := -1.0
				if h != nil {
					conf = h.Verdict.Confidence
				}
				t.Errorf("Apple host %s (%s, %s) not found: confidence %.3f", l.ID, l.Platform, l.MAC, conf)
				continue
			}
			found++
			if len(h.Verdict.Evidence) == 0 {
				t.Errorf("Apple verdict for %s without evidence", l.ID)
			}
		} else if h != nil && h.Verdict.Apple {
			var ev []string
			for _, e := range h.Verdict.Evidence {
				ev = append(ev, fmt.Sprintf("%s(%.1f)", e.SignatureID, e.Weight))
			}
			t.Errorf("non-Apple host %s (%s) called Apple, confidence %.3f: %s", l.ID, l.Platform, h.Verdict.Confidence, strings.Join(ev, " "))
		}
		// Alerts: Apple devices that read work mail, unless approved.
		want := l.Apple && l.ReadsMail && !l.Allowlisted
		if got := r.alerted(l.MAC); got != want {
			t.Errorf("host %s (%s, reads mail %v, allowlisted %v): alerted %v, want %v (%s)", l.ID, l.Platform, l.ReadsMail, l.Allowlisted, got, want, l.Note)
		}
	}
	if apple == 0 {
		t.Fatal("labels have no Apple host")
	}
	if rate := float64(found) / float64(apple); rate < 0.99 {
		t.Errorf("found %d of %d Apple hosts (%.1f%%), want at least 99%%", found, apple, 100*rate)
	}
	t.Logf("%d labelled hosts, %d Apple, %d found; %d alerts; stats %+v", len(r.labels.Hosts), apple, found, len(r.findings), r.stats)
}

// BenchmarkObserveOffice replays the observations of the sample office
// capture (decoded once) through an agent with the embedded signatures:
// the per-observation cost of matching, verdicts, mail and correlation.
func BenchmarkObserveOffice(b *testing.B) {
	var pcap bytes.Buffer
	lb, err := gencap.Office(&pcap, gencap.OfficeOptions{Hosts: 60, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var obs []*observe.Observation
	eng := capture.NewEngine(capture.Config{}, observe.SinkFunc(func(o *observe.Observation) { obs = append(obs, o) }))
	src, err := capture.NewFileSource("office.pcap", &pcap)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Run(src); err != nil {
		b.Fatal(err)
	}
	eng.Flush()
	cfg, err := config.Parse("b.yaml", []byte("mail:\n  servers:\n    - name: corp-mail\n      names: ["+lb.Mail.Name+"]\n      addresses: ["+lb.Mail.Address+"]\n      protocols: [imap, imaps, submission, https]\n"))
	if err != nil {
		b.Fatal(err)
	}
	sigs, err := signatures.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(cfg, sigs, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range obs {
		a.Observe(o)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Observe(obs[i%len(obs)])
	}
	b.ReportMetric(float64(len(obs)), "observations")
}
