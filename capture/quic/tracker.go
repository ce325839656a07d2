package quic

import (
	"bytes"
	"encoding/binary"
	"time"
)

// cid is a connection ID as a small comparable map key.
type cid struct {
	n uint8
	b [maxCIDLen]byte
}

func makeCID(b []byte) cid {
	var c cid
	c.n = uint8(copy(c.b[:], b))
	return c
}

func (c *cid) bytes() []byte { return c.b[:c.n] }

// conn is one client connection's Initial state.
type conn struct {
	dcid      cid // the client's original DCID: what the keys derive from
	scid      cid // the client's SCID, to recognise its other packets and the server's
	version   *versionInfo
	keys      initialKeys
	largestPN int64
	r         *reassembly // nil once finished
	packets   int         // Initial packets that contributed CRYPTO data
	finished  bool        // ClientHello delivered or abandoned
	lastSeen  time.Time
	prev      int32 // LRU neighbours (slot indexes, -1 for none)
	next      int32
}

// Result is a completed ClientHello. Its slices are owned by the Tracker and
// valid until the next call on it: copy what must outlive that.
type Result struct {
	ClientHello []byte // the complete handshake message: type 1, uint24 length, body
	Version     uint32
	DCID        []byte // the client's original Destination Connection ID
	SCID        []byte // the client's Source Connection ID
	Packets     int    // Initial packets whose CRYPTO frames made up the ClientHello
}

// Direction is what a caller knows about who sent a datagram.
type Direction uint8

const (
	DirectionUnknown Direction = iota
	DirectionClient
	DirectionServer
)

// DirectionFromPorts guesses the sender from UDP ports: a datagram from a
// well-known QUIC server port (443, 8443) to an ephemeral port (1024 and
// up, and not itself a server port) is the server's. Anything else is
// unknown: the Tracker then relies on what it remembers of connection IDs.
func DirectionFromPorts(srcPort, dstPort uint16) Direction {
	server := func(p uint16) bool { return p == 443 || p == 8443 }
	if server(srcPort) && !server(dstPort) && dstPort >= 1024 {
		return DirectionServer
	}
	if server(dstPort) && !server(srcPort) {
		return DirectionClient
	}
	return DirectionUnknown
}

// Tracker turns client Initial datagrams into ClientHellos. It keeps at most
// maxConns connections; the least recently used is evicted when a new one
// needs room, and Expire drops those idle longer than the idle time. Not
// safe for concurrent use.
type Tracker struct {
	idle  time.Duration
	max   int
	slots []conn // max+1: one spare slot holds a candidate until it decrypts
	free  []int32
	live  int
	head  int32 // most recently used
	tail  int32 // least recently used
	dcids map[cid]int32
	scids map[cid]int32
	pool  []*reassembly

	stats Stats

	// Per-packet scratch, reused so that known connections cost no allocation.
	hdr   []byte
	plain []byte
	mask  [16]byte
	nonce [12]byte
}

// NewTracker returns a Tracker for at most maxConns connections (at least 1)
// idle for at most idle before Expire drops them.
func NewTracker(maxConns int, idle time.Duration) *Tracker {
	maxConns = max(maxConns, 1)
	t := &Tracker{
		idle:  idle,
		max:   maxConns,
		slots: make([]conn, maxConns+1),
		free:  make([]int32, 0, maxConns+1),
		head:  -1,
		tail:  -1,
		dcids: make(map[cid]int32, maxConns),
		scids: make(map[cid]int32, maxConns),
		hdr:   make([]byte, 0, 64),
		plain: make([]byte, 0, 1500),
	}
	for i := len(t.slots) - 1; i >= 0; i-- {
		t.free = append(t.free, int32(i))
	}
	return t
}

// Stats returns the counters.
func (t *Tracker) Stats() Stats { return t.stats }

// Len returns the number of connections tracked.
func (t *Tracker) Len() int { return t.live }

// Expire drops connections not seen for longer than the idle time.
func (t *Tracker) Expire(now time.Time) {
	for t.tail >= 0 {
		c := &t.slots[t.tail]
		if now.Sub(c.lastSeen) <= t.idle {
			return
		}
		t.stats.Expired++
		t.remove(t.tail)
	}
}

// Datagram processes one UDP payload whose sender is not known. It returns
// (Result, true, nil) when the datagram completed a ClientHello; (Result{},
// false, nil) when an Initial of it was processed without a problem but did
// not complete one; and otherwise one of the package's sentinel errors, the
// Reason of the first packet that was skipped or stopped (every such packet
// is counted in Stats.Skipped). It never panics and never modifies payload.
func (t *Tracker) Datagram(now time.Time, payload []byte) (Result, bool, error) {
	return t.DatagramFrom(now, DirectionUnknown, payload)
}

// DatagramFrom is Datagram with a hint of who sent the datagram (see
// DirectionFromPorts). DirectionServer makes Initials of unknown connections
// count as server Initials instead of being tried as a client's;
// DirectionClient and DirectionUnknown leave the decision to the
// connection-ID rules.
func (t *Tracker) DatagramFrom(now time.Time, dir Direction, payload []byte) (Result, bool, error) {
	t.stats.Datagrams++
	if len(payload) == 0 {
		t.stats.Skipped[ReasonTruncated]++
		return Result{}, false, ErrTruncated
	}
	// A client's first flight carries Initials (and maybe 0-RTT) only; an
	// Initial coalesced with a Handshake packet belongs to a later flight.
	hasHandshake := false
	for off := 0; off < len(payload) && payload[off]&0x80 != 0; {
		h, _ := parseLong(payload[off:])
		if h.end == 0 {
			break
		}
		if h.typ == typeHandshake {
			hasHandshake = true
			break
		}
		off += h.end
	}

	var (
		first    Reason
		consumed bool
		dcid0    []byte
	)
	note := func(r Reason) {
		t.stats.Skipped[r]++
		if first == ReasonNone {
			first = r
		}
	}
	for off := 0; off < len(payload); {
		b := payload[off:]
		if b[0]&0x80 == 0 {
			// A short header fills the rest of the datagram; after
			// coalesced packets, zero bytes are padding.
			if off == 0 {
				t.stats.Packets++
				note(ReasonShortHeader)
			}
			break
		}
		t.stats.Packets++
		h, r := parseLong(b)
		if h.end == 0 {
			note(r)
			break
		}
		off += h.end
		if dcid0 == nil {
			dcid0 = h.dcid
		} else if !bytes.Equal(h.dcid, dcid0) {
			note(ReasonDCIDMismatch)
			continue
		}
		if r != ReasonNone {
			note(r)
			continue
		}
		t.stats.Initials++
		res, done, r := t.initial(now, dir, &h, b[:h.end], hasHandshake)
		if done {
			if r != ReasonNone {
				t.stats.Skipped[r]++
			}
			return res, true, nil
		}
		if r != ReasonNone {
			note(r)
		} else {
			consumed = true
		}
	}
	if consumed {
		return Result{}, false, nil
	}
	if first == ReasonNone {
		first = ReasonTruncated
	}
	return Result{}, false, first.Err()
}

// initial handles one Initial packet; r is ReasonNone when it was attributed
// to a client connection and processed without a problem.
func (t *Tracker) initial(now time.Time, dir Direction, h *longHeader, pkt []byte, hasHandshake bool) (res Result, done bool, r Reason) {
	dk := makeCID(h.dcid)
	idx, known := t.dcids[dk]
	if !known && len(h.scid) > 0 {
		// A client's later Initials are sent to the server's chosen CID but
		// keep the client's SCID and the original keys.
		if idx, known = t.scids[makeCID(h.scid)]; known && len(h.token) > 0 {
			// After a Retry the client starts over with a token, and keys
			// from the CID the Retry chose: try that first. If it does not
			// open, this is a later Initial carrying the token again.
			if res, done, r = t.newConn(now, h, pkt); r != ReasonDecrypt {
				return res, done, r
			}
		}
	}
	if !known {
		if _, srv := t.scids[dk]; srv && len(h.dcid) > 0 {
			return res, false, ReasonServerInitial
		}
		switch {
		case dir == DirectionServer, len(h.dcid) < 8:
			// RFC 9000 §7.2: a client's first DCID is at least 8 bytes.
			return res, false, ReasonServerInitial
		case hasHandshake:
			return res, false, ReasonNotFirstFlight
		}
		return t.newConn(now, h, pkt)
	}
	c := &t.slots[idx]
	c.lastSeen = now
	t.touch(idx)
	if c.finished {
		return res, false, ReasonAfterComplete
	}
	if !t.open(c, h, pkt) {
		return res, false, ReasonDecrypt
	}
	return t.frames(c)
}

// newConn derives keys for a new connection and keeps it if the packet opens.
func (t *Tracker) newConn(now time.Time, h *longHeader, pkt []byte) (res Result, done bool, r Reason) {
	keys, err := clientKeys(h.version, h.dcid)
	if err != nil {
		return res, false, ReasonDecrypt
	}
	idx := t.free[len(t.free)-1] // never empty: slots has one more than max
	c := &t.slots[idx]
	*c = conn{
		dcid:      makeCID(h.dcid),
		scid:      makeCID(h.scid),
		version:   h.version,
		keys:      keys,
		largestPN: -1,
		lastSeen:  now,
		prev:      -1,
		next:      -1,
	}
	if !t.open(c, h, pkt) {
		c.keys = initialKeys{}
		return res, false, ReasonDecrypt
	}
	t.free = t.free[:len(t.free)-1]
	if t.live == t.max {
		// Evict before inserting so the maps never outgrow their size hint.
		t.stats.Evictions++
		t.remove(t.tail)
	}
	t.live++
	t.stats.Connections++
	t.dcids[c.dcid] = idx
	if c.scid.n > 0 {
		t.scids[c.scid] = idx
	}
	t.pushFront(idx)
	if n := len(t.pool); n > 0 {
		c.r = t.pool[n-1]
		t.pool = t.pool[:n-1]
	} else {
		c.r = new(reassembly)
	}
	return t.frames(c)
}

// open removes header protection and decrypts pkt into t.plain.
func (t *Tracker) open(c *conn, h *longHeader, pkt []byte) bool {
	pn := h.pnOffset
	c.keys.hp.Encrypt(t.mask[:], pkt[pn+4:pn+4+16])
	first := pkt[0] ^ t.mask[0]&0x0f
	pnLen := int(first&0x03) + 1
	t.hdr = append(t.hdr[:0], pkt[:pn+pnLen]...)
	t.hdr[0] = first
	var truncated uint64
	for i := 0; i < pnLen; i++ {
		t.hdr[pn+i] ^= t.mask[1+i]
		truncated = truncated<<8 | uint64(t.hdr[pn+i])
	}
	full := decodePacketNumber(c.largestPN, truncated, pnLen)
	t.nonce = c.keys.iv
	var pnb [8]byte
	binary.BigEndian.PutUint64(pnb[:], full)
	for i := range pnb {
		t.nonce[4+i] ^= pnb[i]
	}
	ct := pkt[pn+pnLen:]
	if len(ct) < c.keys.aead.Overhead() {
		return false
	}
	if cap(t.plain) < len(ct) {
		t.plain = make([]byte, 0, len(ct))
	}
	plain, err := c.keys.aead.Open(t.plain[:0], t.nonce[:], ct, t.hdr)
	if err != nil {
		return false
	}
	t.plain = plain
	if int64(full) > c.largestPN {
		c.largestPN = int64(full)
	}
	t.stats.Decrypted++
	return true
}

// decodePacketNumber recovers a full packet number from its truncated
// encoding (RFC 9000 §A.3).
func decodePacketNumber(largest int64, truncated uint64, pnLen int) uint64 {
	expected := uint64(largest + 1)
	win := uint64(1) << (8 * pnLen)
	half := win / 2
	candidate := (expected &^ (win - 1)) | truncated
	switch {
	case candidate+half <= expected && candidate < (1<<62)-win:
		return candidate + win
	case candidate > expected+half && candidate >= win:
		return candidate - win
	}
	return candidate
}

// frames walks the decrypted payload in t.plain, reassembling CRYPTO data,
// and reports a ClientHello the packet completed.
func (t *Tracker) frames(c *conn) (res Result, done bool, r Reason) {
	p := t.plain
	contributed := false
walk:
	for len(p) > 0 {
		switch p[0] {
		case 0x00: // PADDING: usually the rest of the packet
			p = p[1:]
			for len(p) > 0 && p[0] == 0 {
				p = p[1:]
			}
		case 0x01: // PING
			p = p[1:]
		case 0x02, 0x03: // ACK, ACK with ECN counts
			n := 4 // largest, delay, range count, first range
			ecn := p[0] == 0x03
			p = p[1:]
			var rangeCount uint64
			for i := 0; i < n; i++ {
				v, m, ok := readVarint(p)
				if !ok {
					r = ReasonMalformed
					break walk
				}
				if i == 2 {
					rangeCount = v
				}
				p = p[m:]
			}
			// Each range is two varints of at least a byte: a count past
			// what is left is malformed, not a long loop.
			if rangeCount > uint64(len(p))/2 {
				r = ReasonMalformed
				break walk
			}
			extra := int(rangeCount) * 2
			if ecn {
				extra += 3
			}
			for i := 0; i < extra; i++ {
				_, m, ok := readVarint(p)
				if !ok {
					r = ReasonMalformed
					break walk
				}
				p = p[m:]
			}
		case 0x06: // CRYPTO
			off, m, ok := readVarint(p[1:])
			if !ok {
				r = ReasonMalformed
				break walk
			}
			p = p[1+m:]
			n, m, ok := readVarint(p)
			if !ok || n > uint64(len(p)-m) {
				r = ReasonMalformed
				break walk
			}
			data := p[m : m+int(n)]
			p = p[m+int(n):]
			if !c.r.write(off, data) {
				r = ReasonTooLarge
				t.finish(c)
				return res, false, r
			}
			contributed = true
		case 0x1c, 0x1d: // CONNECTION_CLOSE: the client gave up
			r = ReasonConnectionClose
			break walk
		default:
			r = ReasonUnexpectedFrame
			break walk
		}
	}
	if contributed {
		c.packets++
	}
	// Complete when the header is there and the contiguous prefix covers it.
	rs := c.r
	if rs.contig < 4 {
		return res, false, r
	}
	if rs.data[0] != 1 {
		t.finish(c)
		return res, false, ReasonNotClientHello
	}
	n := 4 + (int(rs.data[1])<<16 | int(rs.data[2])<<8 | int(rs.data[3]))
	if n > MaxClientHello {
		t.finish(c)
		return res, false, ReasonTooLarge
	}
	if rs.contig < n {
		return res, false, r
	}
	res = Result{
		ClientHello: rs.data[:n],
		Version:     c.version.id,
		DCID:        c.dcid.bytes(),
		SCID:        c.scid.bytes(),
		Packets:     c.packets,
	}
	t.stats.ClientHellos++
	t.finish(c)
	return res, true, r
}

// finish ends reassembly for c: later Initials of it are no-ops. Its buffer
// goes back to the pool; a Result pointing into it stays valid until the
// next call, which is the earliest the pool can hand it out again.
func (t *Tracker) finish(c *conn) {
	c.finished = true
	if c.r != nil {
		c.r.reset()
		t.pool = append(t.pool, c.r)
		c.r = nil
	}
}

// pushFront links slot i as most recently used.
func (t *Tracker) pushFront(i int32) {
	c := &t.slots[i]
	c.prev, c.next = -1, t.head
	if t.head >= 0 {
		t.slots[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

func (t *Tracker) unlink(i int32) {
	c := &t.slots[i]
	if c.prev >= 0 {
		t.slots[c.prev].next = c.next
	} else {
		t.head = c.next
	}
	if c.next >= 0 {
		t.slots[c.next].prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.prev, c.next = -1, -1
}

func (t *Tracker) touch(i int32) {
	if t.head != i {
		t.unlink(i)
		t.pushFront(i)
	}
}

// remove drops the live connection in slot i.
func (t *Tracker) remove(i int32) {
	c := &t.slots[i]
	if !c.finished {
		t.stats.Incomplete++
	}
	t.unlink(i)
	if j, ok := t.dcids[c.dcid]; ok && j == i {
		delete(t.dcids, c.dcid)
	}
	if c.scid.n > 0 {
		if j, ok := t.scids[c.scid]; ok && j == i {
			delete(t.scids, c.scid)
		}
	}
	t.finish(c)
	*c = conn{prev: -1, next: -1}
	t.free = append(t.free, i)
	t.live--
}
