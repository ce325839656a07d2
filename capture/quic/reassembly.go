package quic

import "math/bits"

// MaxClientHello bounds the CRYPTO stream kept per connection. A ClientHello
// with a post-quantum key share is under 2 KiB; 16 KiB leaves room for large
// PSK tickets and ECH while keeping a flood of half-open connections bounded.
const MaxClientHello = 16 << 10

// reassembly collects one connection's CRYPTO stream by offset: out of order,
// overlapping and duplicated pieces are accepted; a later copy of a byte
// overwrites an earlier one.
type reassembly struct {
	data   [MaxClientHello]byte
	have   [MaxClientHello / 64]uint64 // one bit per byte of data received
	contig int                         // bytes [0, contig) are all present
	hi     int                         // highest end offset written, for a cheap reset
}

func (r *reassembly) reset() {
	clear(r.have[:(r.hi+63)/64])
	r.contig, r.hi = 0, 0
}

// write stores p at stream offset off. It returns false, storing nothing,
// when the piece reaches past MaxClientHello.
func (r *reassembly) write(off uint64, p []byte) bool {
	if len(p) == 0 {
		return off <= MaxClientHello
	}
	if off >= MaxClientHello || uint64(len(p)) > MaxClientHello-off {
		return false
	}
	start, end := int(off), int(off)+len(p)
	copy(r.data[start:end], p)
	for i := start; i < end; {
		w, b := i/64, i%64
		n := min(64-b, end-i)
		r.have[w] |= (^uint64(0) >> (64 - n)) << b
		i += n
	}
	r.hi = max(r.hi, end)
	if start <= r.contig {
		r.advance()
	}
	return true
}

// advance moves contig over every byte present after it.
func (r *reassembly) advance() {
	for r.contig < r.hi {
		w, b := r.contig/64, r.contig%64
		missing := ^r.have[w] >> b
		if missing == 0 {
			r.contig = (w + 1) * 64
			continue
		}
		r.contig += bits.TrailingZeros64(missing)
		break
	}
	r.contig = min(r.contig, r.hi)
}
