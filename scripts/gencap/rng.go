package gencap

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// rng is the single source of randomness of one capture. It is a seeded PCG,
// so a capture is a pure function of its options.
type rng struct{ *rand.Rand }

func newRNG(seed uint64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(seed, stream^0x6f7263686172642e))}
}

// Read fills p with pseudo-random bytes; it lets uTLS draw its client
// random, session ID and GREASE values from the capture's seed.
func (r rng) Read(p []byte) (int, error) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
	if i < len(p) {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], r.Uint64())
		copy(p[i:], t[:])
	}
	return len(p), nil
}

func (r rng) bytes(n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

// between returns a uniformly random integer in [lo, hi].
func (r rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// dur returns a random duration in [lo, hi).
func (r rng) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

func (r rng) chance(p float64) bool { return r.Float64() < p }

func pick[T any](r rng, xs []T) T { return xs[r.IntN(len(xs))] }
