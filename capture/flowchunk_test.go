package capture

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestFlowTableChunks: entries are allocated as the number of concurrent
// flows grows, not up front, and reused flows stay in the first chunk;
// a full table still holds exactly max flows.
func TestFlowTableChunks(t *testing.T) {
	const max = 3*flowChunk + 10 // a short last chunk
	tb := newFlowTable(max, time.Minute)
	allocated := func() (n int) {
		for _, c := range tb.chunks {
			if c != nil {
				n++
			}
		}
		return n
	}
	if allocated() != 0 {
		t.Fatalf("%d chunks allocated by an empty table", allocated())
	}
	key := func(n int) *flowKey { return &flowKey{loPort: uint16(n), hiPort: uint16(n >> 16), proto: 6} }
	// Ten thousand short flows, a hundred at a time: one chunk.
	for n := range 10000 {
		tb.insert(key(n))
		if n >= 100 {
			i, ok := tb.lookup(key(n - 100))
			if !ok {
				t.Fatalf("flow %d lost", n-100)
			}
			tb.remove(i)
		}
	}
	if allocated() != 1 || tb.len() != 100 {
		t.Fatalf("%d chunks, %d flows after churn of 100 concurrent flows", allocated(), tb.len())
	}
	for n := 10000; !tb.full(); n++ {
		tb.insert(key(n))
	}
	if allocated() != len(tb.chunks) || tb.len() != max || len(tb.chunks[3]) != 10 {
		t.Fatalf("full table: %d of %d chunks, %d flows, last chunk %d", allocated(), len(tb.chunks), tb.len(), len(tb.chunks[3]))
	}
	for n := 10000; n < 10000+max-100; n++ {
		if _, ok := tb.lookup(key(n)); !ok {
			t.Fatalf("flow %d not found in a full table", n)
		}
	}
}

// TestFlowTableModel drives the table with random inserts, lookups and
// removals over a small key space (so that keys come back after removal,
// entries are reused for other keys and the recent-entry slots go stale,
// and the table fills) and checks every answer against a map.
func TestFlowTableModel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const max = 3000
	tb := newFlowTable(max, time.Minute)
	model := map[flowKey]int32{}
	key := func() flowKey {
		n := r.IntN(6000)
		return flowKey{lo: [16]byte{15: byte(n)}, hi: [16]byte{14: byte(n >> 8)}, loPort: uint16(n % 7), hiPort: 443, proto: 6}
	}
	for step := range 200000 {
		k := key()
		i, ok := tb.lookup(&k)
		want, inModel := model[k]
		if ok != inModel || ok && i != want {
			t.Fatalf("step %d: lookup %v = %d, %v; model %d, %v", step, k.loPort, i, ok, want, inModel)
		}
		switch {
		case ok && r.IntN(2) == 0:
			tb.remove(i)
			delete(model, k)
		case !ok && !tb.full():
			model[k] = tb.insert(&k)
		}
		if tb.len() != len(model) {
			t.Fatalf("step %d: %d entries, model %d", step, tb.len(), len(model))
		}
	}
	for k, i := range model {
		if j, ok := tb.lookup(&k); !ok || j != i {
			t.Fatalf("entry %d lost", i)
		}
	}
}
