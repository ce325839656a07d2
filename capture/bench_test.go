package capture

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/scripts/gencap"
)

type memPacket struct {
	data []byte
	info PacketInfo
}

// loadBench generates a benchmark capture in memory and reads it back.
func loadBench(b *testing.B, mix string, n int) []memPacket {
	b.Helper()
	var buf bytes.Buffer
	if _, err := gencap.Bench(&buf, gencap.BenchOptions{Packets: n, Mix: mix, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	src, err := NewFileSource(mix, &buf)
	if err != nil {
		b.Fatal(err)
	}
	var pkts []memPacket
	for {
		d, info, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, memPacket{append([]byte(nil), d...), info})
	}
	return pkts
}

type discard struct{ n int }

func (d *discard) Observe(*observe.Observation) { d.n++ }

// benchEngine measures the capture pipeline alone (decode, flows,
// reassembly, parsers, fingerprints) from packets in memory.
func benchEngine(b *testing.B, mix string) {
	pkts := loadBench(b, mix, 200000)
	sink := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for i := 0; i < b.N; i++ {
		e := NewEngine(Config{ReuseObservations: true}, sink)
		for j := range pkts {
			e.Packet(pkts[j].data, pkts[j].info, layers.LinkTypeEthernet)
		}
		e.Flush()
		total += len(pkts)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "pkts/s")
	b.ReportMetric(float64(sink.n)/float64(b.N), "obs/run")
}

func BenchmarkEngineOffice(b *testing.B)    { benchEngine(b, "office") }
func BenchmarkEngineHandshake(b *testing.B) { benchEngine(b, "handshake") }
