package agent

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// FlowInterest decides, for the capture engine, which flows are worth
// reporting to the agent: flows to a configured mail server (by address, by
// server name, or by an address some host resolved from a mail server's
// name) and flows to the addresses of address-port signatures. Every other
// flow still feeds fingerprints (SYN, ClientHello, DNS), but its start and
// end are not observations: on a busy gateway they would cost more than the
// rest of the pipeline.
//
// It is safe for concurrent use: live capture calls it from every worker
// while the agent goroutine updates it.
type FlowInterest struct {
	matcher atomic.Pointer[mail.Matcher]
	sigs    atomic.Pointer[addressPorts]

	mu       sync.RWMutex
	resolved map[netip.Addr]time.Time // mail-server addresses learned from DNS answers, until expiry
	// maybe has bit addrBit(a) set for every address in resolved (and
	// perhaps for some no longer there): a flow to an address whose bit is
	// clear needs neither the lock nor the map.
	maybe atomic.Uint64
}

// addrBit is one of 64 bits picked by a hash of the address.
func addrBit(a netip.Addr) uint64 {
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])) * 0x9e3779b97f4a7c15
	return 1 << (h >> 58)
}

// maxResolved bounds the learned-address set.
const maxResolved = 4096

type addressPorts interface {
	WantsAddressPort(a netip.Addr, port uint16) bool
}

// FlowInterest returns the agent's flow filter; its Wants method has the
// shape of capture.Config.FlowFilter.
func (a *Agent) FlowInterest() *FlowInterest { return a.interest }

func newFlowInterest() *FlowInterest {
	return &FlowInterest{resolved: make(map[netip.Addr]time.Time)}
}

func (fi *FlowInterest) set(m *mail.Matcher, sigs Signatures) {
	fi.matcher.Store(m)
	if ap, ok := sigs.(addressPorts); ok {
		fi.sigs.Store(&ap)
	} else {
		fi.sigs.Store(nil)
	}
}

// learn records the addresses of a DNS answer for a mail server's name.
func (fi *FlowInterest) learn(o *observe.Observation) {
	m := fi.matcher.Load()
	if m == nil || o.DNS == nil || !o.DNS.Response {
		return
	}
	hit := false
	for _, q := range o.DNS.Questions {
		if m.WantsName(q.Name, 0, 0) {
			hit = true
			break
		}
	}
	if !hit {
		for _, rr := range o.DNS.Answers {
			if m.WantsName(rr.Name, 0, 0) {
				hit = true
				break
			}
		}
	}
	if !hit {
		return
	}
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, rr := range o.DNS.Answers {
		if !rr.Addr.IsValid() {
			continue
		}
		ttl := max(time.Duration(rr.TTL)*time.Second, mail.DNSMinTTL)
		if len(fi.resolved) >= maxResolved {
			var bits uint64
			for a, exp := range fi.resolved {
				if o.Time.After(exp) || len(fi.resolved) >= maxResolved {
					delete(fi.resolved, a)
				} else {
					bits |= addrBit(a)
				}
			}
			fi.maybe.Store(bits)
		}
		a := rr.Addr.Unmap()
		fi.maybe.Or(addrBit(a)) // before the map: a reader never sees the entry without its bit
		fi.resolved[a] = o.Time.Add(ttl)
	}
}

// Wants is the capture engine's flow filter.
func (fi *FlowInterest) Wants(proto uint8, client, server netip.Addr, clientPort, serverPort uint16, serverName string) bool {
	t := observe.TransportTCP
	if proto == 17 {
		t = observe.TransportUDP
	}
	if m := fi.matcher.Load(); m != nil {
		if m.WantsAddress(server, serverPort, t) {
			return true
		}
		if serverName != "" && m.WantsName(serverName, serverPort, t) {
			return true
		}
	}
	if ap := fi.sigs.Load(); ap != nil && (*ap).WantsAddressPort(server, serverPort) {
		return true
	}
	s := server.Unmap()
	if fi.maybe.Load()&addrBit(s) == 0 {
		return false
	}
	fi.mu.RLock()
	_, ok := fi.resolved[s]
	fi.mu.RUnlock()
	return ok
}
