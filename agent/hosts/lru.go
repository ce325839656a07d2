package hosts

import "time"

// lru is a map with an intrusive recency list: one allocation per entry,
// none per touch. Front is the most recently used.
type lru[K comparable, V any] struct {
	m          map[K]*node[K, V]
	head, tail *node[K, V]
	// deletes since the map was last rebuilt. Go's swiss-table maps keep
	// tombstones for deleted keys until they grow; under a flood of new
	// sources (insert one, evict one, a million times) probes get long.
	// Rebuilding once deletes exceed half the size keeps them short, at
	// an amortised constant cost.
	deletes int
	// last is the node most recently found or added: one observation asks
	// for the same MAC, address and host several times (Learn, KeyFor,
	// Resolve), and a key compare is much cheaper than a map probe.
	last *node[K, V]
}

// node keeps what every lookup and touch reads (key, dead, moved, the
// list links) ahead of the value, in the first cache line: a host's value
// is hundreds of bytes.
type node[K comparable, V any] struct {
	key        K
	dead       bool  // removed: a hint to it is stale
	moved      int64 // unix nanos of the last move to the front by touchAt
	prev, next *node[K, V]
	val        V
}

// lruGrain is how often touchAt moves a busy entry to the front. Moving
// it on every observation wrote to both neighbours, two cache misses per
// observation on a large table; within a second the order does not matter
// to idle expiry (hours) or eviction of the least recently seen entry.
const lruGrain = int64(time.Second)

func newLRU[K comparable, V any]() lru[K, V] { return lru[K, V]{m: make(map[K]*node[K, V])} }

func (l *lru[K, V]) len() int { return len(l.m) }

func (l *lru[K, V]) get(k K) *node[K, V] {
	if n := l.last; n != nil && n.key == k {
		return n
	}
	n := l.m[k]
	if n != nil {
		l.last = n
	}
	return n
}

// touchAt moves n to the front at time now (unix nanos), unless it was
// moved there less than lruGrain before.
func (l *lru[K, V]) touchAt(n *node[K, V], now int64) {
	if now >= n.moved && now-n.moved < lruGrain {
		return
	}
	l.touch(n)
	n.moved = now
}

// touch moves n to the front.
func (l *lru[K, V]) touch(n *node[K, V]) {
	if l.head == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}

// add makes k's node, at the front as of now (unix nanos).
func (l *lru[K, V]) add(k K, now int64) *node[K, V] {
	n := &node[K, V]{key: k, moved: now}
	l.m[k] = n
	l.pushFront(n)
	l.last = n
	return n
}

func (l *lru[K, V]) remove(n *node[K, V]) {
	l.unlink(n)
	n.dead = true
	delete(l.m, n.key)
	if l.last == n {
		l.last = nil
	}
	l.deletes++
	if l.deletes > 1024 && l.deletes > len(l.m)/2 {
		m := make(map[K]*node[K, V], len(l.m))
		for k, v := range l.m {
			m[k] = v
		}
		l.m, l.deletes = m, 0
	}
}

func (l *lru[K, V]) oldest() *node[K, V] { return l.tail }

func (l *lru[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = nil, l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}

func (l *lru[K, V]) unlink(n *node[K, V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else if l.head == n {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else if l.tail == n {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}
