package mail

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/orchard-nsm/orchard/agent/config"
)

// TestHasAddrSameAsContains: the word-mask IPv4 and IPv6 checks agree
// with netip.Prefix.Contains for edge prefixes (/0, /32, /64, /65, /128,
// host bits set, v4-mapped, invalid) and addresses near them, random ones
// and ones with a zone.
func TestHasAddrSameAsContains(t *testing.T) {
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.PrefixFrom(netip.MustParseAddr("198.51.100.77"), 28), // host bits set
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.PrefixFrom(netip.MustParseAddr("131.253.33.215"), 3), // first octets 128-159, host bits set
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::ffff:203.0.113.0/120"),
		{}, // invalid: matches nothing
		netip.PrefixFrom(netip.MustParseAddr("2603:1006:1400::77"), 40), // host bits set
		netip.MustParsePrefix("2620:1ec:4::152/128"),
		netip.MustParsePrefix("2001:db8:1:2::/64"),
		netip.MustParsePrefix("2001:db8:1:3:8000::/65"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("8000::/1"),
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"),
		netip.MustParseAddr("198.51.100.64"), netip.MustParseAddr("198.51.100.79"), netip.MustParseAddr("198.51.100.80"),
		netip.MustParseAddr("10.255.255.255"), netip.MustParseAddr("11.0.0.0"),
		netip.MustParseAddr("127.255.255.255"), netip.MustParseAddr("128.0.0.0"), netip.MustParseAddr("159.255.255.255"), netip.MustParseAddr("160.0.0.0"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db9::1"),
		netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("::ffff:203.0.113.5"), netip.MustParseAddr("::ffff:192.0.2.10"),
		{},
		netip.MustParseAddr("2603:1006:1400::1"), netip.MustParseAddr("2603:1006:ff00::1"), netip.MustParseAddr("2603:1006:0100::1"),
		netip.MustParseAddr("2620:1ec:4::152"), netip.MustParseAddr("2620:1ec:4::153"),
		netip.MustParseAddr("2001:db8:1:2:ffff:ffff:ffff:ffff"), netip.MustParseAddr("2001:db8:1:3::1"),
		netip.MustParseAddr("2001:db8:1:3:8000::1"), netip.MustParseAddr("2001:db8:1:3:7fff::1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("febf::1"), netip.MustParseAddr("fec0::1"),
		netip.MustParseAddr("8000::"), netip.MustParseAddr("7fff:ffff::"),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		addrs = append(addrs, netip.AddrFrom4(b))
		// IPv6 near the prefixes above: a random address, then the
		// prefixes' addresses with one random bit flipped.
		var b16 [16]byte
		for i := range b16 {
			b16[i] = byte(r.IntN(256))
		}
		addrs = append(addrs, netip.AddrFrom16(b16))
		for _, p := range prefixes {
			if !p.IsValid() || !p.Addr().Is6() {
				continue
			}
			x := p.Addr().As16()
			bit := r.IntN(128)
			x[bit/8] ^= 0x80 >> (bit % 8)
			addrs = append(addrs, netip.AddrFrom16(x))
		}
	}
	for n := range len(prefixes) + 3 {
		var list []netip.Prefix
		switch {
		case n <= len(prefixes):
			list = prefixes[:n]
		case n == len(prefixes)+1:
			list = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
		default:
			list = []netip.Prefix{netip.MustParsePrefix("::/0")}
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

// BenchmarkHasAddr: a miss against 24 IPv4 prefixes (rejected by the
// first-octet bitmap, and with a walk of all of them) and 16 IPv6 ones.
func BenchmarkHasAddr(b *testing.B) {
	var v4, v6 []netip.Prefix
	for i := range 24 {
		v4 = append(v4, netip.PrefixFrom(netip.AddrFrom4([4]byte{40, byte(i), 0, 0}), 16))
	}
	for i := range 16 {
		v6 = append(v6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x26, 0x03, 0x10, byte(i)}), 36))
	}
	for _, c := range []struct {
		name     string
		prefixes []netip.Prefix
		addr     string
	}{
		{"ipv4-other-octet", v4, "93.184.216.34"},
		{"ipv4-walk", v4, "40.200.1.1"},
		{"ipv6", v6, "2001:db8:77::1"},
	} {
		m := NewMatcher([]config.MailServer{{Name: "s", Addresses: c.prefixes}})
		a := netip.MustParseAddr(c.addr)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.servers[0].hasAddr(a) {
					b.Fatal("match")
				}
			}
		})
	}
}
