package quic

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

type piece struct{ off, end int }

// TestReassemblyAcrossPackets splits a 3 KB ClientHello into CRYPTO frames
// that are reordered, overlapping and duplicated, spreads them over four
// Initial packets mixed with PING, ACK and PADDING frames, coalesces two of
// them into one datagram, and delivers the datagrams out of order.
func TestReassemblyAcrossPackets(t *testing.T) {
	for _, version := range []uint32{Version1, Version2, VersionDraft29} {
		t.Run(lookupVersion(version).keyLabel+"-"+string(rune('0'+version%10)), func(t *testing.T) {
			ch := fakeClientHello(3000, byte(version))
			dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			scid := []byte{0xaa, 0xbb, 0xcc, 0xdd}
			s := newSealer(t, version, dcid)
			// Packet payloads: frames out of order within and across packets.
			p0 := cat(cryptoFrame(1000, ch[1000:1400]), []byte{0x01}, cryptoFrame(0, ch[0:600]))
			p1 := cat([]byte{0x02, 0x05, 0x00, 0x01, 0x02, 0x01, 0x00}, // ACK with one extra range
				cryptoFrame(500, ch[500:1100]), // overlaps p0's pieces
				cryptoFrame(2500, ch[2500:3004]))
			p2 := cat([]byte{0x03, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03}, // ACK with ECN counts
				cryptoFrame(1400, ch[1400:2000]),
				cryptoFrame(0, ch[0:600])) // duplicate
			p3 := cat(cryptoFrame(2000, ch[2000:2500]), []byte{0x01})
			d0 := s.initial(dcid, scid, 0, padTo(p0, 1100))
			d1 := s.initial(dcid, scid, 1, padTo(p1, 1100))
			coalesced := cat(s.initial(dcid, scid, 2, p2), s.initial(dcid, scid, 3, padTo(p3, 600)))

			tr := NewTracker(8, time.Minute)
			for i, d := range [][]byte{d1, d0} {
				if _, ok, err := tr.Datagram(t0, d); ok || err != nil {
					t.Fatalf("datagram %d: ok=%v err=%v", i, ok, err)
				}
			}
			res, ok, err := tr.Datagram(t0, coalesced)
			if !ok || err != nil {
				t.Fatalf("coalesced: ok=%v err=%v stats=%+v", ok, err, tr.Stats())
			}
			if !bytes.Equal(res.ClientHello, ch) {
				t.Fatalf("ClientHello differs (len %d want %d)", len(res.ClientHello), len(ch))
			}
			if res.Packets != 4 || res.Version != version || !bytes.Equal(res.DCID, dcid) || !bytes.Equal(res.SCID, scid) {
				t.Fatalf("result %+v", res)
			}
			st := tr.Stats()
			if st.Initials != 4 || st.Decrypted != 4 || st.ClientHellos != 1 || st.Connections != 1 || st.Skipped[ReasonDecrypt] != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestReassemblyRandomOrders delivers randomly cut, duplicated and shuffled
// pieces, one packet each, and checks completion happens exactly when the
// last hole is filled.
func TestReassemblyRandomOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		ch := fakeClientHello(200+rng.IntN(4000), byte(iter))
		dcid := []byte{byte(iter), 9, 9, 9, 9, 9, 9, 9}
		s := newSealer(t, Version1, dcid)
		var pieces []piece
		for off := 0; off < len(ch); {
			n := 1 + rng.IntN(700)
			end := min(off+n, len(ch))
			pieces = append(pieces, piece{off, end})
			off = end
		}
		for i := rng.IntN(4); i > 0; i-- { // duplicates and overlaps
			a := rng.IntN(len(ch))
			pieces = append(pieces, piece{a, min(len(ch), a+1+rng.IntN(300))})
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		tr := NewTracker(4, time.Minute)
		covered := make([]bool, len(ch))
		for i, p := range pieces {
			for k := p.off; k < p.end; k++ {
				covered[k] = true
			}
			complete := true
			for _, c := range covered {
				complete = complete && c
			}
			d := s.initial(dcid, nil, uint64(i), padTo(cryptoFrame(uint64(p.off), ch[p.off:p.end]), 1100))
			res, ok, err := tr.Datagram(t0, d)
			if ok != complete {
				t.Fatalf("iter %d piece %d: ok=%v want %v err=%v", iter, i, ok, complete, err)
			}
			if ok {
				if !bytes.Equal(res.ClientHello, ch) {
					t.Fatalf("iter %d: ClientHello differs", iter)
				}
				break
			}
			if err != nil {
				t.Fatalf("iter %d piece %d: %v", iter, i, err)
			}
		}
	}
}

func TestLaterClientInitialsUseOriginalKeys(t *testing.T) {
	// After the server answers, the client sends to the server's CID but
	// keeps its SCID and the keys of its original DCID.
	ch := fakeClientHello(1500, 3)
	dcid, scid, serverCID := []byte("origdcid"), []byte("clientscid"), []byte("srvcid01")
	s := newSealer(t, Version1, dcid)
	tr := NewTracker(4, time.Minute)
	if _, ok, err := tr.Datagram(t0, s.initial(dcid, scid, 0, padTo(cryptoFrame(0, ch[:1000]), 1100))); ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	// The server's Initial goes to the client's SCID: recognised, not a failure.
	srv := newSealer(t, Version1, []byte("whatever"))
	if _, _, err := tr.Datagram(t0, srv.initial(scid, serverCID, 0, padTo(nil, 100))); !errors.Is(err, ErrServerInitial) {
		t.Fatalf("server initial: %v", err)
	}
	res, ok, err := tr.Datagram(t0, s.initial(serverCID, scid, 1, padTo(cryptoFrame(1000, ch[1000:]), 1100)))
	if !ok || err != nil || !bytes.Equal(res.ClientHello, ch) || !bytes.Equal(res.DCID, dcid) {
		t.Fatalf("second: ok=%v err=%v res=%+v", ok, err, res)
	}
	if st := tr.Stats(); st.Skipped[ReasonDecrypt] != 0 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryStartsNewConnection(t *testing.T) {
	// After Retry the client resends its ClientHello with a token, to the
	// CID the Retry chose, with keys from that CID: a new ClientHello.
	ch := fakeClientHello(400, 4)
	scid := []byte("clientscid")
	d1, d2 := []byte("firstdcid"), []byte("retrydcid")
	tr := NewTracker(4, time.Minute)
	if _, ok, _ := tr.Datagram(t0, newSealer(t, Version1, d1).initial(d1, scid, 0, padTo(cryptoFrame(0, ch), 1100))); !ok {
		t.Fatal("first ClientHello not delivered")
	}
	s2 := newSealer(t, Version1, d2)
	pkt := s2.seal(typeInitial, d2, scid, []byte("retry-token"), 1, 2, padTo(cryptoFrame(0, ch), 1100))
	res, ok, err := tr.Datagram(t0, pkt)
	if !ok || err != nil || !bytes.Equal(res.DCID, d2) {
		t.Fatalf("after retry: ok=%v err=%v", ok, err)
	}
}

func TestSkipReasons(t *testing.T) {
	dcid := []byte("01234567")
	s := newSealer(t, Version1, dcid)
	good := s.initial(dcid, nil, 0, padTo(cryptoFrame(0, fakeClientHello(100, 1)), 1100))
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-5] ^= 1
	hs := s.seal(typeHandshake, dcid, nil, nil, 0, 2, make([]byte, 40))
	for _, tc := range []struct {
		name   string
		dir    Direction
		d      []byte
		want   error
		reason Reason
	}{
		{"empty", DirectionUnknown, nil, ErrTruncated, ReasonTruncated},
		{"short-header", DirectionUnknown, []byte{0x40, 1, 2, 3}, ErrShortHeader, ReasonShortHeader},
		{"version-negotiation", DirectionUnknown, unhex(t, "c0000000000401020304040506070800000001"), ErrVersionNegotiation, ReasonVersionNegotiation},
		{"unsupported-version", DirectionUnknown, unhex(t, "c05130343608010203040506070800"), ErrUnsupportedVersion, ReasonUnsupportedVersion},
		{"cid-too-long", DirectionUnknown, unhex(t, "c000000001150102030405060708090a0b0c0d0e0f101112131415"), ErrMalformed, ReasonMalformed},
		{"retry", DirectionUnknown, unhex(t, "f0000000010401020304040506070811223344"), ErrRetry, ReasonRetry},
		{"handshake-only", DirectionUnknown, hs, ErrNotInitial, ReasonNotInitial},
		{"decrypt", DirectionUnknown, corrupt, ErrDecrypt, ReasonDecrypt},
		{"server-hint", DirectionServer, good, ErrServerInitial, ReasonServerInitial},
		{"short-dcid", DirectionUnknown, newSealer(t, Version1, []byte{1, 2}).initial([]byte{1, 2}, nil, 0, padTo(nil, 1100)), ErrServerInitial, ReasonServerInitial},
		{"not-first-flight", DirectionUnknown, cat(good, hs), ErrNotFirstFlight, ReasonNotFirstFlight},
		{"unexpected-frame", DirectionUnknown, s.initial(dcid, nil, 0, padTo([]byte{0x08, 0, 1, 'x'}, 1100)), ErrUnexpectedFrame, ReasonUnexpectedFrame},
		{"connection-close", DirectionUnknown, s.initial(dcid, nil, 0, padTo([]byte{0x1c, 0x0a, 0x00, 0x00}, 1100)), ErrConnectionClose, ReasonConnectionClose},
		{"too-large", DirectionUnknown, s.initial(dcid, nil, 0, padTo(cryptoFrame(MaxClientHello-2, []byte{1, 2, 3}), 1100)), ErrTooLarge, ReasonTooLarge},
		{"declared-too-large", DirectionUnknown, s.initial(dcid, nil, 0, padTo(cryptoFrame(0, []byte{1, 0, 0x40, 0x00}), 1100)), ErrTooLarge, ReasonTooLarge},
		{"not-client-hello", DirectionUnknown, s.initial(dcid, nil, 0, padTo(cryptoFrame(0, []byte{2, 0, 0, 1, 0}), 1100)), ErrNotClientHello, ReasonNotClientHello},
		{"bad-ack", DirectionUnknown, s.initial(dcid, nil, 0, []byte{0x02, 0x01, 0x00, 0x3f, 0x00}), ErrMalformed, ReasonMalformed},
		{"crypto-past-packet", DirectionUnknown, s.initial(dcid, nil, 0, padTo([]byte{0x06, 0x00, 0x7f, 0xff}, 100)), ErrMalformed, ReasonMalformed},
		{"dcid-mismatch", DirectionUnknown, cat(hs, newSealer(t, Version1, []byte("other-id")).initial([]byte("other-id"), nil, 0, padTo(nil, 100))), ErrNotInitial, ReasonDCIDMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(4, time.Minute)
			_, ok, err := tr.DatagramFrom(t0, tc.dir, tc.d)
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("ok=%v err=%v want %v", ok, err, tc.want)
			}
			if st := tr.Stats(); st.Skipped[tc.reason] == 0 {
				t.Fatalf("Skipped[%v] not counted: %+v", tc.reason, st.Skipped)
			}
		})
	}
}

func TestDecryptFailureKeepsNoState(t *testing.T) {
	dcid := []byte("01234567")
	good := newSealer(t, Version1, dcid).initial(dcid, nil, 0, padTo(cryptoFrame(0, fakeClientHello(100, 1)), 1100))
	bad := bytes.Clone(good)
	bad[40] ^= 0xff
	tr := NewTracker(1, time.Minute)
	for i := 0; i < 3; i++ {
		if _, _, err := tr.Datagram(t0, bad); !errors.Is(err, ErrDecrypt) {
			t.Fatal(err)
		}
	}
	if tr.Len() != 0 || tr.Stats().Connections != 0 {
		t.Fatalf("failed decryptions left state: len %d", tr.Len())
	}
	if _, ok, err := tr.Datagram(t0, good); !ok || err != nil {
		t.Fatalf("good after bad: %v %v", ok, err)
	}
}

func TestEvictionAndExpiry(t *testing.T) {
	tr := NewTracker(2, 10*time.Second)
	ch := fakeClientHello(2000, 5)
	half := func(i int, now time.Time) {
		dcid := []byte{byte(i), 1, 2, 3, 4, 5, 6, 7}
		d := newSealer(t, Version1, dcid).initial(dcid, []byte{byte(i)}, 0, padTo(cryptoFrame(0, ch[:1000]), 1100))
		if _, ok, err := tr.Datagram(now, d); ok || err != nil {
			t.Fatalf("conn %d: %v %v", i, ok, err)
		}
	}
	half(1, t0)
	half(2, t0.Add(time.Second))
	half(3, t0.Add(2*time.Second)) // evicts 1, the least recently used
	st := tr.Stats()
	if tr.Len() != 2 || st.Evictions != 1 || st.Incomplete != 1 {
		t.Fatalf("after eviction len %d stats %+v", tr.Len(), st)
	}
	if _, ok := tr.dcids[makeCID([]byte{1, 1, 2, 3, 4, 5, 6, 7})]; ok {
		t.Fatal("evicted connection still indexed")
	}
	if _, ok := tr.scids[makeCID([]byte{1})]; ok {
		t.Fatal("evicted connection's SCID still indexed")
	}
	tr.Expire(t0.Add(11500 * time.Millisecond)) // conn 2 idle 10.5s, conn 3 9.5s
	if tr.Len() != 1 || tr.Stats().Expired != 1 {
		t.Fatalf("after expire len %d stats %+v", tr.Len(), tr.Stats())
	}
	tr.Expire(t0.Add(time.Hour))
	if tr.Len() != 0 || tr.head != -1 || tr.tail != -1 || len(tr.dcids) != 0 || len(tr.scids) != 0 || len(tr.free) != 3 {
		t.Fatalf("not empty: len %d head %d tail %d", tr.Len(), tr.head, tr.tail)
	}
}

func TestDirectionFromPorts(t *testing.T) {
	for _, tc := range []struct {
		src, dst uint16
		want     Direction
	}{
		{443, 51000, DirectionServer},
		{8443, 40000, DirectionServer},
		{51000, 443, DirectionClient},
		{443, 53, DirectionUnknown},
		{4443, 42086, DirectionUnknown},
		{443, 443, DirectionUnknown},
	} {
		if got := DirectionFromPorts(tc.src, tc.dst); got != tc.want {
			t.Errorf("%d->%d: %v want %v", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestDecodePacketNumber(t *testing.T) {
	// RFC 9000 §A.3's example, plus the first packet of a connection.
	if got := decodePacketNumber(0xa82f30ea, 0x9b32, 2); got != 0xa82f9b32 {
		t.Fatalf("got %#x", got)
	}
	if got := decodePacketNumber(-1, 2, 4); got != 2 {
		t.Fatalf("got %d", got)
	}
	if got := decodePacketNumber(255, 1, 1); got != 257 {
		t.Fatalf("got %d", got)
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for r := Reason(0); r < NumReasons; r++ {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Fatalf("reason %d has name %q", r, s)
		}
		seen[s] = true
		if (r == ReasonNone) != (r.Err() == nil) {
			t.Fatalf("reason %v error %v", r, r.Err())
		}
	}
	if NumReasons.String() != "unknown" {
		t.Fatal("out of range reason")
	}
}
