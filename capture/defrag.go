package capture

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// defragmenter reassembles IPv4 and IPv6 fragments (large DNS answers,
// DHCP, QUIC over small-MTU links). It is bounded in entries and bytes;
// overlapping fragments keep the bytes seen first (no evasion by overlap);
// incomplete datagrams expire. Fragments are rare, so this path may
// allocate; whole datagrams never come here.
type defragmenter struct {
	entries map[fragKey]*fragEntry
	max     int
	timeout time.Duration
	pool    *bufPool
	buf     []byte // the last reassembled datagram
	// Counters.
	reassembled, expired, dropped uint64
}

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
}

type fragEntry struct {
	s     stream
	total int // length of the whole payload, known once the last fragment came
	first time.Time
}

func newDefragmenter(max int, timeout time.Duration) *defragmenter {
	return &defragmenter{entries: make(map[fragKey]*fragEntry), max: max, timeout: timeout, pool: newBufPool(2048, 16, max)}
}

// add records one fragment. When it completes its datagram, add returns the
// transport payload (L4 header included) and its protocol.
func (d *defragmenter) add(now time.Time, k fragKey, off int, more bool, data []byte) ([]byte, bool) {
	e := d.entries[k]
	if e == nil {
		if len(d.entries) >= d.max {
			d.evictOldest(now)
		}
		e = &fragEntry{first: now}
		e.s.haveBase = true
		d.entries[k] = e
	}
	if !more {
		e.total = off + len(data)
	}
	e.s.add(uint32(off), data, 65535, d.pool)
	if e.total > 0 && int(e.s.contig) >= e.total {
		d.buf = append(d.buf[:0], e.s.buf[:e.total]...)
		e.s.release(d.pool)
		delete(d.entries, k)
		d.reassembled++
		return d.buf, true
	}
	return nil, false
}

func (d *defragmenter) evictOldest(now time.Time) {
	var oldK fragKey
	var old *fragEntry
	for k, e := range d.entries {
		if now.Sub(e.first) > d.timeout {
			e.s.release(d.pool)
			delete(d.entries, k)
			d.expired++
			continue
		}
		if old == nil || e.first.Before(old.first) {
			oldK, old = k, e
		}
	}
	if len(d.entries) >= d.max && old != nil {
		old.s.release(d.pool)
		delete(d.entries, oldK)
		d.dropped++
	}
}

// ipv6Fragment walks an IPv6 extension chain to its fragment header.
func ipv6Fragment(next layers.IPProtocol, b []byte) (off int, more bool, id uint32, proto layers.IPProtocol, data []byte, ok bool) {
	for i := 0; i < 8 && isIPv6Ext(next); i++ {
		if len(b) < 8 {
			return
		}
		if next == layers.IPProtocolIPv6Fragment {
			fo := binary.BigEndian.Uint16(b[2:4])
			return int(fo &^ 7), fo&1 != 0, binary.BigEndian.Uint32(b[4:8]), layers.IPProtocol(b[0]), b[8:], true
		}
		n := int(b[1])*8 + 8
		if n > len(b) {
			return
		}
		next = layers.IPProtocol(b[0])
		b = b[n:]
	}
	return
}

// defragment feeds the current fragment to the defragmenter and, when the
// datagram is whole, decodes its transport header into the decoder.
func (e *Engine) defragment() bool {
	d := e.dec
	var k fragKey
	var off int
	var more bool
	var data []byte
	var proto layers.IPProtocol
	src, dst, _ := e.addrs()
	k.src, k.dst = src, dst
	if d.has.ip4 {
		k.id = uint32(d.ip4.Id)
		proto = d.ip4.Protocol
		off = int(d.ip4.FragOffset) * 8
		more = d.ip4.Flags&layers.IPv4MoreFragments != 0
		data = d.ip4.Payload
	} else {
		var ok bool
		off, more, k.id, proto, data, ok = ipv6Fragment(d.ip6.NextHeader, d.ip6.Payload)
		if !ok {
			return false
		}
	}
	k.proto = uint8(proto)
	if e.defrag == nil {
		e.defrag = newDefragmenter(256, 30*time.Second)
	}
	whole, done := e.defrag.add(e.now, k, off, more, data)
	if !done {
		return false
	}
	switch proto {
	case layers.IPProtocolTCP:
		if d.tcp.DecodeFromBytes(whole, gopacket.NilDecodeFeedback) == nil {
			d.has.tcp = true
		}
	case layers.IPProtocolUDP:
		if d.udp.DecodeFromBytes(whole, gopacket.NilDecodeFeedback) == nil {
			d.has.udp = true
		}
	}
	d.fragment = false
	return d.has.tcp || d.has.udp
}
