package quic

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc0<<56)
}

func cryptoFrame(off uint64, data []byte) []byte {
	b := appendVarint([]byte{0x06}, off)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// sealer is the test-side client: it protects Initial packets with the same
// derivation the Tracker uses to open them.
type sealer struct {
	v    *versionInfo
	keys initialKeys
}

func newSealer(t testing.TB, version uint32, keyDCID []byte) *sealer {
	t.Helper()
	v := lookupVersion(version)
	if v == nil {
		t.Fatalf("unsupported version %#x", version)
	}
	k, err := clientKeys(v, keyDCID)
	if err != nil {
		t.Fatal(err)
	}
	return &sealer{v: v, keys: k}
}

// seal builds one protected packet of type typ (Initial unless given).
func (s *sealer) seal(typ packetType, dcid, scid, token []byte, pn uint64, pnLen int, payload []byte) []byte {
	var bits byte
	for i, pt := range s.v.types {
		if pt == typ {
			bits = byte(i)
		}
	}
	if minLen := 4 - pnLen; len(payload) < minLen {
		payload = append(payload, make([]byte, minLen-len(payload))...)
	}
	hdr := []byte{0xc0 | bits<<4 | byte(pnLen-1)}
	hdr = binary.BigEndian.AppendUint32(hdr, s.v.id)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	if typ == typeInitial {
		hdr = appendVarint(hdr, uint64(len(token)))
		hdr = append(hdr, token...)
	}
	length := pnLen + len(payload) + 16
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(length)|0x4000)
	pnOff := len(hdr)
	for i := pnLen - 1; i >= 0; i-- {
		hdr = append(hdr, byte(pn>>(8*i)))
	}
	nonce := s.keys.iv
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(pn >> (56 - 8*i))
	}
	pkt := s.keys.aead.Seal(hdr, nonce[:], payload, hdr)
	var mask [16]byte
	s.keys.hp.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := 0; i < pnLen; i++ {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

func (s *sealer) initial(dcid, scid []byte, pn uint64, payload []byte) []byte {
	return s.seal(typeInitial, dcid, scid, nil, pn, 2, payload)
}

// padTo pads a client Initial payload so its datagram reaches 1200 bytes, as
// RFC 9000 §14.1 requires of clients.
func padTo(payload []byte, n int) []byte {
	if len(payload) < n {
		payload = append(payload, make([]byte, n-len(payload))...)
	}
	return payload
}

// fakeClientHello returns a handshake message of type 1 with an n-byte body.
func fakeClientHello(n int, seed byte) []byte {
	ch := []byte{1, byte(n >> 16), byte(n >> 8), byte(n)}
	for i := 0; i < n; i++ {
		ch = append(ch, byte(i*7)+seed)
	}
	return ch
}
