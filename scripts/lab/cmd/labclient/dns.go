package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// resolver asks the DHCP-given DNS server (the lab's dnsmasq) directly, so
// the host's /etc/resolv.conf plays no part and every lookup is on the wire.
type resolver struct {
	server netip.Addr
	cache  map[string]netip.Addr
}

// lookup returns the first A record for name; with https it also asks for
// the HTTPS record first, as iOS does (its answer is not needed).
func (r *resolver) lookup(ctx context.Context, name string, https bool) (netip.Addr, error) {
	if a, ok := r.cache[name]; ok {
		return a, nil
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	srv := netip.AddrPortFrom(r.server, 53).String()
	if https {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeHTTPS)
		_, _, _ = c.ExchangeContext(ctx, m, srv)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	var in *dns.Msg
	var err error
	for try := 0; try < 3; try++ {
		in, _, err = c.ExchangeContext(ctx, m, srv)
		if err == nil {
			break
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("dns %s: %w", name, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return netip.Addr{}, fmt.Errorf("dns %s: %s", name, dns.RcodeToString[in.Rcode])
	}
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			addr, ok := netip.AddrFromSlice(a.A.To4())
			if ok {
				if r.cache == nil {
					r.cache = map[string]netip.Addr{}
				}
				r.cache[name] = addr
				return addr, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("dns %s: no A record", name)
}
