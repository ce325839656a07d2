package observe

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"testing"
)

// communityIDRef is the straightforward form (AsSlice, EncodeToString).
func communityIDRef(src, dst netip.Addr, sport, dport uint16, proto uint8) string {
	if dst.Less(src) || (dst == src && dport < sport) {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	b := []byte{0, 0}
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = append(b, proto, 0)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	sum := sha1.Sum(b)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestCommunityIDAddressForms(t *testing.T) {
	for _, p := range [][2]string{
		{"2001:db8::1", "2001:db8::2"}, {"fe80::1%eth0", "ff02::fb"}, {"::ffff:192.0.2.1", "::ffff:192.0.2.2"},
		{"192.0.2.1", "192.0.2.1"}, {"10.0.0.1", "2001:db8::1"},
	} {
		a, b := netip.MustParseAddr(p[0]), netip.MustParseAddr(p[1])
		if got, want := CommunityID(a, b, 5353, 443, 17), communityIDRef(a, b, 5353, 443, 17); got != want {
			t.Errorf("%v %v: %s, want %s", a, b, got, want)
		}
	}
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { _ = CommunityID(a, b, 1, 2, 6) }); n != 1 {
		t.Errorf("CommunityID allocates %v times, want 1 (the string)", n)
	}
}
