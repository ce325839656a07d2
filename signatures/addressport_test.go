package signatures

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// TestAddressPortPrefilter: the port and first-octet bitmaps in front of
// the address-port walk reject no flow the walk matches, for the embedded
// signatures and for sets with any-port, short-prefix, IPv6 and
// IPv4-mapped entries, on random and near-edge addresses and ports.
func TestAddressPortPrefilter(t *testing.T) {
	emb, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sets := []*Set{emb}
	for _, patterns := range [][]string{
		{"17.0.0.0/8:5223", "128.0.0.0/3:993", "2620:149::/32:443"},
		{"0.0.0.0/0:*"},
		{"192.0.2.77/32:*", "::ffff:203.0.113.0/120:443", "10.0.0.0/7:8080"},
		{"2001:db8::/32:*"},
	} {
		var b strings.Builder
		b.WriteString("version: \"1\"\nentries:\n")
		for i, p := range patterns {
			fmt.Fprintf(&b, "  - id: t.ap-%d\n    kind: address-port\n    pattern: %q\n    platform: apple\n    weight: 1\n    source: test\n", i, p)
		}
		s, err := loadOne("t.yaml", b.String())
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	r := rand.New(rand.NewPCG(9, 10))
	var addrs []netip.Addr
	for _, a := range []string{"17.0.0.1", "17.255.255.255", "16.255.255.255", "18.0.0.0", "127.255.255.255", "128.0.0.0",
		"159.255.255.255", "160.0.0.0", "10.1.2.3", "11.255.0.1", "12.0.0.0", "192.0.2.77", "192.0.2.78", "203.0.113.9",
		"::ffff:203.0.113.9", "::ffff:17.1.1.1", "2620:149::1", "2620:14a::1", "2001:db8:ffff::1", "2001:db9::1", "::", "0.0.0.0"} {
		addrs = append(addrs, netip.MustParseAddr(a))
	}
	for range 3000 {
		var b4 [4]byte
		var b16 [16]byte
		for i := range b4 {
			b4[i] = byte(r.IntN(256))
		}
		for i := range b16 {
			b16[i] = byte(r.IntN(256))
		}
		addrs = append(addrs, netip.AddrFrom4(b4), netip.AddrFrom16(b16))
	}
	ports := []uint16{0, 1, 443, 993, 5223, 8080, 63, 64, 65535, 5222, 5224}
	for si, s := range sets {
		hits := 0
		for _, a := range addrs {
			for _, port := range append(ports, uint16(r.IntN(65536))) {
				want := false
				for _, i := range s.addressPort {
					e := &s.entries[i]
					if (e.port == 0 || e.port == port) && e.prefix.Contains(a.Unmap()) {
						want = true
						break
					}
				}
				if got := s.WantsAddressPort(a, port); got != want {
					t.Fatalf("set %d: WantsAddressPort(%v, %d) = %v, the walk says %v", si, a, port, got, want)
				}
				if want {
					hits++
				}
			}
		}
		if hits == 0 {
			t.Errorf("set %d: no address matched: the test does not exercise it", si)
		}
	}
}
