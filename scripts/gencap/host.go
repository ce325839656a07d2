package gencap

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// profile is one kind of device: its stacks and TLS clients.
type profile struct {
	platform string
	st       *stack
	dhcp     *dhcpStyle
	system   helloKind // background services
	browser  helloKind
	mail     helloKind // the mail client
}

var (
	profIPhone  = &profile{platform: PlatformIOS, st: stackApple, dhcp: &dhcpIOS, system: helloIOS, browser: helloSafari, mail: helloIOS}
	profIPad    = &profile{platform: PlatformIPadOS, st: stackApple, dhcp: &dhcpIOS, system: helloIOS, browser: helloSafari, mail: helloIOS}
	profMac     = &profile{platform: PlatformMacOS, st: stackApple, dhcp: &dhcpMacOS, system: helloIOS, browser: helloSafari, mail: helloSafari}
	profWindows = &profile{platform: PlatformWindows, st: stackWindows, dhcp: &dhcpWindows, system: helloSChannel, browser: helloChrome, mail: helloSChannel}
	profAndroid = &profile{platform: PlatformAndroid, st: stackAndroid, dhcp: &dhcpAndroid, system: helloOkHttp, browser: helloChrome, mail: helloOkHttp}
	profLinux   = &profile{platform: PlatformLinux, st: stackLinux, dhcp: &dhcpLinux, system: helloFirefox, browser: helloFirefox, mail: helloFirefox}
)

// host is one device on the office LAN.
type host struct {
	w        *world
	lbl      *HostLabel
	node     *node
	prof     *profile
	ip       netip.Addr
	ip6      netip.Addr
	ll6      netip.Addr
	hostname string // DHCP option 12
	mdnsName string // mDNS instance name
	mdnsHost string
	model    string
	osvers   string
	last     time.Time
}

func (w *world) newHost(id string, p *profile, mac MAC, hostname string) *host {
	h := &host{w: w, prof: p, hostname: hostname,
		node: &node{mac: mac, st: p.st, tsBase: w.r.Uint32(), ipid: uint16(w.r.Uint32())}}
	h.lbl = &HostLabel{ID: id, Hostname: hostname, MAC: mac.String(), PrivateMAC: mac.LocallyAdministered(),
		Platform: p.platform, Apple: strings.HasPrefix(p.platform, "apple-")}
	return h
}

// randomMAC returns a vendor MAC (OUI given) or a private, locally
// administered unicast MAC when oui is nil.
func (w *world) randomMAC(oui []byte) MAC {
	var m MAC
	w.r.Read(m[:])
	if oui == nil {
		m[0] = m[0]&0xfc | 0x02
		return m
	}
	copy(m[:3], oui)
	return m
}

// Vendor OUIs used for non-randomised MACs.
var (
	ouiApple  = []byte{0xf0, 0x18, 0x98}
	ouiDell   = []byte{0x54, 0xbf, 0x64}
	ouiLenovo = []byte{0x8c, 0x16, 0x45}
	ouiIntel  = []byte{0x3c, 0x21, 0x9c}
	ouiSamsg  = []byte{0x8c, 0x77, 0x12}
)

func (h *host) seen(t time.Time) {
	if h.lbl.FirstSeen.IsZero() || t.Before(h.lbl.FirstSeen) {
		h.lbl.FirstSeen = t
	}
	if t.After(h.lbl.LastSeen) {
		h.lbl.LastSeen = t
	}
}

// join brings the host onto the LAN: DHCP, ARP for the gateway, and for
// IPv6-capable hosts an unsolicited neighbour advertisement.
func (h *host) join(t time.Time, addr netip.Addr, lease time.Duration, until time.Time) time.Time {
	w := h.w
	h.seen(t)
	t = w.dhcpExchange(t, h.node, h.prof.dhcp, h.hostname, addr, lease)
	h.ip = addr
	to := until
	if end := t.Add(lease); end.Before(to) {
		to = end
	}
	h.lbl.IPs = append(h.lbl.IPs, AddrLabel{IP: addr.String(), From: t, To: to, Source: "dhcp"})
	w.emit(t, arpFrame(1, broadcastMAC, h.node.mac, h.node.mac, addr, MAC{}, w.gwIP))
	t = t.Add(w.r.dur(200*time.Microsecond, 2*time.Millisecond))
	w.emit(t, arpFrame(2, h.node.mac, w.gwMAC, w.gwMAC, w.gwIP, h.node.mac, addr))
	if h.ll6.IsValid() {
		t = t.Add(w.r.dur(10*time.Millisecond, 300*time.Millisecond))
		h.neighborAdvert(t, h.ll6)
		if h.ip6.IsValid() {
			h.neighborAdvert(t.Add(time.Millisecond), h.ip6)
			h.lbl.IPs = append(h.lbl.IPs, AddrLabel{IP: h.ip6.String(), From: t, To: until, Source: "slaac"})
		}
	}
	return t.Add(w.r.dur(50*time.Millisecond, 500*time.Millisecond))
}

// neighborAdvert sends an unsolicited NA with the target link-layer option.
func (h *host) neighborAdvert(t time.Time, target netip.Addr) {
	all := netip.MustParseAddr("ff02::1")
	body := []byte{136, 0, 0, 0, 0x20, 0, 0, 0} // override flag
	tb := target.As16()
	body = append(body, tb[:]...)
	body = append(body, 2, 1)
	body = append(body, h.node.mac[:]...)
	ip := ipHdr{src: target, dst: all, ttl: 255}
	h.w.emit(t, appendFrame(nil, multicastMAC(all), h.node.mac, ip, protoICMPv6, body[:4], body[4:], 2))
}

// conn opens a TCP connection to addr:port, choosing the server stack from
// the name's owner.
func (h *host) conn(t time.Time, name string, addr netip.Addr, port uint16) *flow {
	w := h.w
	res := w.resolve(name)
	st := res.srv
	if st == nil {
		st = stackServerLinux
	}
	src := h.ip
	if addr.Is6() {
		src = h.ip6
	}
	f := w.newFlow(t, h.node, src, w.server(addr, st), addr, port)
	h.seen(t)
	return f
}

// tlsSession is a TLS connection: handshake, ClientHello, server flight,
// then up/down bytes of application data, then FIN (or RST).
func (h *host) tlsSession(t time.Time, name string, addr netip.Addr, port uint16, k helloKind, o helloOpts, up, down int, pre func(f *flow)) time.Time {
	w := h.w
	hello, err := clientHello(w.r, k, name, o)
	if err != nil {
		w.fail(err)
		return t
	}
	f := h.conn(t, name, addr, port)
	f.open()
	if pre != nil {
		pre(f)
	}
	f.send(true, tlsRecord(22, 0x0301, hello))
	f.send(false, serverFlight(w.r, helloSessionID(hello)))
	cfin := append([]byte{20, 3, 3, 0, 1, 1}, appData(w.r, 74)...)
	f.send(true, cfin)
	for up > 0 || down > 0 {
		u := min(up, w.r.between(300, 2000))
		d := min(down, w.r.between(800, 64000))
		if u > 0 {
			f.send(true, appData(w.r, u))
		}
		if d > 0 {
			f.send(false, appData(w.r, d))
		}
		up -= u
		down -= d
		f.t = f.t.Add(w.r.dur(time.Millisecond, 50*time.Millisecond))
	}
	if w.r.chance(0.15) {
		f.reset(true)
	} else {
		f.close(w.r.chance(0.7))
	}
	h.seen(f.t)
	return f.t
}

// visit resolves name and opens a TLS session to it on 443.
func (h *host) visit(t time.Time, name string, k helloKind, up, down int) time.Time {
	types := []uint16{dns.TypeA}
	if h.lbl.Apple {
		types = []uint16{dns.TypeA, dns.TypeAAAA, dnsTypeHTTPS}
	} else if h.prof.platform != PlatformWindows {
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	}
	t, addr := h.lookup(t, name, types...)
	res := h.w.resolve(name)
	if h.ip6.IsValid() && len(res.v6) > 0 && h.w.r.chance(0.3) {
		addr = res.v6[0]
	}
	if !addr.IsValid() {
		return t
	}
	return h.tlsSession(t, name, addr, 443, k, helloOpts{}, up, down, nil)
}

// httpGet is a plain HTTP/1.x request and its response on port 80.
func (h *host) httpGet(t time.Time, name, req, resp string) time.Time {
	t, addr := h.lookup(t, name, dns.TypeA)
	if !addr.IsValid() {
		return t
	}
	f := h.conn(t, name, addr, 80)
	f.open()
	f.exchange([]byte(req), []byte(resp))
	f.close(false)
	return f.t
}

// Apple background names, by role, that an Apple OS resolves and connects
// to without the user doing anything.
var appleBackground = []string{
	"gs.apple.com", "gsa.apple.com", "albert.apple.com", "humb.apple.com", "static.ips.apple.com",
	"mesu.apple.com", "gdmf.apple.com", "xp.apple.com", "gspe1-ssl.ls.apple.com", "gateway.icloud.com",
	"p57-keyvalueservice.icloud.com", "p33-fmfmobile.icloud.com", "doh.dns.apple.com", "init.itunes.apple.com",
	"bag.itunes.apple.com", "configuration.ls.apple.com", "gsp64-ssl.ls.apple.com", "api.smoot.apple.com",
	"p45-escrowproxy.icloud.com", "setup.icloud.com", "identity.apple.com", "ocsp2.apple.com",
}

const captiveReqApple = "GET /hotspot-detect.html HTTP/1.0\r\nHost: captive.apple.com\r\nConnection: close\r\nUser-Agent: CaptiveNetworkSupport-481.0.1 wispr\r\n\r\n"
const captiveRespApple = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 68\r\nConnection: close\r\n\r\n<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"

// appleWake is what an Apple device does right after joining: captive
// portal probe, time, mDNS announcements, push, and background services.
func (h *host) appleWake(t time.Time, background int) time.Time {
	w := h.w
	t, _ = h.lookup(t, "captive.apple.com", dns.TypeA, dns.TypeAAAA, dnsTypeHTTPS)
	t = h.httpGet(t, "captive.apple.com", captiveReqApple, captiveRespApple)
	t, _ = h.lookup(t, "time.apple.com", dns.TypeA, dns.TypeAAAA)
	t = h.mdnsAnnounce(t, h.mdnsServices())
	t = h.push(t)
	for _, i := range w.r.Perm(len(appleBackground))[:min(background, len(appleBackground))] {
		t = h.visit(t.Add(w.r.dur(100*time.Millisecond, 20*time.Second)), appleBackground[i], h.prof.system, w.r.between(400, 3000), w.r.between(2000, 30000))
	}
	return t
}

// push is apsd's long-lived connection to the push courier on TCP 5223.
func (h *host) push(t time.Time) time.Time {
	w := h.w
	name := fmt.Sprintf("%d-courier.push.apple.com", w.r.between(1, 50))
	t, addr := h.lookup(t, name, dns.TypeA, dns.TypeAAAA, dnsTypeHTTPS)
	if !addr.IsValid() {
		return t
	}
	return h.tlsSession(t, name, addr, 5223, helloIOS, helloOpts{alpn: []string{}}, 800, 1500, nil)
}

func (h *host) mdnsServices() []mdnsService {
	rpMd := "rpMd=" + h.model
	svcs := []mdnsService{
		{typ: "_companion-link._tcp", port: uint16(h.w.r.between(49152, 65000)), txt: []string{"rpMac=0", "rpHN=" + fmt.Sprintf("%x", h.w.r.Uint64()&0xffffffffffff), "rpFl=0x20000", "rpHA=" + fmt.Sprintf("%x", h.w.r.Uint64()&0xffffffffffff), rpMd, "rpVr=" + h.rpVr(), "rpAD=" + fmt.Sprintf("%x", h.w.r.Uint64()&0xffffffffffff), "rpHI=" + fmt.Sprintf("%x", h.w.r.Uint64()&0xffffffffffff), "rpBA=" + h.node.mac.String()}},
		{typ: "_device-info._tcp", txt: h.deviceInfoTXT()},
	}
	if h.prof.platform != PlatformMacOS {
		svcs = append(svcs, mdnsService{typ: "_apple-mobdev2._tcp", port: 32498, txt: []string{}})
	} else {
		svcs = append(svcs, mdnsService{typ: "_airplay._tcp", port: 7000, txt: []string{"model=" + h.model, "srcvers=770.8.1", "osvers=" + h.osvers}})
	}
	return svcs
}

func (h *host) rpVr() string {
	if h.prof.platform == PlatformMacOS {
		return "600.62.1"
	}
	return "610.27.2"
}

func (h *host) deviceInfoTXT() []string {
	txt := []string{"model=" + h.model}
	if h.prof.platform == PlatformMacOS {
		txt = append(txt, "osxvers="+strings.SplitN(h.osvers, ".", 2)[0])
	}
	return txt
}

// privateRelay resolves mask.icloud.com and sends QUIC Initials to it, as
// an iPhone with iCloud Private Relay does for each new Safari connection.
func (h *host) privateRelay(t time.Time) time.Time {
	w := h.w
	name := "mask.icloud.com"
	t, addr := h.lookup(t, name, dns.TypeA, dns.TypeAAAA, dnsTypeHTTPS)
	if !addr.IsValid() {
		return t
	}
	dcid := w.r.bytes(8)
	scid := w.r.bytes(8)
	hello, err := clientHello(w.r, helloAppleQUIC, name, helloOpts{quic: true, quicSCI: scid})
	if err != nil {
		w.fail(err)
		return t
	}
	srv := w.server(addr, stackServerLinux)
	sport := uint16(w.r.between(49152, 65535))
	send := func(t time.Time, fromClient bool, payload []byte) {
		if fromClient {
			ip := ipHdr{src: h.ip, dst: addr, ttl: h.node.st.ttl, df: true, id: h.node.nextID(w.r)}
			w.emit(t, appendFrame(nil, w.gwMAC, h.node.mac, ip, protoUDP, udpHeader(sport, 443, len(payload)), payload, 6))
			return
		}
		ip := ipHdr{src: addr, dst: h.ip, ttl: srv.st.ttl, df: true, id: srv.nextID(w.r)}
		w.emit(t, appendFrame(nil, h.node.mac, w.gwMAC, ip, protoUDP, udpHeader(443, sport, len(payload)), payload, 6))
	}
	pkt, err := quicInitial(dcid, scid, 0, hello)
	if err != nil {
		w.fail(err)
		return t
	}
	send(t, true, pkt)
	rtt := w.r.dur(8*time.Millisecond, 40*time.Millisecond)
	t = t.Add(rtt)
	// The server's Initial (ACK + ServerHello, sealed with the server
	// Initial keys) and Handshake packets (content opaque without the
	// handshake secrets, so random bytes of the right framing).
	srvCID := w.r.bytes(8)
	sh := serverFlight(w.r, nil)
	shMsg := sh[5 : 5+int(sh[3])<<8|int(sh[4])]
	spkt, err := sealInitial(dcid, scid, srvCID, 0, []byte{0x02, 0x00, 0x00, 0x00, 0x00}, shMsg, "server in")
	if err != nil {
		w.fail(err)
		return t
	}
	send(t, false, spkt)
	for i, n := range []int{1200, 780} {
		p := []byte{0xe1, 0, 0, 0, 1, 8}
		p = append(p, scid...)
		p = append(p, 8)
		p = append(p, srvCID...)
		rest := n - len(p) - 2
		p = append(p, byte(rest>>8)|0x40, byte(rest))
		p = append(p, w.r.bytes(rest)...)
		send(t.Add(time.Duration(i+1)*200*time.Microsecond), false, p)
	}
	t = t.Add(2 * time.Millisecond)
	// 1-RTT short-header packets carrying the relayed HTTP/3 traffic.
	for i := 0; i < w.r.between(10, 40); i++ {
		up := i%4 == 0
		n := w.r.between(40, 1250)
		p := append([]byte{0x40 | byte(w.r.IntN(32))}, srvCID...)
		if up {
			p = append([]byte{0x40 | byte(w.r.IntN(32))}, srvCID...)
		} else {
			p = append([]byte{0x40 | byte(w.r.IntN(32))}, scid...)
		}
		p = append(p, w.r.bytes(n)...)
		send(t, up, p)
		t = t.Add(w.r.dur(100*time.Microsecond, 5*time.Millisecond))
	}
	h.seen(t)
	return t
}

// bulk is a long transfer (software update, photo sync, file share).
func (h *host) bulk(t time.Time, name string, k helloKind, up, down int) time.Time {
	return h.visit(t, name, k, up, down)
}
