package observe

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// CommunityID returns the Community ID v1 flow hash (seed 0) of a 5-tuple,
// "1:" + base64(sha1), as Zeek, Suricata and ECS network.community_id use it.
// For ICMP the ports carry type and code; callers pass 0 for other protocols.
func CommunityID(src, dst netip.Addr, sport, dport uint16, proto uint8) string {
	if !src.IsValid() || !dst.IsValid() {
		return ""
	}
	// Order the endpoints so both directions hash alike.
	if dst.Less(src) || (dst == src && dport < sport) {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	var buf [2 + 16 + 16 + 1 + 1 + 2 + 2]byte
	b := buf[:0]
	b = append(b, 0, 0) // seed
	b = appendAddr(b, src)
	b = appendAddr(b, dst)
	b = append(b, proto, 0)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	sum := sha1.Sum(b)
	// "1:" and the base64 built on the stack: one allocation, the string.
	var out [2 + 28]byte
	out[0], out[1] = '1', ':'
	base64.StdEncoding.Encode(out[2:], sum[:])
	return string(out[:])
}

// appendAddr appends the address's bytes (4 for IPv4, 16 otherwise), as
// AsSlice gives them, without AsSlice's allocation.
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}
