package gencap

import (
	"io"
	"testing"
)

// BenchmarkBench measures generator throughput; ns/op is per packet.
func BenchmarkBenchOffice(b *testing.B) {
	b.ReportAllocs()
	st, err := Bench(io.Discard, BenchOptions{Packets: b.N, Mix: "office", Seed: 1})
	if err != nil || st.Packets != b.N {
		b.Fatal(err)
	}
}

func BenchmarkBenchHandshake(b *testing.B) {
	b.ReportAllocs()
	st, err := Bench(io.Discard, BenchOptions{Packets: b.N, Mix: "handshake", Seed: 1})
	if err != nil || st.Packets != b.N {
		b.Fatal(err)
	}
}
