package main

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// announceMDNS sends one unsolicited mDNS response to 224.0.0.251:5353 from
// port 5353 with TTL 255, as Apple's mDNSResponder does when it joins a
// network: PTR/SRV/TXT for each service, the device-info TXT with the model,
// and the host's A record.
func announceMDNS(ifi *net.Interface, addr netip.Addr, a *mdnsAnnounce) (string, error) {
	host := a.Instance + ".local."
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	hdr := func(name string, t uint16, ttl uint32, flush bool) dns.RR_Header {
		class := uint16(dns.ClassINET)
		if flush {
			class |= 1 << 15 // cache-flush bit on unique records
		}
		return dns.RR_Header{Name: name, Rrtype: t, Class: class, Ttl: ttl}
	}
	for _, svc := range a.Services {
		inst := a.Instance + "." + svc
		m.Answer = append(m.Answer,
			&dns.PTR{Hdr: hdr(svc, dns.TypePTR, 4500, false), Ptr: inst},
			&dns.SRV{Hdr: hdr(inst, dns.TypeSRV, 120, true), Port: 49152, Target: host},
			&dns.TXT{Hdr: hdr(inst, dns.TypeTXT, 4500, true), Txt: []string{"rpVr=360.4", "rpMd=" + a.Model}},
		)
	}
	m.Answer = append(m.Answer,
		&dns.TXT{Hdr: hdr(a.Instance+"._device-info._tcp.local.", dns.TypeTXT, 4500, true), Txt: []string{"model=" + a.Model, "osxvers=21"}},
		&dns.A{Hdr: hdr(host, dns.TypeA, 120, true), A: addr.AsSlice()},
	)
	pkt, err := m.Pack()
	if err != nil {
		return "", fmt.Errorf("mdns: pack: %w", err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: 5353})
	if err != nil {
		return "", fmt.Errorf("mdns: %w", err)
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetMulticastInterface(ifi); err != nil {
		return "", fmt.Errorf("mdns: multicast interface: %w", err)
	}
	if err := pc.SetMulticastTTL(255); err != nil {
		return "", fmt.Errorf("mdns: ttl: %w", err)
	}
	dst := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	// mDNSResponder announces twice, one second apart; twice 100 ms apart
	// keeps the lab fast.
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := c.WriteToUDP(pkt, dst); err != nil {
			return "", fmt.Errorf("mdns: send: %w", err)
		}
	}
	return fmt.Sprintf("%d records, %d bytes", len(m.Answer), len(pkt)), nil
}
