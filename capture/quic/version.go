package quic

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
)

// QUIC versions whose Initial packets can be opened.
const (
	Version1       uint32 = 0x00000001 // RFC 9000
	Version2       uint32 = 0x6b3343cf // RFC 9369
	VersionDraft29 uint32 = 0xff00001d // draft-ietf-quic-transport-29
)

type packetType uint8

const (
	typeInitial packetType = iota
	typeZeroRTT
	typeHandshake
	typeRetry
)

// versionInfo is what differs between versions for Initial protection.
type versionInfo struct {
	id                         uint32
	salt                       []byte
	keyLabel, ivLabel, hpLabel string
	// types maps the two long-header type bits to a packet type: RFC 9369
	// §3.2 reassigns them so middleboxes cannot ossify on v1's values.
	types [4]packetType
}

var (
	saltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}

	typesV1 = [4]packetType{typeInitial, typeZeroRTT, typeHandshake, typeRetry}
	typesV2 = [4]packetType{typeRetry, typeInitial, typeZeroRTT, typeHandshake}

	infoV1      = versionInfo{Version1, saltV1, "quic key", "quic iv", "quic hp", typesV1}
	infoV2      = versionInfo{Version2, saltV2, "quicv2 key", "quicv2 iv", "quicv2 hp", typesV2}
	infoDraft29 = versionInfo{VersionDraft29, saltDraft29, "quic key", "quic iv", "quic hp", typesV1}
)

// lookupVersion returns the protection parameters of v, nil if unsupported.
func lookupVersion(v uint32) *versionInfo {
	switch v {
	case Version1:
		return &infoV1
	case Version2:
		return &infoV2
	case VersionDraft29:
		return &infoDraft29
	}
	return nil
}

// initialKeys protect one direction of a connection's Initial packets.
type initialKeys struct {
	aead cipher.AEAD  // AES-128-GCM with the packet key
	hp   cipher.Block // AES-128 with the header-protection key, used as ECB
	iv   [12]byte
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1) with an
// empty context, as RFC 9001 §5.1 uses it.
func hkdfExpandLabel(secret []byte, label string, length int) ([]byte, error) {
	var info [2 + 1 + 6 + 16 + 1]byte
	b := binary.BigEndian.AppendUint16(info[:0], uint16(length))
	b = append(b, byte(6+len(label)))
	b = append(b, "tls13 "...)
	b = append(b, label...)
	b = append(b, 0)
	return hkdf.Expand(sha256.New, secret, string(b), length)
}

// initialSecret returns the Initial secret of label ("client in" or
// "server in") for dcid.
func initialSecret(v *versionInfo, dcid []byte, label string) ([]byte, error) {
	initial, err := hkdf.Extract(sha256.New, dcid, v.salt)
	if err != nil {
		return nil, err
	}
	return hkdfExpandLabel(initial, label, sha256.Size)
}

// keysFromSecret derives key, IV and header-protection key from a secret.
func keysFromSecret(v *versionInfo, secret []byte) (k initialKeys, key, hp []byte, err error) {
	if key, err = hkdfExpandLabel(secret, v.keyLabel, 16); err != nil {
		return k, nil, nil, err
	}
	iv, err := hkdfExpandLabel(secret, v.ivLabel, 12)
	if err != nil {
		return k, nil, nil, err
	}
	if hp, err = hkdfExpandLabel(secret, v.hpLabel, 16); err != nil {
		return k, nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return k, nil, nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return k, nil, nil, err
	}
	if k.hp, err = aes.NewCipher(hp); err != nil {
		return k, nil, nil, err
	}
	copy(k.iv[:], iv)
	return k, key, hp, nil
}

// clientKeys derives the keys protecting the client's Initial packets of the
// connection whose client-chosen Destination Connection ID is dcid.
func clientKeys(v *versionInfo, dcid []byte) (initialKeys, error) {
	client, err := initialSecret(v, dcid, "client in")
	if err != nil {
		return initialKeys{}, err
	}
	k, _, _, err := keysFromSecret(v, client)
	return k, err
}
