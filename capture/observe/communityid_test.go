package observe

import (
	"net/netip"
	"testing"
)

// Vectors from the Community ID specification's baseline (corelight/community-id-spec).
func TestCommunityID(t *testing.T) {
	cases := []struct {
		src, dst     string
		sport, dport uint16
		proto        uint8
		want         string
	}{
		{"128.232.110.120", "66.35.250.204", 34855, 80, 6, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"66.35.250.204", "128.232.110.120", 80, 34855, 6, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"192.168.1.52", "8.8.8.8", 54585, 53, 17, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	}
	for _, c := range cases {
		got := CommunityID(netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst), c.sport, c.dport, c.proto)
		if got != c.want {
			t.Errorf("%s:%d > %s:%d/%d = %s, want %s", c.src, c.sport, c.dst, c.dport, c.proto, got, c.want)
		}
	}
}
