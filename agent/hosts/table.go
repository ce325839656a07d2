package hosts

import (
	"net/netip"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Key identifies a host: MAC when the host is on the sensor's segment, else
// IP. Exactly one is set.
type Key struct {
	MAC observe.MAC
	IP  netip.Addr
}

// IsZero reports whether the key is unset.
func (k Key) IsZero() bool { return k.MAC.IsZero() && !k.IP.IsValid() }

func (k Key) String() string {
	if !k.MAC.IsZero() {
		return k.MAC.String()
	}
	if k.IP.IsValid() {
		return k.IP.String()
	}
	return ""
}

// AddrSeen is an address a host used, and when.
type AddrSeen struct {
	Addr        netip.Addr
	First, Last time.Time
}

// Bounds of per-host lists.
const (
	maxMACs   = 4
	maxAddrs  = 8
	bindHist  = 4
	maxGroups = 8
)

// Host is one device. Data is the caller's per-host state (verdict, mail
// access); it lives and dies with the host.
type Host[T any] struct {
	// Key, LastSeen and IPs are read for every observation of the host:
	// they come first, in one cache line.
	Key         Key
	LastSeen    time.Time
	IPs         []AddrSeen    // most recently used last
	MACs        []observe.MAC // Key.MAC first, then MACs linked to it
	Hostname    string
	ClientID    []byte
	VendorClass string
	Private     bool // the key MAC is locally administered (randomised)
	FirstSeen   time.Time
	Data        T
}

// Config bounds the table and names known infrastructure.
type Config struct {
	Max             int           // most hosts; 0 means 65536
	Idle            time.Duration // expiry of unseen hosts; 0 means never
	RouterAddresses int           // distinct source address groups that make a MAC a router; 0 means 5
	Infrastructure  []observe.MAC
	// BindingTTL is how long a binding learnt from ARP/NDP or a link-layer
	// header stays valid after it was last confirmed; 0 means 1h.
	BindingTTL time.Duration
}

// Stats are the table's counters.
type Stats struct {
	Hosts    int
	Evicted  uint64 // removed because the table was full
	Expired  uint64 // removed because idle
	Linked   uint64 // private MACs linked to an earlier device
	Routers  int    // MACs treated as infrastructure
	Bindings int    // addresses with a binding history
}

// binding times are Unix nanoseconds (0: unset): 40 bytes instead of 104,
// and there are as many binding histories as hosts.
type binding struct {
	mac   observe.MAC
	from  int64
	last  int64
	until int64 // lease end (DHCP), 0 if none
	end   int64 // set when another MAC took the address over
}

type bindings struct {
	h [bindHist]binding
	n int // used entries, newest at h[n-1]
}

type macInfo struct {
	infra  bool
	n      uint8
	groups [maxGroups]uint32 // hashes of source address groups (IPv4 address or IPv6 /64)
}

// macEntry is a MAC's infrastructure knowledge plus hints: the nodes of
// the host keyed by the MAC and of the address it last sent from, so that
// a host's next packet finds them without map probes. A hint is used only
// while its node is live and has the key asked for.
type macEntry[T any] struct {
	info macInfo
	host *node[Key, Host[T]]
	bind *node[netip.Addr, bindings]
}

// Table holds the hosts. It is not safe for concurrent use.
type Table[T any] struct {
	cfg      Config
	hosts    lru[Key, Host[T]]
	alias    map[observe.MAC]Key
	bind     lru[netip.Addr, bindings]
	macs     lru[observe.MAC, macEntry[T]]
	byID     map[string]Key
	byName   map[string]Key
	onRemove func(*Host[T])
	stats    Stats
}

// New returns an empty table. onRemove, if not nil, is called for each host
// evicted or expired, before it is dropped.
func New[T any](cfg Config, onRemove func(*Host[T])) *Table[T] {
	if cfg.Max <= 0 {
		cfg.Max = 65536
	}
	if cfg.RouterAddresses <= 0 {
		cfg.RouterAddresses = 5
	}
	if cfg.RouterAddresses > maxGroups {
		cfg.RouterAddresses = maxGroups
	}
	if cfg.BindingTTL <= 0 {
		cfg.BindingTTL = time.Hour
	}
	t := &Table[T]{
		cfg:      cfg,
		hosts:    newLRU[Key, Host[T]](),
		alias:    map[observe.MAC]Key{},
		bind:     newLRU[netip.Addr, bindings](),
		macs:     newLRU[observe.MAC, macEntry[T]](),
		byID:     map[string]Key{},
		byName:   map[string]Key{},
		onRemove: onRemove,
	}
	for _, m := range cfg.Infrastructure {
		t.macInfo(m, 0).infra = true
	}
	return t
}

// Stats returns the counters.
func (t *Table[T]) Stats() Stats {
	s := t.stats
	s.Hosts = t.hosts.len()
	s.Bindings = t.bind.len()
	for n := t.macs.head; n != nil; n = n.next {
		if n.val.info.infra {
			s.Routers++
		}
	}
	return s
}

// Len is the number of hosts.
func (t *Table[T]) Len() int { return t.hosts.len() }

// Each calls fn for each host, most recently seen first.
func (t *Table[T]) Each(fn func(*Host[T])) {
	for n := t.hosts.head; n != nil; n = n.next {
		fn(&n.val)
	}
}

// Get returns the host with key k, or nil.
func (t *Table[T]) Get(k Key) *Host[T] {
	if n := t.hosts.get(k); n != nil {
		return &n.val
	}
	return nil
}

// Infrastructure reports whether m is a known router or gateway MAC.
func (t *Table[T]) Infrastructure(m observe.MAC) bool {
	n := t.macs.get(m)
	return n != nil && n.val.info.infra
}

func (t *Table[T]) macInfo(m observe.MAC, now int64) *macInfo { return &t.macNode(m, now).val.info }

// macNode returns m's entry, made (and made most recent) if need be.
func (t *Table[T]) macNode(m observe.MAC, now int64) *node[observe.MAC, macEntry[T]] {
	n := t.macs.get(m)
	if n == nil {
		// Bounded like the host table; infrastructure entries are
		// touched often (every routed packet), so they stay.
		for t.macs.len() >= t.cfg.Max && t.macs.oldest() != nil {
			t.macs.remove(t.macs.oldest())
		}
		n = t.macs.add(m, now)
	} else {
		t.macs.touchAt(n, now)
	}
	return n
}

func usable(m observe.MAC) bool { return !m.IsZero() && !m.Multicast() }

// Learn updates infrastructure knowledge and IP-to-MAC bindings from an
// observation. Call it for every observation before KeyFor/Resolve.
func (t *Table[T]) Learn(o *observe.Observation) {
	now := o.Time
	switch o.Kind {
	case observe.KindDHCP:
		d := o.DHCP
		if d == nil {
			break
		}
		switch d.MessageType {
		case "offer", "ack", "nak", "advertise", "reply":
			// Only servers (or relays, which are routers) send these.
			if usable(o.SrcMAC) && o.SrcMAC != d.ClientMAC {
				t.macInfo(o.SrcMAC, nanos(now)).infra = true
			}
			if d.MessageType == "ack" || d.MessageType == "reply" {
				if usable(d.ClientMAC) && d.AssignedIP.IsValid() && !d.AssignedIP.IsUnspecified() {
					var until time.Time
					if d.LeaseTime > 0 {
						until = now.Add(time.Duration(d.LeaseTime) * time.Second)
					}
					t.bindAt(d.AssignedIP, d.ClientMAC, now, until, nil)
				}
			}
		case "release", "decline":
			t.release(d.RequestedIP, d.ClientMAC, now)
			t.release(o.Src, d.ClientMAC, now)
		}
		return
	case observe.KindARP:
		a := o.ARP
		if a == nil {
			break
		}
		if a.Op == "ra" && usable(a.MAC) {
			t.macInfo(a.MAC, nanos(now)).infra = true
			return
		}
		if usable(a.MAC) && a.IP.IsValid() && !a.IP.IsUnspecified() && !t.Infrastructure(a.MAC) {
			t.bindAt(a.IP, a.MAC, now, time.Time{}, nil)
		}
		return
	}
	// Link-layer source: count the address groups each MAC sends from.
	if usable(o.SrcMAC) && o.Src.IsValid() {
		mn := t.macNode(o.SrcMAC, nanos(now))
		mi := &mn.val.info
		if !mi.infra {
			g, ok := group(o.Src)
			if ok {
				seen := false
				for i := 0; i < int(mi.n); i++ {
					if mi.groups[i] == g {
						seen = true
						break
					}
				}
				if !seen && int(mi.n) < len(mi.groups) {
					mi.groups[mi.n] = g
					mi.n++
				}
				if int(mi.n) >= t.cfg.RouterAddresses {
					mi.infra = true
					t.demote(o.SrcMAC)
				}
			}
			if !mi.infra && ok {
				mn.val.bind = t.bindAt(o.Src, o.SrcMAC, now, time.Time{}, mn.val.bind)
			}
		}
	}
}

// group hashes an address to what counts as one source: the IPv4 address,
// or the IPv6 /64. Unspecified, link-local and multicast addresses count not.
// A hash collision can only make a router look like fewer sources.
func group(a netip.Addr) (uint32, bool) {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsLoopback() {
		return 0, false
	}
	if a.Is4() {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
	}
	b := a.As16()
	h := uint32(2166136261) // FNV-1a over the /64
	for _, c := range b[:8] {
		h ^= uint32(c)
		h *= 16777619
	}
	return h, true
}

// demote drops the host keyed by a MAC just found to be a router: what was
// attributed to it came from several devices behind it.
func (t *Table[T]) demote(m observe.MAC) {
	if n := t.hosts.get(Key{MAC: m}); n != nil {
		t.removeHost(n)
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// bindAt records that mac has ip at nowT, and returns ip's node. hint, if
// not nil, is a node that may be ip's.
func (t *Table[T]) bindAt(ip netip.Addr, mac observe.MAC, nowT, untilT time.Time, hint *node[netip.Addr, bindings]) *node[netip.Addr, bindings] {
	ip = ip.Unmap()
	now, until := nanos(nowT), nanos(untilT)
	n := hint
	if n == nil || n.dead || n.key != ip {
		n = t.bind.get(ip)
	}
	if n == nil {
		for t.bind.len() >= t.cfg.Max && t.bind.oldest() != nil {
			t.bind.remove(t.bind.oldest())
		}
		n = t.bind.add(ip, now)
	} else {
		t.bind.touchAt(n, now)
	}
	b := &n.val
	if b.n > 0 {
		cur := &b.h[b.n-1]
		if cur.mac == mac && cur.end == 0 {
			cur.last = max(cur.last, now)
			cur.until = max(cur.until, until)
			return n
		}
		if cur.end == 0 {
			cur.end = now // the address changed hands
		}
	}
	if b.n == len(b.h) {
		copy(b.h[:], b.h[1:])
		b.n--
	}
	b.h[b.n] = binding{mac: mac, from: now, last: now, until: until}
	b.n++
	return n
}

func (t *Table[T]) release(ip netip.Addr, mac observe.MAC, now time.Time) {
	if !ip.IsValid() {
		return
	}
	if n := t.bind.get(ip.Unmap()); n != nil && n.val.n > 0 {
		cur := &n.val.h[n.val.n-1]
		if cur.mac == mac && cur.end == 0 {
			cur.end = nanos(now)
		}
	}
}

// OwnerAt returns the MAC bound to ip at time at, if a binding covers it.
func (t *Table[T]) OwnerAt(ip netip.Addr, at time.Time) (observe.MAC, bool) {
	n := t.bind.get(ip.Unmap())
	if n == nil {
		return observe.MAC{}, false
	}
	b := &n.val
	when := at.UnixNano()
	for i := b.n - 1; i >= 0; i-- {
		e := &b.h[i]
		if when < e.from {
			continue
		}
		if e.end != 0 && when >= e.end {
			// Later than this binding's end: the address had moved on.
			return observe.MAC{}, false
		}
		if when > max(e.last+int64(t.cfg.BindingTTL), e.until) {
			return observe.MAC{}, false
		}
		return e.mac, true
	}
	return observe.MAC{}, false
}

// KeyFor says which host an endpoint (link-layer address mac, IP address ip)
// is at time at. ok is false when neither identifies a host.
func (t *Table[T]) KeyFor(mac observe.MAC, ip netip.Addr, at time.Time) (Key, bool) {
	if usable(mac) && !t.Infrastructure(mac) {
		return t.canonical(mac), true
	}
	if hostAddr(ip) {
		if m, ok := t.OwnerAt(ip, at); ok && !t.Infrastructure(m) {
			return t.canonical(m), true
		}
		return Key{IP: ip.Unmap()}, true
	}
	return Key{}, false
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// hostAddr reports whether ip can name a host: not unset, unspecified,
// multicast or the limited broadcast address.
func hostAddr(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && ip.Unmap() != limitedBroadcast
}

func (t *Table[T]) canonical(m observe.MAC) Key {
	if k, ok := t.alias[m]; ok {
		return k
	}
	return Key{MAC: m}
}

// Known reports whether the endpoint's host is in the table.
func (t *Table[T]) Known(mac observe.MAC, ip netip.Addr, at time.Time) bool {
	k, ok := t.KeyFor(mac, ip, at)
	return ok && t.hosts.get(k) != nil
}

// ResolveKnown is Resolve for an endpoint whose host is in the table, and
// nil (nothing made) for any other: Known and Resolve in one key lookup.
func (t *Table[T]) ResolveKnown(mac observe.MAC, ip netip.Addr, at time.Time) *Host[T] {
	k, ok := t.KeyFor(mac, ip, at)
	if !ok || t.hosts.get(k) == nil {
		return nil
	}
	h := t.resolveKey(k, at)
	if ip.IsValid() {
		noteAddr(h, ip.Unmap(), at)
	}
	return h
}

// Resolve returns the host for an endpoint at time at, creating it (and
// evicting the least recently seen host when full). It returns nil when the
// endpoint identifies no host.
func (t *Table[T]) Resolve(mac observe.MAC, ip netip.Addr, at time.Time) *Host[T] {
	k, ok := t.KeyFor(mac, ip, at)
	if !ok {
		return nil
	}
	h := t.resolveKey(k, at)
	if ip.IsValid() {
		noteAddr(h, ip.Unmap(), at)
	}
	return h
}

func (t *Table[T]) resolveKey(k Key, at time.Time) *Host[T] {
	var n *node[Key, Host[T]]
	// A MAC-keyed host is found from its MAC's entry (just looked up by
	// Learn and KeyFor) when the hint there is live.
	var mn *node[observe.MAC, macEntry[T]]
	if !k.MAC.IsZero() {
		if mn = t.macs.get(k.MAC); mn != nil {
			if h := mn.val.host; h != nil && !h.dead && h.key == k {
				n = h
			}
		}
	}
	if n == nil {
		n = t.hosts.get(k)
		if n != nil && mn != nil {
			mn.val.host = n
		}
	}
	if n == nil {
		for t.hosts.len() >= t.cfg.Max {
			t.removeHost(t.hosts.oldest())
			t.stats.Evicted++
		}
		n = t.hosts.add(k, nanos(at))
		if mn != nil {
			mn.val.host = n
		}
		h := &n.val
		h.Key, h.FirstSeen, h.LastSeen = k, at, at
		if !k.MAC.IsZero() {
			h.MACs = append(h.MACs, k.MAC)
			h.Private = k.MAC.LocallyAdministered()
		}
		return h
	}
	t.hosts.touchAt(n, nanos(at))
	if at.After(n.val.LastSeen) {
		n.val.LastSeen = at
	}
	return &n.val
}

func noteAddr[T any](h *Host[T], a netip.Addr, at time.Time) {
	if !hostAddr(a) {
		return
	}
	for i := range h.IPs {
		if h.IPs[i].Addr == a {
			if at.After(h.IPs[i].Last) {
				h.IPs[i].Last = at
			}
			if i != len(h.IPs)-1 { // keep most recent last
				s := h.IPs[i]
				copy(h.IPs[i:], h.IPs[i+1:])
				h.IPs[len(h.IPs)-1] = s
			}
			return
		}
	}
	if len(h.IPs) == maxAddrs {
		copy(h.IPs, h.IPs[1:])
		h.IPs = h.IPs[:maxAddrs-1]
	}
	h.IPs = append(h.IPs, AddrSeen{Addr: a, First: at, Last: at})
}

// Expire removes hosts not seen within the idle time before now.
func (t *Table[T]) Expire(now time.Time) {
	if t.cfg.Idle <= 0 {
		return
	}
	cut := now.Add(-t.cfg.Idle)
	for n := t.hosts.oldest(); n != nil && n.val.LastSeen.Before(cut); n = t.hosts.oldest() {
		t.removeHost(n)
		t.stats.Expired++
	}
}

func (t *Table[T]) removeHost(n *node[Key, Host[T]]) {
	h := &n.val
	if t.onRemove != nil {
		t.onRemove(h)
	}
	for _, m := range h.MACs {
		if k, ok := t.alias[m]; ok && k == h.Key {
			delete(t.alias, m)
		}
	}
	if h.ClientID != nil && t.byID[string(h.ClientID)] == h.Key {
		delete(t.byID, string(h.ClientID))
	}
	if h.Hostname != "" && t.byName[strings.ToLower(h.Hostname)] == h.Key {
		delete(t.byName, strings.ToLower(h.Hostname))
	}
	t.hosts.remove(n)
}

// Identify records what a DHCP client message says about its sender
// (hostname, client identifier, vendor class) and links a new private MAC to
// an earlier device with the same client identifier or specific hostname. It
// returns the client's host, or nil.
func (t *Table[T]) Identify(d *observe.DHCP, ip netip.Addr, at time.Time) *Host[T] {
	if d == nil || !usable(d.ClientMAC) || t.Infrastructure(d.ClientMAC) {
		return nil
	}
	m := d.ClientMAC
	if _, aliased := t.alias[m]; !aliased && t.hosts.get(Key{MAC: m}) == nil && m.LocallyAdministered() {
		if k, ok := t.linkTarget(d, m); ok {
			if n := t.hosts.get(k); n != nil {
				t.alias[m] = k
				if len(n.val.MACs) < maxMACs {
					n.val.MACs = append(n.val.MACs, m)
				}
				t.stats.Linked++
			}
		}
	}
	h := t.Resolve(m, ip, at)
	if h == nil {
		return nil
	}
	if d.Hostname != "" && d.Hostname != h.Hostname {
		if h.Hostname != "" && t.byName[strings.ToLower(h.Hostname)] == h.Key {
			delete(t.byName, strings.ToLower(h.Hostname))
		}
		h.Hostname = d.Hostname
		if specificHostname(d.Hostname) {
			t.byName[strings.ToLower(d.Hostname)] = h.Key
		}
	}
	if len(d.ClientID) > 0 && string(d.ClientID) != string(h.ClientID) {
		h.ClientID = append(h.ClientID[:0], d.ClientID...)
		if !clientIDIsMAC(d.ClientID, m) {
			t.byID[string(h.ClientID)] = h.Key
		}
	}
	if d.VendorClass != "" {
		h.VendorClass = d.VendorClass
	}
	return h
}

func (t *Table[T]) linkTarget(d *observe.DHCP, m observe.MAC) (Key, bool) {
	if len(d.ClientID) > 0 && !clientIDIsMAC(d.ClientID, m) {
		if k, ok := t.byID[string(d.ClientID)]; ok {
			return k, true
		}
	}
	if specificHostname(d.Hostname) {
		if k, ok := t.byName[strings.ToLower(d.Hostname)]; ok {
			return k, true
		}
	}
	return Key{}, false
}

// clientIDIsMAC reports the common client identifier "01 + MAC", which says
// nothing beyond the MAC itself.
func clientIDIsMAC(id []byte, m observe.MAC) bool {
	return len(id) == 7 && id[0] == 1 && observe.MAC(id[1:]) == m
}

// genericHostnames are names many devices share; they link nothing.
var genericHostnames = map[string]bool{
	"iphone": true, "ipad": true, "ipod": true, "mac": true, "imac": true,
	"macbook": true, "macbook-pro": true, "macbook-air": true, "mac-mini": true,
	"mac-studio": true, "android": true, "localhost": true, "unknown": true,
	"galaxy": true, "pixel": true, "windows": true, "pc": true, "desktop": true,
	"laptop": true, "ubuntu": true, "debian": true, "raspberrypi": true,
}

func specificHostname(h string) bool {
	if len(h) < 4 {
		return false
	}
	return !genericHostnames[strings.ToLower(h)]
}
