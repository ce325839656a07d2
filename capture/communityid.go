package capture

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
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = append(b, proto, 0)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	sum := sha1.Sum(b)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}
