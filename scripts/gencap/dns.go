package gencap

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

const dnsTypeHTTPS = 65

// dnsAnswer builds the resolver's reply to q from the world's resolution.
func (w *world) dnsAnswer(q *dns.Msg, name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	res := w.resolve(name)
	owner := dns.Fqdn(name)
	hdr := func(n string, t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: n, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if res.cname != "" && qtype != dnsTypeHTTPS {
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME, 300), Target: dns.Fqdn(res.cname)})
		owner = dns.Fqdn(res.cname)
	}
	switch qtype {
	case dns.TypeA:
		for _, a := range res.v4 {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(owner, dns.TypeA, 60), A: a.AsSlice()})
		}
	case dns.TypeAAAA:
		for _, a := range res.v6 {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA, 60), AAAA: a.AsSlice()})
		}
	case dnsTypeHTTPS:
		if res.https {
			m.Answer = append(m.Answer, &dns.HTTPS{SVCB: dns.SVCB{Hdr: hdr(owner, dnsTypeHTTPS, 300), Priority: 1, Target: ".",
				Value: []dns.SVCBKeyValue{&dns.SVCBAlpn{Alpn: []string{"h2", "h3"}}}}})
		}
	}
	if got := len(m.Answer); got == 0 || (res.cname != "" && got == 1) {
		m.Ns = append(m.Ns, &dns.SOA{Hdr: hdr(dns.Fqdn(zoneOf(name)), dns.TypeSOA, 300), Ns: "ns1." + dns.Fqdn(zoneOf(name)),
			Mbox: "hostmaster." + dns.Fqdn(zoneOf(name)), Serial: 2026110201, Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: 300})
	}
	return m
}

func zoneOf(name string) string {
	dots := 0
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			dots++
			if dots == 2 {
				return name[i+1:]
			}
		}
	}
	return name
}

// lookup sends one query per type from the host and the resolver's answers,
// returning the time after the last answer and the first A address.
func (h *host) lookup(t time.Time, name string, types ...uint16) (time.Time, netip.Addr) {
	w := h.w
	var first netip.Addr
	for _, qt := range types {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), qt)
		q.Id = uint16(w.r.Uint32())
		qb, err := q.Pack()
		if err != nil {
			continue
		}
		sport := uint16(w.r.between(49152, 65535))
		ip := ipHdr{src: h.ip, dst: w.gwIP, ttl: h.node.st.ttl, id: h.node.nextID(w.r)}
		w.emit(t, appendFrame(nil, w.gwMAC, h.node.mac, ip, protoUDP, udpHeader(sport, 53, len(qb)), qb, 6))
		rt := t.Add(w.r.dur(800*time.Microsecond, 25*time.Millisecond))
		a := w.dnsAnswer(q, name, qt)
		ab, err := a.Pack()
		if err != nil {
			continue
		}
		rip := ipHdr{src: w.gwIP, dst: h.ip, ttl: 64, id: uint16(w.r.Uint32())}
		w.emit(rt, appendFrame(nil, h.node.mac, w.gwMAC, rip, protoUDP, udpHeader(53, sport, len(ab)), ab, 6))
		if qt == dns.TypeA && !first.IsValid() {
			for _, rr := range a.Answer {
				if x, ok := rr.(*dns.A); ok {
					first, _ = netip.AddrFromSlice(x.A.To4())
					break
				}
			}
		}
		t = t.Add(w.r.dur(100*time.Microsecond, 2*time.Millisecond))
	}
	return t.Add(30 * time.Millisecond), first
}

// mdnsService is one service an Apple device announces.
type mdnsService struct {
	typ  string // e.g. "_companion-link._tcp"
	port uint16
	txt  []string
}

// mdnsAnnounce sends an unsolicited mDNS response (RFC 6762 §8.3) for the
// host's services over IPv4 and, when it has one, IPv6 link-local.
func (h *host) mdnsAnnounce(t time.Time, services []mdnsService) time.Time {
	w := h.w
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	inst := h.mdnsName
	target := dns.Fqdn(h.mdnsHost + ".local")
	hdr := func(n string, typ uint16, ttl uint32, flush bool) dns.RR_Header {
		c := uint16(dns.ClassINET)
		if flush {
			c |= 0x8000
		}
		return dns.RR_Header{Name: n, Rrtype: typ, Class: c, Ttl: ttl}
	}
	for _, s := range services {
		svc := s.typ + ".local."
		full := dns.Fqdn(escapeLabel(inst) + "." + svc)
		m.Answer = append(m.Answer,
			&dns.PTR{Hdr: hdr(svc, dns.TypePTR, 4500, false), Ptr: full},
			&dns.TXT{Hdr: hdr(full, dns.TypeTXT, 4500, true), Txt: s.txt},
		)
		if s.port != 0 {
			m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(full, dns.TypeSRV, 120, true), Port: s.port, Target: target})
		}
	}
	m.Answer = append(m.Answer, &dns.A{Hdr: hdr(target, dns.TypeA, 120, true), A: h.ip.AsSlice()})
	if h.ll6.IsValid() {
		m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(target, dns.TypeAAAA, 120, true), AAAA: h.ll6.AsSlice()})
	}
	b, err := m.Pack()
	if err != nil {
		return t
	}
	grp := netip.MustParseAddr("224.0.0.251")
	ip := ipHdr{src: h.ip, dst: grp, ttl: 255, id: h.node.nextID(w.r)}
	w.emit(t, appendFrame(nil, multicastMAC(grp), h.node.mac, ip, protoUDP, udpHeader(5353, 5353, len(b)), b, 6))
	if h.ll6.IsValid() {
		g6 := netip.MustParseAddr("ff02::fb")
		ip6 := ipHdr{src: h.ll6, dst: g6, ttl: 255, id: uint16(w.r.Uint32()) & 0xfff}
		w.emit(t.Add(200*time.Microsecond), appendFrame(nil, multicastMAC(g6), h.node.mac, ip6, protoUDP, udpHeader(5353, 5353, len(b)), b, 6))
	}
	return t.Add(time.Millisecond)
}

// escapeLabel keeps instance names such as "Anna’s iPhone" one DNS label.
func escapeLabel(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
