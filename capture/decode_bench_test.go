package capture

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// BenchmarkDecode measures the decode path alone (gopacket layers, no
// flows) on the office mix.
func BenchmarkDecode(b *testing.B) {
	pkts := loadBench(b, "office", 20000)
	d := newDecoder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &pkts[i%len(pkts)]
		if err := d.decode(layers.LinkTypeEthernet, p.data); err != nil && !d.has.tcp && !d.has.udp {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeGopacket is BenchmarkDecode with the hand-written fast
// path off: gopacket's DecodingLayerParser for every packet.
func BenchmarkDecodeGopacket(b *testing.B) {
	pkts := loadBench(b, "office", 20000)
	d := newDecoder()
	d.noFast = true
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &pkts[i%len(pkts)]
		if err := d.decode(layers.LinkTypeEthernet, p.data); err != nil && !d.has.tcp && !d.has.udp {
			b.Fatal(err)
		}
	}
}
