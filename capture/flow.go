package capture

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// flowKey identifies a flow independent of direction: the endpoint with the
// smaller (address, port) comes first. It is a small comparable struct:
// lookups hash 37 bytes and allocate nothing.
type flowKey struct {
	lo, hi         [16]byte
	loPort, hiPort uint16
	proto          uint8
}

// dir is a packet's direction within its flow.
type dir uint8

const (
	toServer dir = 0 // client (initiator) to server
	toClient dir = 1
)

type flowState uint8

const (
	inspectPending flowState = iota // deciding what the client stream is
	inspectDone                     // nothing more to look at; only count
)

// flow is one entry of the flow table. Entries live in a preallocated slice
// and are linked into an LRU list by index.
type flow struct {
	key       flowKey
	clientLo  bool // the client is key.lo
	clientMAC observe.MAC
	serverMAC observe.MAC
	vlan      uint16
	start     int64 // unix nanos
	last      int64
	touched   int64 // when the entry last moved to the LRU head (see lruGrain)
	pkts      [2]uint64
	bytes     [2]uint64
	syn       bool
	synAck    bool
	fin       [2]bool
	rst       bool
	ended     bool
	report    bool // start and end are reported (Config.FlowFilter)
	state     flowState
	community string
	// stream is the per-direction first-flight reassembly state, from the
	// engine's spares while the flow is inspected (inspectPending), nil
	// before and after: most flows in the table are past inspection, and
	// without it an entry is a third of the size.
	stream    *[2]stream
	mode      streamMode
	helloDone bool
	prologue  string
	plain     []string // plaintext mail commands seen (redacted)
	prev      int32
	next      int32
	hnext     int32 // next entry in the same hash bucket, -1 at the end
	inUse     bool
}

func (f *flow) client() (addr netip.Addr, port uint16) {
	if f.clientLo {
		return addrFrom(f.key.lo, f.key.proto), f.key.loPort
	}
	return addrFrom(f.key.hi, f.key.proto), f.key.hiPort
}

func (f *flow) server() (addr netip.Addr, port uint16) {
	if f.clientLo {
		return addrFrom(f.key.hi, f.key.proto), f.key.hiPort
	}
	return addrFrom(f.key.lo, f.key.proto), f.key.loPort
}

// addrFrom rebuilds an address; IPv4 is stored as a v4-mapped address.
func addrFrom(b [16]byte, _ uint8) netip.Addr {
	a := netip.AddrFrom16(b)
	if a.Is4In6() {
		return a.Unmap()
	}
	return a
}

// flowTable is a bounded flow table with idle expiry and LRU eviction.
//
// Entries are allocated flowChunk at a time when the free list first
// reaches them. The free list hands out low indices first and reuses freed
// ones first, so memory follows the peak number of concurrent flows, not
// MaxFlows: a table sized for a gateway's worst case costs a quiet
// capture little, and the garbage collector does not scan (nor the
// process touch) tens of megabytes of unused entries.
//
// The index is a chained hash table over the entries (bucket
// heads plus a next index in each entry), not a Go map: a gateway churns
// through flows (a SYN flood inserts and deletes a million keys), and Go's
// swiss-table maps slow down badly under such insert/delete churn until they
// grow, while chains stay short (buckets = 2 x entries) and cost no garbage.
type flowTable struct {
	buckets []int32 // head entry of each bucket, -1 if empty
	// recent maps a few hash bits to the entry last found or inserted
	// with them. The packets of a connection come close together (SYN,
	// SYN-ACK, ACK, ClientHello, ...), and this 1 KiB stays in the
	// first-level cache where a bucket of a table sized for the worst
	// case (512 KiB by default) was a cache miss per packet. A hit is
	// checked like a chain entry (in use, same key), so a stale slot
	// only costs the chain walk.
	recent [recentFlows]int32
	mask   uint64
	seed   [3]uint64 // random per table: chain lengths cannot be chosen from outside
	n      int
	chunks [][]flow // entries, flowChunk each; nil until first used
	free   []int32
	head   int32 // most recently used
	tail   int32 // least recently used
	idle   int64
	max    int
}

func newFlowTable(max int, idle time.Duration) *flowTable {
	nb := 1
	for nb < 2*max {
		nb <<= 1
	}
	t := &flowTable{
		buckets: make([]int32, nb),
		mask:    uint64(nb - 1),
		seed:    [3]uint64{rand.Uint64() | 1, rand.Uint64() | 1, rand.Uint64() | 1},
		chunks:  make([][]flow, (max+flowChunk-1)/flowChunk),
		free:    make([]int32, max),
		head:    -1,
		tail:    -1,
		idle:    int64(idle),
		max:     max,
	}
	for i := range t.free {
		t.free[i] = int32(max - 1 - i)
	}
	for i := range t.buckets {
		t.buckets[i] = -1
	}
	for i := range t.recent {
		t.recent[i] = -1
	}
	return t
}

func (t *flowTable) len() int { return t.n }

// recentFlows is the size of flowTable.recent.
const recentFlows = 256

// flowChunk is how many entries are allocated at a time.
const flowChunk = 1024

// at returns entry i, which must have been allocated.
func (t *flowTable) at(i int32) *flow { return &t.chunks[uint32(i)/flowChunk][uint32(i)%flowChunk] }

// alloc makes sure entry i's chunk exists.
func (t *flowTable) alloc(i int32) {
	c := i / flowChunk
	if t.chunks[c] == nil {
		t.chunks[c] = make([]flow, min(flowChunk, t.max-int(c)*flowChunk))
	}
}

// bucket hashes k with a seeded multiply-mix over its words (as wyhash
// does): maphash.Comparable walked the padded struct field by field and was
// a third of the lookup.
func (t *flowTable) bucket(k *flowKey) uint64 { return t.hash(k) & t.mask }

func (t *flowTable) hash(k *flowKey) uint64 {
	be := binary.LittleEndian
	a := mix(be.Uint64(k.lo[:8])^t.seed[0], be.Uint64(k.lo[8:])^t.seed[1])
	b := mix(be.Uint64(k.hi[:8])^t.seed[1], be.Uint64(k.hi[8:])^t.seed[2])
	c := uint64(k.loPort)<<24 | uint64(k.hiPort)<<8 | uint64(k.proto)
	return mix(a^c, b^t.seed[0])
}

// recentSlot is k's slot in t.recent, from hash bits the bucket index
// does not use.
func recentSlot(h uint64) uint64 { return h >> 40 % recentFlows }

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// sameKey compares keys word by word (the struct == goes through memequal
// for the arrays).
func sameKey(a, b *flowKey) bool {
	be := binary.LittleEndian
	return be.Uint64(a.lo[:8]) == be.Uint64(b.lo[:8]) && be.Uint64(a.lo[8:]) == be.Uint64(b.lo[8:]) &&
		be.Uint64(a.hi[:8]) == be.Uint64(b.hi[:8]) && be.Uint64(a.hi[8:]) == be.Uint64(b.hi[8:]) &&
		a.loPort == b.loPort && a.hiPort == b.hiPort && a.proto == b.proto
}

func (t *flowTable) lookup(k *flowKey) (int32, bool) {
	h := t.hash(k)
	r := &t.recent[recentSlot(h)]
	if i := *r; i >= 0 {
		if e := t.at(i); e.inUse && sameKey(&e.key, k) {
			return i, true
		}
	}
	for i := t.buckets[h&t.mask]; i >= 0; i = t.at(i).hnext {
		if sameKey(&t.at(i).key, k) {
			*r = i
			return i, true
		}
	}
	return -1, false
}

// touch moves entry i to the head of the LRU list.
func (t *flowTable) touch(i int32) {
	if t.head == i {
		return
	}
	t.unlink(i)
	t.pushFront(i)
}

func (t *flowTable) unlink(i int32) {
	e := t.at(i)
	if e.prev >= 0 {
		t.at(e.prev).next = e.next
	} else if t.head == i {
		t.head = e.next
	}
	if e.next >= 0 {
		t.at(e.next).prev = e.prev
	} else if t.tail == i {
		t.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (t *flowTable) pushFront(i int32) {
	e := t.at(i)
	e.prev = -1
	e.next = t.head
	if t.head >= 0 {
		t.at(t.head).prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

// insert adds a new zeroed entry for k. The caller must have made room
// (full reports whether it has to).
func (t *flowTable) insert(k *flowKey) int32 {
	n := len(t.free) - 1
	i := t.free[n]
	t.free = t.free[:n]
	h := t.hash(k)
	b := h & t.mask
	t.alloc(i)
	*t.at(i) = flow{key: *k, prev: -1, next: -1, hnext: t.buckets[b], inUse: true}
	t.buckets[b] = i
	t.recent[recentSlot(h)] = i
	t.n++
	t.pushFront(i)
	return i
}

func (t *flowTable) full() bool { return len(t.free) == 0 }

// remove drops entry i from the table.
func (t *flowTable) remove(i int32) {
	e := t.at(i)
	t.unlink(i)
	b := t.bucket(&e.key)
	if t.buckets[b] == i {
		t.buckets[b] = e.hnext
	} else {
		for j := t.buckets[b]; j >= 0; j = t.at(j).hnext {
			if t.at(j).hnext == i {
				t.at(j).hnext = e.hnext
				break
			}
		}
	}
	t.n--
	e.inUse = false
	t.free = append(t.free, i)
}

// oldestIdle returns the LRU entry if it has been idle longer than the idle
// timeout at now.
func (t *flowTable) oldestIdle(now int64) (int32, bool) {
	if t.tail < 0 {
		return -1, false
	}
	if now-t.at(t.tail).last > t.idle {
		return t.tail, true
	}
	return -1, false
}
