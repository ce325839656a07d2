package hosts

import (
	"net/netip"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func mac(b byte) observe.MAC { return observe.MAC{0x00, 0x1c, 0xb3, 0, 0, b} }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func l2(src observe.MAC, from string, at time.Time) *observe.Observation {
	return &observe.Observation{Kind: observe.KindTCP, Meta: observe.Meta{Time: at, SrcMAC: src, Src: ip(from), Transport: observe.TransportTCP}}
}

func TestBoundedTable(t *testing.T) {
	removed := 0
	tb := New[int](Config{Max: 100, Idle: time.Hour}, func(*Host[int]) { removed++ })
	for i := 0; i < 10000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if h := tb.Resolve(observe.MAC{}, a, t0.Add(time.Duration(i)*time.Millisecond)); h == nil {
			t.Fatal("nil host")
		}
		if tb.Len() > 100 {
			t.Fatalf("table grew to %d", tb.Len())
		}
	}
	st := tb.Stats()
	if st.Evicted != 9900 || removed != 9900 || st.Hosts != 100 {
		t.Fatalf("stats %+v removed %d", st, removed)
	}
	// The most recent survive (LRU), the oldest went.
	if tb.Get(Key{IP: ip("10.0.39.15")}) == nil || tb.Get(Key{IP: ip("10.0.0.1")}) != nil {
		t.Error("eviction is not least-recently-seen")
	}
	// A touched old host survives further inserts.
	tb.Resolve(observe.MAC{}, ip("10.0.38.160"), t0.Add(20*time.Second))
	for i := 0; i < 99; i++ {
		tb.Resolve(observe.MAC{}, netip.AddrFrom4([4]byte{11, 0, 0, byte(i)}), t0.Add(21*time.Second))
	}
	if tb.Get(Key{IP: ip("10.0.38.160")}) == nil {
		t.Error("recently touched host evicted")
	}
	tb.Expire(t0.Add(2 * time.Hour))
	if tb.Len() != 0 || tb.Stats().Expired != 100 {
		t.Errorf("expiry: %d hosts left, %+v", tb.Len(), tb.Stats())
	}
}

func TestKeyByMACAndRouter(t *testing.T) {
	tb := New[int](Config{RouterAddresses: 4}, nil)
	phone, router := mac(1), mac(0xfe)
	tb.Learn(l2(phone, "192.168.1.20", t0))
	if k, _ := tb.KeyFor(phone, ip("192.168.1.20"), t0); k != (Key{MAC: phone}) {
		t.Fatalf("on-segment host keyed %v", k)
	}
	// A router sends for many addresses behind it.
	for i, a := range []string{"10.9.0.5", "10.9.0.6", "10.9.0.7", "10.9.0.8"} {
		o := l2(router, a, t0.Add(time.Duration(i)*time.Second))
		tb.Learn(o)
		tb.Resolve(o.SrcMAC, o.Src, o.Time)
	}
	if !tb.Infrastructure(router) {
		t.Fatal("router MAC not learnt")
	}
	if tb.Get(Key{MAC: router}) != nil {
		t.Error("host keyed by the router MAC kept after it turned out to be a router")
	}
	if k, _ := tb.KeyFor(router, ip("10.9.0.5"), t0.Add(time.Minute)); k != (Key{IP: ip("10.9.0.5")}) {
		t.Errorf("routed host keyed %v, want its IP", k)
	}
	// IPv6 privacy addresses of one host share a /64: not a router.
	for i := 0; i < 10; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)})
		tb.Learn(&observe.Observation{Kind: observe.KindTLS, Meta: observe.Meta{Time: t0, SrcMAC: phone, Src: a}})
	}
	if tb.Infrastructure(phone) {
		t.Error("a host with many IPv6 addresses in one /64 became a router")
	}
	// Its IPv6 addresses are bound to its MAC (here from link-layer
	// headers; NDP does the same).
	if m, ok := tb.OwnerAt(ip("2001:db8:1::5"), t0); !ok || m != phone {
		t.Errorf("IPv6 address bound to %v %v", m, ok)
	}
	tb.Learn(&observe.Observation{Kind: observe.KindARP, Meta: observe.Meta{Time: t0}, ARP: &observe.ARPBinding{Protocol: "ndp", Op: "na", IP: ip("fe80::1234"), MAC: phone}})
	if k, _ := tb.KeyFor(observe.MAC{}, ip("fe80::1234"), t0); k != (Key{MAC: phone}) {
		t.Errorf("NDP binding: key %v", k)
	}
	// The DHCP server is infrastructure from its first offer.
	srv := mac(0xfd)
	tb.Learn(&observe.Observation{Kind: observe.KindDHCP, Meta: observe.Meta{Time: t0, SrcMAC: srv},
		DHCP: &observe.DHCP{MessageType: "offer", ClientMAC: phone}})
	if !tb.Infrastructure(srv) {
		t.Error("DHCP server not infrastructure")
	}
	// Configured infrastructure.
	gw := mac(0xfc)
	tb2 := New[int](Config{Infrastructure: []observe.MAC{gw}}, nil)
	if k, _ := tb2.KeyFor(gw, ip("203.0.113.9"), t0); k != (Key{IP: ip("203.0.113.9")}) {
		t.Errorf("configured gateway: key %v", k)
	}
}

func TestAddressReuse(t *testing.T) {
	tb := New[int](Config{}, nil)
	mac1, pc := mac(1), mac(2)
	ack := func(m observe.MAC, at time.Time) {
		tb.Learn(&observe.Observation{Kind: observe.KindDHCP, Meta: observe.Meta{Time: at, SrcMAC: mac(0xfe)},
			DHCP: &observe.DHCP{MessageType: "ack", ClientMAC: m, AssignedIP: ip("192.168.1.50"), LeaseTime: 3600}})
	}
	ack(mac1, t0)
	ack(pc, t0.Add(2*time.Hour))
	cases := []struct {
		at   time.Time
		want observe.MAC
		ok   bool
	}{
		{t0.Add(-time.Minute), observe.MAC{}, false},
		{t0.Add(30 * time.Minute), mac1, true},
		{t0.Add(59 * time.Minute), mac1, true},
		{t0.Add(119 * time.Minute), observe.MAC{}, false}, // lease ran out, nobody renewed
		{t0.Add(2 * time.Hour), pc, true},
		{t0.Add(150 * time.Minute), pc, true},
		{t0.Add(4 * time.Hour), observe.MAC{}, false}, // lease and binding TTL over
	}
	for _, c := range cases {
		got, ok := tb.OwnerAt(ip("192.168.1.50"), c.at)
		if got != c.want || ok != c.ok {
			t.Errorf("at +%v: owner %v %v, want %v %v", c.at.Sub(t0), got, ok, c.want, c.ok)
		}
	}
	// A MAC-less observation (e.g. from a kernel flow map) resolves by time.
	if k, _ := tb.KeyFor(observe.MAC{}, ip("192.168.1.50"), t0.Add(10*time.Minute)); k != (Key{MAC: mac1}) {
		t.Errorf("early key %v", k)
	}
	if k, _ := tb.KeyFor(observe.MAC{}, ip("192.168.1.50"), t0.Add(3*time.Hour)); k != (Key{MAC: pc}) {
		t.Errorf("late key %v", k)
	}
}

func TestPrivateMACLinking(t *testing.T) {
	tb := New[int](Config{}, nil)
	old := observe.MAC{0x06, 0x11, 0x22, 0x33, 0x44, 0x55} // locally administered
	rot := observe.MAC{0x7a, 0x11, 0x22, 0x33, 0x44, 0x66}
	other := observe.MAC{0x0a, 0x99, 0x22, 0x33, 0x44, 0x66}
	h := tb.Identify(&observe.DHCP{MessageType: "request", ClientMAC: old, Hostname: "Annas-iPhone"}, netip.Addr{}, t0)
	if h == nil || !h.Private {
		t.Fatalf("host %+v", h)
	}
	h.Data = 42
	// The phone rotates its MAC; the specific hostname links it.
	h2 := tb.Identify(&observe.DHCP{MessageType: "request", ClientMAC: rot, Hostname: "Annas-iPhone"}, netip.Addr{}, t0.Add(time.Hour))
	if h2 == nil || h2.Key != (Key{MAC: old}) || h2.Data != 42 || len(h2.MACs) != 2 {
		t.Fatalf("not linked: %+v", h2)
	}
	if k, _ := tb.KeyFor(rot, ip("192.168.1.9"), t0.Add(time.Hour)); k != (Key{MAC: old}) {
		t.Errorf("rotated MAC keys %v", k)
	}
	// A generic hostname links nothing.
	tb.Identify(&observe.DHCP{MessageType: "request", ClientMAC: mac(7), Hostname: "iPhone"}, netip.Addr{}, t0)
	h3 := tb.Identify(&observe.DHCP{MessageType: "request", ClientMAC: other, Hostname: "iPhone"}, netip.Addr{}, t0)
	if h3.Key != (Key{MAC: other}) {
		t.Errorf("generic hostname linked to %v", h3.Key)
	}
	// Client identifier links too (not the 01+MAC form).
	cid := []byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	a := observe.MAC{0x02, 0, 0, 0, 0, 1}
	b := observe.MAC{0x02, 0, 0, 0, 0, 2}
	tb.Identify(&observe.DHCP{MessageType: "discover", ClientMAC: a, ClientID: cid}, netip.Addr{}, t0)
	if h := tb.Identify(&observe.DHCP{MessageType: "discover", ClientMAC: b, ClientID: cid}, netip.Addr{}, t0); h.Key != (Key{MAC: a}) {
		t.Errorf("client id did not link: %v", h.Key)
	}
	if tb.Stats().Linked != 2 {
		t.Errorf("linked %d", tb.Stats().Linked)
	}
}

func TestZeroAllocResolve(t *testing.T) {
	tb := New[int](Config{}, nil)
	o := l2(mac(1), "192.168.1.20", t0)
	tb.Learn(o)
	tb.Resolve(o.SrcMAC, o.Src, o.Time)
	n := testing.AllocsPerRun(1000, func() {
		tb.Learn(o)
		tb.Resolve(o.SrcMAC, o.Src, o.Time)
	})
	if n != 0 {
		t.Errorf("Learn+Resolve of a known host allocates %v times", n)
	}
}

func TestNoHostForBroadcast(t *testing.T) {
	tb := New[int](Config{}, nil)
	bcast := observe.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for _, a := range []string{"255.255.255.255", "0.0.0.0", "224.0.0.251", "ff02::fb", "::"} {
		if h := tb.Resolve(bcast, ip(a), t0); h != nil {
			t.Errorf("%s from a broadcast MAC made host %v", a, h.Key)
		}
	}
	// A host's own address list skips them too.
	h := tb.Resolve(mac(1), ip("0.0.0.0"), t0)
	if h == nil || len(h.IPs) != 0 {
		t.Errorf("host %+v", h)
	}
}

// TestHintsGoStale: a MAC's hints to its host and address nodes are not
// used once those nodes are gone (expired, evicted, demoted): the next
// packet makes a fresh host and a fresh binding.
func TestHintsGoStale(t *testing.T) {
	removed := 0
	tb := New[int](Config{Max: 2, Idle: time.Minute}, func(*Host[int]) { removed++ })
	see := func(m observe.MAC, from string, at time.Time) *Host[int] {
		o := l2(m, from, at)
		tb.Learn(o)
		return tb.Resolve(o.SrcMAC, o.Src, o.Time)
	}
	h := see(mac(1), "10.0.0.1", t0)
	h.Data = 7
	if h2 := see(mac(1), "10.0.0.1", t0.Add(time.Second)); h2 != h || h2.Data != 7 {
		t.Fatal("same MAC, other host")
	}
	tb.Expire(t0.Add(2 * time.Minute))
	if removed != 1 || tb.Len() != 0 {
		t.Fatalf("removed %d, %d hosts", removed, tb.Len())
	}
	h3 := see(mac(1), "10.0.0.1", t0.Add(3*time.Minute))
	if h3 == h || h3.Data != 0 || !h3.FirstSeen.Equal(t0.Add(3*time.Minute)) || tb.Len() != 1 {
		t.Fatalf("expired host came back: %+v", h3)
	}
	// Evicted by two newer hosts: mac(1) comes back fresh.
	h3.Data = 9
	see(mac(2), "10.0.0.2", t0.Add(4*time.Minute))
	see(mac(3), "10.0.0.3", t0.Add(4*time.Minute))
	if h4 := see(mac(1), "10.0.0.1", t0.Add(4*time.Minute)); h4 == h3 || h4.Data != 0 || tb.Get(Key{MAC: mac(1)}) != h4 {
		t.Fatal("evicted host came back")
	}
	// Bindings: the address node is bounded too (Max 2); the binding of
	// 10.0.0.1 to mac(1) is made again after eviction.
	see(mac(2), "10.0.0.2", t0.Add(5*time.Minute))
	see(mac(3), "10.0.0.3", t0.Add(5*time.Minute))
	see(mac(1), "10.0.0.1", t0.Add(6*time.Minute))
	if m, ok := tb.OwnerAt(ip("10.0.0.1"), t0.Add(6*time.Minute)); !ok || m != mac(1) {
		t.Fatalf("owner of 10.0.0.1: %v %v", m, ok)
	}
	// The address node goes while the MAC entry stays: one other MAC
	// sending from two addresses evicts 10.0.0.1's binding.
	see(mac(2), "10.0.0.2", t0.Add(7*time.Minute))
	see(mac(2), "10.0.0.3", t0.Add(7*time.Minute))
	if _, ok := tb.OwnerAt(ip("10.0.0.1"), t0.Add(7*time.Minute)); ok {
		t.Fatal("10.0.0.1 still bound")
	}
	see(mac(1), "10.0.0.1", t0.Add(8*time.Minute))
	if m, ok := tb.OwnerAt(ip("10.0.0.1"), t0.Add(8*time.Minute)); !ok || m != mac(1) {
		t.Fatalf("owner of 10.0.0.1 after eviction: %v %v", m, ok)
	}
}

// TestResolveKnown: it makes no host, and for a known one it is Resolve
// (same host, address and last-seen time noted).
func TestResolveKnown(t *testing.T) {
	tb := New[int](Config{}, nil)
	if h := tb.ResolveKnown(mac(1), ip("10.0.0.1"), t0); h != nil || tb.Len() != 0 {
		t.Fatalf("made a host: %+v", h)
	}
	h := tb.Resolve(mac(1), ip("10.0.0.1"), t0)
	h2 := tb.ResolveKnown(mac(1), ip("10.0.0.2"), t0.Add(time.Second))
	if h2 != h || !h.LastSeen.Equal(t0.Add(time.Second)) || len(h.IPs) != 2 || h.IPs[1].Addr != ip("10.0.0.2") {
		t.Fatalf("known host not resolved: %+v", h2)
	}
	if tb.ResolveKnown(observe.MAC{}, netip.Addr{}, t0) != nil {
		t.Fatal("host for no endpoint")
	}
}

// TestEvictionGrain: a host seen again moves to the front of the eviction
// order at most once a second (lruGrain), so eviction is least recently
// seen to within a second.
func TestEvictionGrain(t *testing.T) {
	tb := New[int](Config{Max: 3, Idle: time.Hour}, nil)
	for i, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		tb.Resolve(observe.MAC{}, ip(a), t0.Add(time.Duration(i)*time.Millisecond))
	}
	tb.Resolve(observe.MAC{}, ip("10.0.0.1"), t0.Add(500*time.Millisecond))  // within the grain: stays oldest
	tb.Resolve(observe.MAC{}, ip("10.0.0.2"), t0.Add(1500*time.Millisecond)) // after it: now newest
	tb.Resolve(observe.MAC{}, ip("10.0.0.4"), t0.Add(1600*time.Millisecond)) // evicts 10.0.0.1
	if tb.Get(Key{IP: ip("10.0.0.1")}) != nil || tb.Get(Key{IP: ip("10.0.0.3")}) == nil {
		t.Fatal("eviction ignored the one-second grain")
	}
	// Seen again after the grain, 10.0.0.3 outlives 10.0.0.4 (newer, but
	// not seen since).
	tb.Resolve(observe.MAC{}, ip("10.0.0.3"), t0.Add(2*time.Second))
	tb.Resolve(observe.MAC{}, ip("10.0.0.5"), t0.Add(2100*time.Millisecond))
	tb.Resolve(observe.MAC{}, ip("10.0.0.6"), t0.Add(2200*time.Millisecond))
	if tb.Get(Key{IP: ip("10.0.0.3")}) == nil || tb.Get(Key{IP: ip("10.0.0.4")}) != nil {
		t.Fatal("a host seen after the grain was not moved to the front")
	}
}
