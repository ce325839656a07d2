package mail

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/orchard-nsm/orchard/agent/config"
)

// TestHasAddrSameAsContains: the word-mask IPv4 check agrees with
// netip.Prefix.Contains for edge prefixes (/0, /32, host bits set, IPv6,
// v4-mapped) and random addresses near them.
func TestHasAddrSameAsContains(t *testing.T) {
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.PrefixFrom(netip.MustParseAddr("198.51.100.77"), 28), // host bits set
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::ffff:203.0.113.0/120"),
		{}, // invalid: matches nothing
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"),
		netip.MustParseAddr("198.51.100.64"), netip.MustParseAddr("198.51.100.79"), netip.MustParseAddr("198.51.100.80"),
		netip.MustParseAddr("10.255.255.255"), netip.MustParseAddr("11.0.0.0"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db9::1"),
		netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("::ffff:203.0.113.5"), netip.MustParseAddr("::ffff:192.0.2.10"),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		addrs = append(addrs, netip.AddrFrom4(b))
	}
	for n := range len(prefixes) + 1 {
		list := prefixes[:n]
		if n == len(prefixes) {
			list = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
		}
		m := NewMatcher([]config.MailServer{{Name: "s", Addresses: list}})
		for _, a := range addrs {
			want := false
			for _, p := range list {
				want = want || p.Contains(a)
			}
			if got := m.servers[0].hasAddr(a); got != want {
				t.Errorf("prefixes %v, address %v: hasAddr %v, Contains %v", list, a, got, want)
			}
		}
	}
}

func BenchmarkHasAddr(b *testing.B) {
	var list []netip.Prefix
	for i := range 24 {
		list = append(list, netip.PrefixFrom(netip.AddrFrom4([4]byte{40, byte(i), 0, 0}), 16))
	}
	m := NewMatcher([]config.MailServer{{Name: "s", Addresses: list}})
	a := netip.MustParseAddr("93.184.216.34")
	b.ReportAllocs()
	for b.Loop() {
		if m.servers[0].hasAddr(a) {
			b.Fatal("match")
		}
	}
}
