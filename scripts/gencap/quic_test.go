package gencap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 9001 Appendix A.1.
func TestInitialSecretsRFC9001(t *testing.T) {
	dcid := unhex(t, "8394c8f03e515708")
	for _, c := range []struct{ side, key, iv, hp string }{
		{"client in", "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		{"server in", "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314"},
	} {
		key, iv, hp, err := initialSecrets(dcid, c.side)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(key) != c.key || hex.EncodeToString(iv) != c.iv || hex.EncodeToString(hp) != c.hp {
			t.Errorf("%s: key %x iv %x hp %x", c.side, key, iv, hp)
		}
	}
}

// openInitial removes header protection and decrypts a client Initial the
// way a receiver does (RFC 9001 §5.4), independently of sealInitial's code path.
func openInitial(t *testing.T, pkt []byte) (dcid, plain []byte) {
	t.Helper()
	if pkt[0]&0xf0 != 0xc0 || binary.BigEndian.Uint32(pkt[1:]) != 1 {
		t.Fatalf("not a v1 Initial: %x", pkt[:5])
	}
	p := 5
	dcid = pkt[p+1 : p+1+int(pkt[p])]
	p += 1 + int(pkt[p])
	p += 1 + int(pkt[p]) // scid
	p += 1 + int(pkt[p]) // token (short)
	length := int(binary.BigEndian.Uint16(pkt[p:]) & 0x3fff)
	p += 2
	key, iv, hp, err := initialSecrets(dcid, "client in")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := aes.NewCipher(hp)
	var mask [16]byte
	hb.Encrypt(mask[:], pkt[p+4:p+20])
	hdr := bytes.Clone(pkt[:p+4])
	hdr[0] ^= mask[0] & 0x0f
	pnLen := int(hdr[0]&3) + 1
	hdr = hdr[:p+pnLen]
	var pn uint64
	for i := 0; i < pnLen; i++ {
		hdr[p+i] ^= mask[1+i]
		pn = pn<<8 | uint64(hdr[p+i])
	}
	kb, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(kb)
	nonce := bytes.Clone(iv)
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(pn >> (8 * i))
	}
	plain, err = g.Open(nil, nonce, pkt[p+pnLen:p+length], hdr)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return dcid, plain
}

func TestQUICInitialOpens(t *testing.T) {
	r := newRNG(1, 1)
	scid := r.bytes(8)
	hello, err := clientHello(r, helloAppleQUIC, "mask.icloud.com", helloOpts{quic: true, quicSCI: scid})
	if err != nil {
		t.Fatal(err)
	}
	if sid := hello[38]; sid != 0 {
		t.Errorf("QUIC ClientHello has a %d-byte session ID", sid)
	}
	if !bytes.Contains(hello, []byte{0x00, 0x39}) || !bytes.Contains(hello, []byte("mask.icloud.com")) || !bytes.Contains(hello, []byte("h3")) {
		t.Error("QUIC ClientHello lacks transport parameters, SNI or h3")
	}
	pkt, err := quicInitial(r.bytes(8), scid, 0, hello)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) != 1200 {
		t.Errorf("datagram %d bytes, want 1200", len(pkt))
	}
	_, plain := openInitial(t, pkt)
	if plain[0] != 0x06 || plain[1] != 0 {
		t.Fatalf("first frame %x, want CRYPTO at offset 0", plain[:2])
	}
	n := int(binary.BigEndian.Uint16(plain[2:]) & 0x3fff)
	if !bytes.Equal(plain[4:4+n], hello) {
		t.Error("CRYPTO frame does not carry the ClientHello")
	}
	for _, b := range plain[4+n:] {
		if b != 0 {
			t.Fatal("non-PADDING after the CRYPTO frame")
		}
	}
	if _, err := quicInitial(r.bytes(8), scid, 0, make([]byte, 1200)); err == nil {
		t.Error("oversized ClientHello accepted")
	}
}

func TestClientHelloKinds(t *testing.T) {
	r := newRNG(2, 2)
	chrome, err := clientHello(r, helloChrome, "www.apple.com", helloOpts{})
	if err != nil {
		t.Fatal(err)
	}
	// X25519MLKEM768 key share: group 0x11ec, 1216 bytes.
	if !bytes.Contains(chrome, []byte{0x11, 0xec, 0x04, 0xc0}) || len(chrome) < 1500 || len(chrome) > 1850 {
		t.Errorf("Chrome hello %d bytes, PQ share present %v", len(chrome), bytes.Contains(chrome, []byte{0x11, 0xec, 0x04, 0xc0}))
	}
	ios, err := clientHello(r, helloIOS, "gs.apple.com", helloOpts{alpn: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ios, []byte("gs.apple.com")) || bytes.Contains(ios, []byte("http/1.1")) {
		t.Error("iOS hello: SNI missing or ALPN not removed")
	}
	// Two different random streams give different randoms, same length.
	a, _ := clientHello(newRNG(5, 5), helloSafari, "x.apple.com", helloOpts{})
	b, _ := clientHello(newRNG(6, 6), helloSafari, "x.apple.com", helloOpts{})
	if len(a) != len(b) || bytes.Equal(a[6:38], b[6:38]) {
		t.Error("client random not drawn from the seed")
	}
}
