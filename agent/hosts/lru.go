package hosts

// lru is a map with an intrusive recency list: one allocation per entry,
// none per touch. Front is the most recently used.
type lru[K comparable, V any] struct {
	m          map[K]*node[K, V]
	head, tail *node[K, V]
}

type node[K comparable, V any] struct {
	key        K
	val        V
	prev, next *node[K, V]
}

func newLRU[K comparable, V any]() lru[K, V] { return lru[K, V]{m: make(map[K]*node[K, V])} }

func (l *lru[K, V]) len() int { return len(l.m) }

func (l *lru[K, V]) get(k K) *node[K, V] { return l.m[k] }

// touch moves n to the front.
func (l *lru[K, V]) touch(n *node[K, V]) {
	if l.head == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}

func (l *lru[K, V]) add(k K) *node[K, V] {
	n := &node[K, V]{key: k}
	l.m[k] = n
	l.pushFront(n)
	return n
}

func (l *lru[K, V]) remove(n *node[K, V]) {
	l.unlink(n)
	delete(l.m, n.key)
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
