package gencap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// quicV1Salt is the QUIC version 1 Initial salt (RFC 9001 §5.2).
var quicV1Salt = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}

// ErrQUIC reports a QUIC Initial that cannot be built (e.g. a ClientHello
// too large for one 1200-byte datagram).
var ErrQUIC = errors.New("gencap: quic initial")

// initialKeys are the client Initial packet protection keys for one DCID.
type initialKeys struct {
	aead cipher.AEAD
	iv   []byte
	hp   cipher.Block
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func hkdfExpandLabel(secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}

// clientInitialSecrets derives key, iv and hp for the client side.
func clientInitialSecrets(dcid []byte) (key, iv, hp []byte, err error) {
	return initialSecrets(dcid, "client in")
}

// initialSecrets derives key, iv and hp for one side ("client in" or
// "server in"); both sides' Initial keys come from the client's first DCID.
func initialSecrets(dcid []byte, side string) (key, iv, hp []byte, err error) {
	initial, err := hkdf.Extract(sha256.New, dcid, quicV1Salt)
	if err != nil {
		return nil, nil, nil, err
	}
	cs, err := hkdfExpandLabel(initial, side, 32)
	if err != nil {
		return nil, nil, nil, err
	}
	if key, err = hkdfExpandLabel(cs, "quic key", 16); err != nil {
		return nil, nil, nil, err
	}
	if iv, err = hkdfExpandLabel(cs, "quic iv", 12); err != nil {
		return nil, nil, nil, err
	}
	hp, err = hkdfExpandLabel(cs, "quic hp", 16)
	return key, iv, hp, err
}

func newInitialKeys(dcid []byte, side string) (*initialKeys, error) {
	key, iv, hp, err := initialSecrets(dcid, side)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQUIC, err)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQUIC, err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQUIC, err)
	}
	hpb, err := aes.NewCipher(hp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQUIC, err)
	}
	return &initialKeys{aead: aead, iv: iv, hp: hpb}, nil
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

// quicInitial builds a protected client Initial packet (RFC 9000 §17.2.2,
// RFC 9001 §5) carrying hello in one CRYPTO frame, padded so the UDP
// payload is exactly 1200 bytes.
func quicInitial(dcid, scid []byte, pn uint32, hello []byte) ([]byte, error) {
	return sealInitial(dcid, dcid, scid, pn, nil, hello, "client in")
}

// sealInitial builds a protected Initial packet. keyDCID is the client's
// original DCID (it keys both directions); ack, when non-nil, is an ACK
// frame placed before the CRYPTO frame.
func sealInitial(keyDCID, dcid, scid []byte, pn uint32, ack, crypto []byte, side string) ([]byte, error) {
	const datagram = 1200
	const pnLen = 2
	hello := crypto
	keys, err := newInitialKeys(keyDCID, side)
	if err != nil {
		return nil, err
	}
	hdr := []byte{0xc0 | (pnLen - 1)}
	hdr = binary.BigEndian.AppendUint32(hdr, 1)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = append(hdr, 0) // token length
	// Length field: 2-byte varint covering packet number + payload + tag.
	lengthVal := datagram - len(hdr) - 2
	plainLen := lengthVal - pnLen - keys.aead.Overhead()
	frame := append([]byte{}, ack...)
	frame = append(frame, 0x06, 0x00)
	frame = appendVarint(frame, uint64(len(hello)))
	frame = append(frame, hello...)
	if len(frame) > plainLen {
		return nil, fmt.Errorf("%w: ClientHello of %d bytes does not fit", ErrQUIC, len(hello))
	}
	plain := make([]byte, plainLen) // zero bytes are PADDING frames
	copy(plain, frame)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(lengthVal)|0x4000)
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(pn))
	nonce := make([]byte, 12)
	copy(nonce, keys.iv)
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(uint64(pn) >> (8 * i))
	}
	pkt := keys.aead.Seal(hdr, nonce, plain, hdr)
	// Header protection: the sample starts 4 bytes after the packet number.
	var mask [16]byte
	keys.hp.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := 0; i < pnLen; i++ {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt, nil
}
