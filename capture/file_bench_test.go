package capture

import (
	"io"
	"os"
	"testing"
)

// benchRead reads a whole capture through open; the office bench file is
// made by `make bench` (scripts/bench.sh), so the benchmark skips without it.
func benchRead(b *testing.B, open func(string) (Source, error)) {
	const name = "../.out/bench/office.pcap"
	if _, err := os.Stat(name); err != nil {
		b.Skip("no .out/bench/office.pcap: make bench writes it (or go run ./scripts/gencap/cmd/gencap -kind bench -n 200000 -seed 1 -o .out/bench/office.pcap)")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		src, err := open(name)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := src.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		src.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkReadFile measures reading a classic pcap file alone (read(2)
// into the reused buffer, record headers), as orchard analyze reads it.
func BenchmarkReadFile(b *testing.B) {
	benchRead(b, func(name string) (Source, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		s, err := NewFileSource(name, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		s.(*fileSource).closer = f
		return s, nil
	})
}
