package quic

import (
	"bytes"
	"testing"
	"time"
)

// validDatagrams returns protected datagrams of every supported version,
// single and coalesced, for seeds and the prefix test.
func validDatagrams(t testing.TB) [][]byte {
	dcid := []byte("fuzzdcid")
	ch := fakeClientHello(600, 9)
	var out [][]byte
	for _, v := range []uint32{Version1, Version2, VersionDraft29} {
		s := newSealer(t, v, dcid)
		out = append(out,
			s.initial(dcid, []byte{1, 2}, 0, padTo(cryptoFrame(0, ch), 1100)),
			cat(s.initial(dcid, nil, 0, cat(cryptoFrame(300, ch[300:]), []byte{0x02, 0, 0, 0, 0})),
				s.initial(dcid, nil, 1, padTo(cryptoFrame(0, ch[:300]), 700))),
		)
	}
	return append(out, unhex(t, rfc9001ClientInitial), unhex(t, rfc9369ClientInitial))
}

func TestTruncatedPrefixes(t *testing.T) {
	for i, d := range validDatagrams(t) {
		for n := 0; n < len(d); n++ {
			tr := NewTracker(4, time.Minute)
			res, ok, err := tr.Datagram(t0, d[:n])
			// A prefix holding a whole first packet of a coalesced pair
			// is consumed without error: that packet was opened.
			if ok || res.ClientHello != nil || (err == nil && tr.Stats().Decrypted == 0) {
				t.Fatalf("datagram %d prefix %d: ok=%v err=%v", i, n, ok, err)
			}
		}
		if _, ok, err := NewTracker(4, time.Minute).Datagram(t0, d); !ok || err != nil {
			t.Fatalf("datagram %d whole: ok=%v err=%v", i, ok, err)
		}
	}
}

func FuzzDatagram(f *testing.F) {
	for _, d := range validDatagrams(f) {
		f.Add(d)
	}
	f.Add([]byte{0xc0, 0, 0, 0, 1, 8})
	f.Fuzz(func(t *testing.T, d []byte) {
		orig := bytes.Clone(d)
		tr := NewTracker(2, time.Minute)
		for i := 0; i < 2; i++ { // the second pass hits the known-connection path
			res, ok, err := tr.Datagram(t0, d)
			if ok {
				if err != nil {
					t.Fatalf("result with error %v", err)
				}
				ch := res.ClientHello
				if len(ch) < 4 || ch[0] != 1 || len(ch) != 4+(int(ch[1])<<16|int(ch[2])<<8|int(ch[3])) {
					t.Fatalf("bad ClientHello framing % x", ch[:min(len(ch), 4)])
				}
			} else if err == nil && tr.Stats().Decrypted == 0 {
				t.Fatal("no error and nothing decrypted")
			}
		}
		if !bytes.Equal(d, orig) {
			t.Fatal("input modified")
		}
		LooksLikeInitial(d)
		ParseTransportParameters(d, nil)
	})
}

// FuzzReassembly feeds pieces (3-byte records: offset/16, length) of a
// known stream and checks the contiguous prefix against a plain model.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 100, 10, 0, 50, 5, 0, 100})
	f.Add([]byte{0xff, 0xff, 0xff, 0, 0, 1})
	f.Add([]byte{3, 0, 64, 0, 0, 48, 4, 0, 64})
	f.Fuzz(func(t *testing.T, ops []byte) {
		stream := make([]byte, MaxClientHello+512+255*4)
		for i := range stream {
			stream[i] = byte(i * 31)
		}
		var r reassembly
		model := make([]bool, MaxClientHello)
		for len(ops) >= 3 {
			off := (int(ops[0])<<8 | int(ops[1])) % (MaxClientHello + 512)
			n := int(ops[2]) * 4
			ops = ops[3:]
			ok := r.write(uint64(off), stream[off:off+n])
			if wantOK := off+n <= MaxClientHello && (n > 0 || off <= MaxClientHello); ok != wantOK {
				t.Fatalf("write(%d, %d) = %v", off, n, ok)
			}
			if ok {
				for i := off; i < off+n; i++ {
					model[i] = true
				}
			}
			contig := 0
			for contig < len(model) && model[contig] {
				contig++
			}
			if r.contig != contig {
				t.Fatalf("contig %d, model %d", r.contig, contig)
			}
			if !bytes.Equal(r.data[:contig], stream[:contig]) {
				t.Fatal("data differs")
			}
		}
		r.reset()
		if r.contig != 0 || r.hi != 0 || r.have != [len(r.have)]uint64{} {
			t.Fatal("reset left state")
		}
	})
}

func TestParseTransportParameters(t *testing.T) {
	// The quic_transport_parameters body of RFC 9001 A.2's ClientHello.
	b := unhex(t, "0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff")
	tps, err := ParseTransportParameters(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, p := range tps {
		ids = append(ids, p.ID)
	}
	want := []uint64{4, 5, 7, 8, 1, 9, 15, 6}
	if len(ids) != len(want) {
		t.Fatalf("ids %v", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %v want %v", ids, want)
		}
	}
	if !bytes.Equal(tps[6].Value, unhex(t, rfcDCID)) || !bytes.Equal(tps[0].Value, unhex(t, "ffffffffffffffff")) {
		t.Fatalf("values %x %x", tps[6].Value, tps[0].Value)
	}
	for n := 1; n < len(b); n++ {
		got, err := ParseTransportParameters(b[:n], nil)
		complete := n == 10 || n == 16 || n == 22 || n == 25 || n == 31 || n == 34 || n == 44
		if complete != (err == nil) {
			t.Fatalf("prefix %d: err %v (%d params)", n, err, len(got))
		}
	}
}

func TestKnownConnectionDoesNotAllocate(t *testing.T) {
	dcid := []byte("allocdcid")
	s := newSealer(t, Version1, dcid)
	ch := fakeClientHello(1500, 1)
	first := s.initial(dcid, []byte{7}, 0, padTo(cryptoFrame(0, ch[:1000]), 1100))
	tr := NewTracker(4, time.Minute)
	if _, ok, err := tr.Datagram(t0, first); ok || err != nil {
		t.Fatal(ok, err)
	}
	// Repeats of a packet of a known, unfinished connection: header
	// protection, AEAD, frames and reassembly with cached keys.
	if n := testing.AllocsPerRun(100, func() { tr.Datagram(t0, first) }); n != 0 {
		t.Fatalf("%v allocations per known-connection packet", n)
	}
	if _, ok, _ := tr.Datagram(t0, s.initial(dcid, []byte{7}, 1, padTo(cryptoFrame(1000, ch[1000:]), 1100))); !ok {
		t.Fatal("not completed")
	}
	// Later Initials of a finished connection: no decryption at all.
	dec := tr.Stats().Decrypted
	if n := testing.AllocsPerRun(100, func() { tr.Datagram(t0, first) }); n != 0 {
		t.Fatalf("%v allocations per packet after completion", n)
	}
	if tr.Stats().Decrypted != dec {
		t.Fatal("finished connection's packets were decrypted")
	}
	// Packets that are not client Initials are rejected without allocating.
	short := []byte{0x40, 1, 2, 3, 4, 5}
	if n := testing.AllocsPerRun(100, func() { tr.Datagram(t0, short) }); n != 0 {
		t.Fatalf("%v allocations per short-header packet", n)
	}
}

// FuzzFrames reaches the frame walker directly with plaintext payloads, which
// FuzzDatagram rarely gets past AEAD authentication to exercise.
func FuzzFrames(f *testing.F) {
	ch := fakeClientHello(300, 2)
	f.Add(cat(cryptoFrame(100, ch[100:]), []byte{0x01, 0x00}, cryptoFrame(0, ch[:100])))
	f.Add([]byte{0x03, 0x05, 0x00, 0x01, 0x02, 0x01, 0x00, 0x01, 0x02, 0x03, 0x06, 0x00, 0x04, 1, 0, 0, 0})
	f.Add([]byte{0x02, 0x7f, 0xff, 0x00, 0x80, 0x00, 0x00, 0x10, 0x00})
	f.Add([]byte{0x1c, 0x00})
	f.Fuzz(func(t *testing.T, payload []byte) {
		tr := NewTracker(1, time.Minute)
		c := &tr.slots[0]
		c.version, c.r = &infoV1, new(reassembly)
		tr.plain = payload
		res, done, _ := tr.frames(c)
		if done {
			n := len(res.ClientHello)
			if n < 4 || res.ClientHello[0] != 1 || n != 4+(int(res.ClientHello[1])<<16|int(res.ClientHello[2])<<8|int(res.ClientHello[3])) {
				t.Fatalf("bad ClientHello of %d bytes", n)
			}
			if c.r != nil || !c.finished {
				t.Fatal("connection not finished after delivery")
			}
		}
	})
}
