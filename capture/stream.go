package capture

// stream reassembles the first bytes (the "first flight") of one direction
// of a TCP flow: enough to find a ClientHello, an HTTP request head, a
// STARTTLS prologue or DNS messages. It is bounded by limit bytes; segments
// out of order are placed by sequence number, retransmissions and overlaps
// keep the bytes first seen, holes are counted.
//
// Every flow holds two, so the offsets are int32 (a stream never exceeds
// the 16 KiB-ish StreamLimit; the engine caps it well below 2 GiB): the
// flow table's entries are half the size they would be with ints.
type stream struct {
	base     uint32 // sequence number of byte 0
	haveBase bool
	done     bool
	overflow bool
	buf      []byte // nil until the first payload byte
	spans    [maxSpans]span
	nspans   int32
	contig   int32 // bytes contiguous from 0
	consumed int32 // bytes already handed to a parser (DNS over TCP)
	scanOff  int32 // plaintext lines scanned so far (mail prologue)
	tlsOff   int32 // where TLS starts after a plaintext prologue
}

const maxSpans = 8

// maxStreamLimit bounds the bytes a stream holds whatever the configured
// limit, so that its int32 offsets cannot overflow.
const maxStreamLimit = 1 << 30

type span struct{ start, end int32 }

// setISN records the SYN's sequence number: data starts at isn+1.
func (s *stream) setISN(isn uint32) {
	if !s.haveBase {
		s.base = isn + 1
		s.haveBase = true
	}
}

// add places a segment. It returns true when the contiguous prefix grew.
// buffers supplies and recycles the backing arrays.
func (s *stream) add(seq uint32, payload []byte, limit int, pool *bufPool) (grew bool, overflow bool) {
	limit = min(limit, maxStreamLimit) // offsets are int32
	if s.done || len(payload) == 0 {
		return false, false
	}
	if !s.haveBase {
		s.base = seq
		s.haveBase = true
	}
	off := int(int32(seq - s.base))
	if off < 0 {
		// Starts before byte 0 (a retransmission overlapping the SYN's
		// sequence or an unseen earlier segment): keep what falls after.
		if -off >= len(payload) {
			return false, false
		}
		payload = payload[-off:]
		off = 0
	}
	if off >= limit {
		return false, true
	}
	end := off + len(payload)
	if end > limit {
		payload = payload[:limit-off]
		end = limit
		overflow = true
	}
	if s.buf == nil {
		s.buf = pool.get()
	}
	if end > len(s.buf) {
		if end > cap(s.buf) {
			nb := make([]byte, len(s.buf), max(end, 2*cap(s.buf)))
			copy(nb, s.buf)
			pool.recycle(s.buf)
			s.buf = nb
		}
		s.buf = s.buf[:end]
	}
	// Copy only the parts not already present: the first copy of a byte wins.
	prevContig := s.contig
	s.fill(off, end, payload)
	return s.contig > prevContig, overflow
}

// fill copies payload (which covers [off,end)) into the holes of buf and
// merges the span list.
func (s *stream) fill(off, end int, payload []byte) {
	pos := off
	for i := 0; i < int(s.nspans) && pos < end; i++ {
		start, spEnd := int(s.spans[i].start), int(s.spans[i].end)
		if spEnd <= pos {
			continue
		}
		if start >= end {
			break
		}
		if start > pos {
			copy(s.buf[pos:start], payload[pos-off:start-off])
		}
		pos = spEnd
	}
	if pos < end {
		copy(s.buf[pos:end], payload[pos-off:])
	}
	s.insertSpan(span{int32(off), int32(end)})
	if s.nspans > 0 && s.spans[0].start == 0 {
		s.contig = s.spans[0].end
	}
}

func (s *stream) insertSpan(n span) {
	// Merge into the sorted, disjoint span list.
	var out [maxSpans + 1]span
	k := 0
	placed := false
	for i := 0; i < int(s.nspans); i++ {
		sp := s.spans[i]
		switch {
		case sp.end < n.start:
			out[k] = sp
			k++
		case n.end < sp.start:
			if !placed {
				out[k] = n
				k++
				placed = true
			}
			out[k] = sp
			k++
		default:
			n.start = min(n.start, sp.start)
			n.end = max(n.end, sp.end)
		}
	}
	if !placed {
		out[k] = n
		k++
	}
	if k > maxSpans {
		// Too fragmented: keep the first spans; the rest will be
		// retransmitted or counted as a gap.
		k = maxSpans
	}
	copy(s.spans[:], out[:k])
	s.nspans = int32(k)
}

// data returns the contiguous bytes from 0.
func (s *stream) data() []byte { return s.buf[:s.contig] }

// gap reports whether bytes arrived beyond a hole that was never filled.
func (s *stream) gap() bool { return s.nspans > 1 || (s.nspans == 1 && s.spans[0].start != 0) }

// release returns the buffer to the pool and marks the stream done.
func (s *stream) release(pool *bufPool) {
	if s.buf != nil {
		pool.put(s.buf)
		s.buf = nil
	}
	s.done = true
}

// bufPool recycles reassembly buffers. It is bounded so a burst of flows
// cannot pin memory.
type bufPool struct {
	free   [][]byte
	max    int
	inUse  int
	size   int
	limit  int // most buffers handed out at once
	denied uint64
}

func newBufPool(size, keep, limit int) *bufPool {
	return &bufPool{size: size, max: keep, limit: limit, free: make([][]byte, 0, keep)}
}

// available reports whether another stream may start reassembling.
func (p *bufPool) available() bool { return p.inUse < p.limit }

func (p *bufPool) get() []byte {
	p.inUse++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, p.size)
}

func (p *bufPool) put(b []byte) {
	p.inUse--
	p.recycle(b)
}

// recycle keeps b for reuse without changing the in-use count.
func (p *bufPool) recycle(b []byte) {
	if len(p.free) < p.max && cap(b) <= 4*p.size {
		p.free = append(p.free, b[:0])
	}
}
