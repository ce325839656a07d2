package quic

import (
	"testing"
	"time"
)

// BenchmarkInitial: one Initial datagram of a new connection to its
// ClientHello: key derivation, header protection, AEAD, frames, reassembly,
// and an LRU eviction once the table is full.
func BenchmarkInitial(b *testing.B) {
	const n = 1024
	ch := fakeClientHello(1700, 1) // about a post-quantum Chrome ClientHello
	ds := make([][]byte, n)
	for i := range ds {
		dcid := []byte{byte(i >> 8), byte(i), 2, 3, 4, 5, 6, 7}
		ds[i] = newSealer(b, Version1, dcid).initial(dcid, nil, 0, padTo(cat(cryptoFrame(800, ch[800:]), cryptoFrame(0, ch[:800])), 1200))
	}
	tr := NewTracker(256, time.Minute) // smaller than n: every datagram is a new connection
	b.SetBytes(int64(len(ds[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := tr.Datagram(t0, ds[i%n]); !ok {
			b.Fatal(err)
		}
	}
}

// BenchmarkInitialKnownConn: the same datagram for a connection whose keys
// are cached; the connection is re-armed each time so the packet is opened,
// parsed and completes a ClientHello again.
func BenchmarkInitialKnownConn(b *testing.B) {
	ch := fakeClientHello(1700, 1)
	dcid := []byte("benchdcid")
	d := newSealer(b, Version1, dcid).initial(dcid, nil, 0, padTo(cat(cryptoFrame(800, ch[800:]), cryptoFrame(0, ch[:800])), 1200))
	tr := NewTracker(256, time.Minute)
	if _, ok, err := tr.Datagram(t0, d); !ok {
		b.Fatal(err)
	}
	c := &tr.slots[tr.dcids[makeCID(dcid)]]
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.finished, c.largestPN, c.packets = false, -1, 0
		c.r = tr.pool[len(tr.pool)-1]
		tr.pool = tr.pool[:len(tr.pool)-1]
		if _, ok, err := tr.Datagram(t0, d); !ok {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotInitial: the cost of rejecting a 1-RTT datagram.
func BenchmarkNotInitial(b *testing.B) {
	d := make([]byte, 1200)
	d[0] = 0x43
	tr := NewTracker(256, time.Minute)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tr.Datagram(t0, d)
	}
}
