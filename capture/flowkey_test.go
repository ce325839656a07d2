package capture

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// makeKey is setKey for two 16-byte addresses.
func makeKey(src, dst [16]byte, sport, dport uint16, proto uint8) (k flowKey, srcIsLo bool) {
	be := binary.BigEndian
	srcIsLo = setKey(&k, be.Uint64(src[:8]), be.Uint64(src[8:]), be.Uint64(dst[:8]), be.Uint64(dst[8:]), sport, dport, proto)
	return k, srcIsLo
}

// TestMakeKeyOrder: the word-wise comparison orders addresses as
// bytes.Compare does (ties broken by port), so both directions of a flow
// share one key.
func TestMakeKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		var a, b [16]byte
		for j := range a {
			a[j] = byte(r.IntN(3)) // few values: many equal prefixes
			b[j] = byte(r.IntN(3))
		}
		if i%4 == 0 {
			b = a
		}
		pa, pb := uint16(r.IntN(3)), uint16(r.IntN(3))
		k, lo := makeKey(a, b, pa, pb, 6)
		c := bytes.Compare(a[:], b[:])
		want := c < 0 || (c == 0 && pa <= pb)
		if lo != want {
			t.Fatalf("%x:%d %x:%d: srcIsLo %v, want %v", a, pa, b, pb, lo, want)
		}
		k2, _ := makeKey(b, a, pb, pa, 6)
		if k != k2 {
			t.Fatalf("%x:%d %x:%d: directions give different keys", a, pa, b, pb)
		}
	}
}
