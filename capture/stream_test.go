package capture

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// model is the reference for stream: a byte array where the first copy of
// each byte wins, and the contiguous prefix from 0.
type model struct {
	have [1 << 10]bool
	data [1 << 10]byte
}

func (m *model) add(off int, p []byte, limit int) {
	for i, c := range p {
		o := off + i
		if o < 0 || o >= limit {
			continue
		}
		if !m.have[o] {
			m.have[o], m.data[o] = true, c
		}
	}
}

func (m *model) contig() int {
	n := 0
	for n < len(m.have) && m.have[n] {
		n++
	}
	return n
}

// FuzzReassembly feeds segments (offset, length, fill byte) decoded from
// the input into a stream and checks it against the model: the contiguous
// prefix and its bytes must agree whenever the stream kept every span.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 10, 'a', 5, 10, 'b', 20, 5, 'c', 15, 5, 'd'})
	f.Add([]byte{100, 50, 'x', 0, 100, 'y'})
	f.Add([]byte{0, 255, 1, 0, 255, 2, 250, 255, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 512
		pool := newBufPool(64, 4, 8)
		var s stream
		s.setISN(999) // data starts at 1000
		var m model
		spill := false
		for len(in) >= 3 {
			off, n, c := int(in[0])*2, int(in[1]), in[2]
			in = in[3:]
			p := bytes.Repeat([]byte{c}, n)
			// Vary the byte values so copies are distinguishable.
			for i := range p {
				p[i] += byte(i)
			}
			s.add(1000+uint32(off), p, limit, pool)
			m.add(off, p, limit)
			if s.nspans == maxSpans {
				spill = true // spans beyond the bound may be dropped: the model no longer applies
			}
		}
		if spill {
			return
		}
		if got, want := int(s.contig), min(m.contig(), limit); got != want {
			t.Fatalf("contiguous %d, model %d", got, want)
		}
		if !bytes.Equal(s.data(), m.data[:s.contig]) {
			t.Fatalf("bytes differ from the model")
		}
	})
}

// TestReassemblyPrefixes: every truncated prefix of a ClientHello's first
// flight, in segments of every size, yields no ClientHello and no panic;
// the whole flight yields exactly one.
func TestReassemblyPrefixes(t *testing.T) {
	ch := clientHello(t, "gateway.icloud.com")
	b := newBuilder(t)
	for _, segSize := range []int{1, 7, 100, 536, 1400} {
		for cut := 0; cut <= len(ch); cut += max(1, len(ch)/40) {
			frames := handshake(b, 50100, 443)
			for off := 0; off < cut; off += segSize {
				end := min(off+segSize, cut)
				frames = append(frames, b.tcp(tcpSeg{sport: 50100, dport: 443, seq: 1001 + uint32(off), ack: 5001, ackf: true, payload: ch[off:end]}))
			}
			c, _ := feed(t, frames...)
			if n := len(c.kind(observe.KindTLS)); n != 0 {
				t.Fatalf("segment %d, prefix %d of %d: %d ClientHellos", segSize, cut, len(ch), n)
			}
		}
		frames := handshake(b, 50100, 443)
		for off := 0; off < len(ch); off += segSize {
			end := min(off+segSize, len(ch))
			frames = append(frames, b.tcp(tcpSeg{sport: 50100, dport: 443, seq: 1001 + uint32(off), ack: 5001, ackf: true, payload: ch[off:end]}))
		}
		c, _ := feed(t, frames...)
		if n := len(c.kind(observe.KindTLS)); n != 1 {
			t.Fatalf("segment %d: whole flight gave %d ClientHellos", segSize, n)
		}
	}
}

// FuzzEngine throws arbitrary frames at the engine under every link type:
// it must never panic, and every packet must be counted.
func FuzzEngine(f *testing.F) {
	b := newBuilder(f)
	f.Add(b.tcp(tcpSeg{sport: 1, dport: 443, seq: 1, syn: true}), uint8(0))
	f.Add(b.udp(5353, 5353, false, []byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0}), uint8(0))
	f.Add(b.udp(5000, 443, false, append([]byte{0xc3, 0, 0, 0, 1, 8}, make([]byte, 1200)...)), uint8(0))
	f.Add(b.tcp(tcpSeg{sport: 1, dport: 25, seq: 1, ackf: true, payload: []byte("EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")}), uint8(0))
	f.Add(binary.BigEndian.AppendUint32(nil, 0x45000014), uint8(3))
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeRaw, layers.LinkTypeNull, layers.LinkTypeIPv6}
	f.Fuzz(func(t *testing.T, frame []byte, link uint8) {
		info := PacketInfo{Timestamp: b.ts, CaptureLength: len(frame), Length: len(frame) + int(link&1)}
		lt := links[int(link)%len(links)]
		// Run twice, allocating and reusing observations (with Community
		// IDs computed on demand): the two must report the same (a copy
		// is taken as each is lent, with its Community ID).
		var got [2][]*observe.Observation
		for i, reuse := range []bool{false, true} {
			e := NewEngine(Config{MaxFlows: 16, ReuseObservations: reuse, LazyCommunityID: reuse}, observe.SinkFunc(func(o *observe.Observation) {
				c := deepCopy(o)
				c.CommunityID = o.Community()
				got[i] = append(got[i], c)
			}))
			e.Packet(frame, info, lt)
			e.Packet(frame, info, lt) // the same again: flow state paths
			e.Flush()
			if e.Stats().Packets != 2 {
				t.Fatal("packet not counted")
			}
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Fatalf("reusing observations changed them:\nallocating %+v\nreusing    %+v", got[0], got[1])
		}
	})
}
