package agent_test

import (
	"bytes"
	"testing"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/scripts/gencap"
	"github.com/orchard-nsm/orchard/signatures"
)

// benchMixObservations runs a gencap bench mix through the engine with the
// agent's flow filter, as orchard analyze does, and returns what the agent
// saw.
func benchMixObservations(b *testing.B, mix string) (*config.Config, *signatures.Set, []*observe.Observation) {
	b.Helper()
	var pcap bytes.Buffer
	if _, err := gencap.Bench(&pcap, gencap.BenchOptions{Packets: 200000, Mix: mix, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Default()
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
	var obs []*observe.Observation
	eng := capture.NewEngine(capture.Config{FlowFilter: a.FlowInterest().Wants}, observe.SinkFunc(func(o *observe.Observation) {
		obs = append(obs, o)
		a.Observe(o)
	}))
	src, err := capture.NewFileSource(mix, &pcap)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Run(src); err != nil {
		b.Fatal(err)
	}
	eng.Flush()
	return cfg, sigs, obs
}

// benchAgentMix measures the agent alone on the observations of 200k
// packets of a bench mix: one fresh agent per run.
func benchAgentMix(b *testing.B, mix string) {
	cfg, sigs, obs := benchMixObservations(b, mix)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a, err := agent.New(cfg, sigs, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range obs {
			a.Observe(o)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(obs)), "ns/obs")
	b.ReportMetric(float64(len(obs)), "obs/run")
}

func BenchmarkAgentHandshakeMix(b *testing.B) { benchAgentMix(b, "handshake") }
func BenchmarkAgentOfficeMix(b *testing.B)    { benchAgentMix(b, "office") }
