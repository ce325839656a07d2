package gencap

import (
	"hash/fnv"
	"net/netip"
	"strings"
	"time"
)

// world is the office network of one capture: the gateway (which is also
// the DHCP server and DNS resolver), the remote servers and the packet sink.
type world struct {
	r        rng
	emitFn   func(time.Time, []byte)
	gwMAC    MAC
	gwIP     netip.Addr
	gwLL6    netip.Addr
	subnet   netip.Prefix
	prefix6  netip.Prefix
	mailName string
	mailIP   netip.Addr
	servers  map[netip.Addr]*node
	nextIP   int
	leases   map[netip.Addr]bool
	err      error
}

// Network facts shared by every capture.
var (
	officeGatewayMAC = MAC{0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x01}
	officeGateway    = netip.MustParseAddr("10.20.0.1")
	officeSubnet     = netip.MustParsePrefix("10.20.0.0/22")
	officePrefix6    = netip.MustParsePrefix("2001:db8:20::/64")
)

// DefaultMailName and DefaultMailIP are the corporate mail server used when
// options leave them empty.
const (
	DefaultMailName = "mail.corp.example"
	DefaultMailIP   = "192.0.2.10"
	// ActiveSyncName is the Microsoft 365 front end some devices reach over 443.
	ActiveSyncName = "outlook.office365.com"
)

func newWorld(seed uint64, stream uint64, mailName string, mailIP netip.Addr, emit func(time.Time, []byte)) *world {
	return &world{
		r: newRNG(seed, stream), emitFn: emit,
		gwMAC: officeGatewayMAC, gwIP: officeGateway, gwLL6: netip.MustParseAddr("fe80::21b:21ff:fe3a:4c01"),
		subnet: officeSubnet, prefix6: officePrefix6,
		mailName: mailName, mailIP: mailIP,
		servers: map[netip.Addr]*node{}, nextIP: 20, leases: map[netip.Addr]bool{},
	}
}

func (w *world) emit(t time.Time, b []byte) { w.emitFn(t, b) }

// allocIP hands out the next free DHCP address.
func (w *world) allocIP() netip.Addr {
	for {
		b := w.subnet.Addr().As4()
		n := w.nextIP
		w.nextIP++
		b[2] += byte(n / 256)
		b[3] = byte(n % 256)
		a := netip.AddrFrom4(b)
		if !w.leases[a] && b[3] != 0 && b[3] != 255 {
			w.leases[a] = true
			return a
		}
	}
}

func nameHash(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// resolution is what the office resolver answers for a name.
type resolution struct {
	cname string
	v4    []netip.Addr
	v6    []netip.Addr
	https bool // the zone publishes an HTTPS record (Apple and Cloudflare-fronted names)
	srv   *stack
}

func isApple(name string) bool {
	return strings.HasSuffix(name, ".apple.com") || strings.HasSuffix(name, ".icloud.com") ||
		strings.HasSuffix(name, ".apple") || strings.HasSuffix(name, ".mzstatic.com") || strings.HasSuffix(name, ".cdn-apple.com")
}

// resolve is deterministic per name, so every host sees the same answers.
func (w *world) resolve(name string) resolution {
	h := nameHash(name)
	a := byte(h)
	b := byte(h >> 8)
	c := byte(h>>16)%250 + 2
	v4 := func(x, y byte) netip.Addr { return netip.AddrFrom4([4]byte{x, y, b, c}) }
	v6 := func(p string) netip.Addr {
		base := netip.MustParseAddr(p).As16()
		base[14], base[15] = b, c
		return netip.AddrFrom16(base)
	}
	switch {
	case name == w.mailName:
		return resolution{v4: []netip.Addr{w.mailIP}, srv: stackServerCorp}
	case name == ActiveSyncName:
		return resolution{cname: "outlook.ha.office365.com", v4: []netip.Addr{v4(52, 96+a%16), v4(52, 112+a%16)}, v6: []netip.Addr{v6("2603:1026:c0b::")}, srv: stackServerMS}
	case name == "mask.icloud.com" || name == "mask-h2.icloud.com":
		// Private Relay ingress is run by CDN partners, not in 17/8.
		return resolution{v4: []netip.Addr{v4(172, 224+a%16), v4(172, 225+a%15)}, v6: []netip.Addr{v6("2a02:26f7:b3c0::")}, https: true, srv: stackServerLinux}
	case name == "www.apple.com" || name == "support.apple.com" || name == "apps.apple.com" || name == "www.icloud.com":
		return resolution{cname: strings.SplitN(name, ".", 2)[0] + ".apple.com.edgekey.net", v4: []netip.Addr{v4(23, 32+a%32)}, v6: []netip.Addr{v6("2a02:26f0:2b00::")}, https: true, srv: stackServerLinux}
	case isApple(name):
		return resolution{v4: []netip.Addr{v4(17, 248+a%8)}, v6: []netip.Addr{v6("2620:149:a44::")}, https: true, srv: stackServerApple}
	case strings.Contains(name, "microsoft") || strings.Contains(name, "msftconnecttest") || strings.Contains(name, "live.com") || strings.Contains(name, "windowsupdate") || strings.Contains(name, "office"):
		return resolution{v4: []netip.Addr{v4(20, 40+a%60)}, srv: stackServerMS}
	case strings.Contains(name, "google") || strings.Contains(name, "gstatic") || strings.Contains(name, "youtube"):
		return resolution{v4: []netip.Addr{v4(142, 250)}, v6: []netip.Addr{v6("2a00:1450:4001::")}, https: true, srv: stackServerLinux}
	case strings.Contains(name, "ubuntu") || strings.Contains(name, "debian"):
		return resolution{v4: []netip.Addr{v4(185, 125)}, srv: stackServerLinux}
	}
	return resolution{v4: []netip.Addr{v4(151, 101)}, v6: []netip.Addr{v6("2a04:4e42::")}, https: a%2 == 0, srv: stackServerLinux}
}

var stackServerCorp = &stack{name: "server-corp", ttl: 63, window: 65160, wscale: 7, mss: 1460, layout: layoutLinux}

// server returns the node for a remote address, created on first use.
func (w *world) server(ip netip.Addr, st *stack) *node {
	if n, ok := w.servers[ip]; ok {
		return n
	}
	n := &node{mac: w.gwMAC, st: st, tsBase: w.r.Uint32(), ipid: uint16(w.r.Uint32())}
	w.servers[ip] = n
	return n
}

// fail records the first error of the capture; generation goes on so the
// caller gets a complete file and the error.
func (w *world) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}
