package tlshello

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestReaderMatchesCryptobyte runs the same random sequences of reads on
// random inputs through reader and cryptobyte.String: every read must
// succeed or fail alike, and one that succeeds must return the same value
// and leave the same rest. A sequence ends at its first failure (after
// which cryptobyte may have consumed a length prefix; reader has not).
func TestReaderMatchesCryptobyte(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		in := make([]byte, r.IntN(40))
		for j := range in {
			in[j] = byte(r.IntN(8)) // small values: length prefixes often fit
		}
		ours, theirs := reader(in), cryptobyte.String(in)
		for step := range 12 {
			var ok1, ok2 bool
			var v1, v2 []byte
			switch op := r.IntN(5); op {
			case 0:
				var a, b uint8
				ok1, ok2 = ours.u8(&a), theirs.ReadUint8(&b)
				v1, v2 = []byte{a}, []byte{b}
			case 1:
				var a, b uint16
				ok1, ok2 = ours.u16(&a), theirs.ReadUint16(&b)
				v1, v2 = []byte{byte(a >> 8), byte(a)}, []byte{byte(b >> 8), byte(b)}
			case 2:
				n := r.IntN(6)
				ok1, ok2 = ours.bytes(&v1, n), theirs.ReadBytes(&v2, n)
			case 3:
				var a reader
				var b cryptobyte.String
				ok1, ok2 = ours.prefixed8(&a), theirs.ReadUint8LengthPrefixed(&b)
				v1, v2 = a, b
			case 4:
				var a reader
				var b cryptobyte.String
				ok1, ok2 = ours.prefixed16(&a), theirs.ReadUint16LengthPrefixed(&b)
				v1, v2 = a, b
			}
			if ok1 != ok2 || ok1 && (!bytes.Equal(v1, v2) || !bytes.Equal(ours, theirs) || ours.empty() != theirs.Empty()) {
				t.Fatalf("input %d % x, step %d: reader %v %x rest %x; cryptobyte %v %x rest %x", i, in, step, ok1, v1, []byte(ours), ok2, v2, []byte(theirs))
			}
			if !ok1 {
				break
			}
		}
	}
}

// TestExtensionBlockTail: 1..3 bytes left in the extension block cannot
// be an extension and are noted; a whole extension header whose body runs
// past the block is a truncated hello, whatever its size.
func TestExtensionBlockTail(t *testing.T) {
	base := hello{version: 0x0303, ciphers: []uint16{0x1301}, exts: []ext{{extServerName, sniBody("a.example")}}}
	for _, tc := range []struct {
		tail []byte
		err  error
	}{
		{[]byte{0}, nil},
		{[]byte{0, 1}, nil},
		{[]byte{0, 1, 0}, nil},
		{[]byte{0, 1, 0, 1}, ErrTruncated},
		{[]byte{0, 1, 0, 9, 1, 2, 3}, ErrTruncated},
		{[]byte{0, 1, 0, 9, 1, 2, 3, 4, 5, 6}, ErrTruncated},
	} {
		h := base
		h.extTrailer = tc.tail
		var ch ClientHello
		err := ch.Unmarshal(buildHello(h))
		if !errors.Is(err, tc.err) {
			t.Errorf("tail % x: error %v, want %v", tc.tail, err, tc.err)
			continue
		}
		if err == nil && (!slices.Contains(ch.Oddities, OddTrailingDataInExtensions) || ch.ServerName != "a.example") {
			t.Errorf("tail % x: oddities %v, SNI %q", tc.tail, ch.Oddities, ch.ServerName)
		}
	}
}
