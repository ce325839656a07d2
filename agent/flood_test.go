package agent_test

import (
	"bytes"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/scripts/gencap"
	"github.com/orchard-nsm/orchard/signatures"
)

// TestFlood: a SYN flood from many distinct sources (and MACs) fills the
// host table past its bound; the table stays bounded, and the iPhone that
// reads mail after the flood is still alerted. ORCHARD_FLOOD=N sets the
// number of sources (default 30000; the 1,000,000 is for a manual
// run with the heap figure logged).
func TestFlood(t *testing.T) {
	n, maxHosts := 30000, 10000
	if s := os.Getenv("ORCHARD_FLOOD_MAX"); s != "" {
		maxHosts, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("ORCHARD_FLOOD"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	var pcap bytes.Buffer
	lb, err := gencap.Flood(&pcap, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("flood.yaml", []byte("mail:\n  servers:\n    - name: corp-mail\n      names: ["+lb.Mail.Name+"]\n      addresses: ["+lb.Mail.Address+"]\n      protocols: [imaps, submission, https]\nhosts:\n  max: "+strconv.Itoa(maxHosts)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var findings []*correlate.Finding
	a, err := agent.New(cfg, sigs, nil, agent.FindingSinkFunc(func(f *correlate.Finding) { findings = append(findings, f) }))
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var ms runtime.MemStats
	count := 0
	eng := capture.NewEngine(capture.Config{}, observe.SinkFunc(func(o *observe.Observation) {
		a.Observe(o)
		if count++; count%20000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			if f := os.Getenv("ORCHARD_HEAPPROF"); f != "" && count == 600000 {
				if w, err := os.Create(f); err == nil {
					pprof.WriteHeapProfile(w)
					w.Close()
				}
			}
		}
	}))
	src, err := capture.NewFileSource("flood.pcap", &pcap)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Run(src); err != nil {
		t.Fatal(err)
	}
	eng.Flush()
	a.Flush(lb.End)
	st := a.Stats()
	if st.Hosts > maxHosts || st.Evicted == 0 {
		t.Errorf("host table not bounded: %+v", st)
	}
	want := 0
	for _, h := range lb.Hosts {
		if h.Apple && h.ReadsMail {
			want++
		}
	}
	if len(findings) != want || want == 0 {
		t.Errorf("%d alerts after the flood, want %d", len(findings), want)
	}
	t.Logf("%d sources: stats %+v; peak heap in use %.1f MiB (pcap buffer %.1f MiB included)", n, st, float64(peak)/(1<<20), float64(pcap.Cap())/(1<<20))
}
