// Package mail owns work-mail access: recognising that a host's flow goes to
// a configured mail server, and counting it. A flow is mail access when its
// destination port belongs to one of the server's protocols and either its
// destination address is one of the server's addresses or CIDRs, or its TLS
// SNI is one of the server's names, or the host earlier received a DNS
// answer binding one of the server's names to that address (this catches
// ActiveSync/EWS/OWA on 443 behind shared front ends). STARTTLS and the
// plaintext commands capture saw (EHLO name, IMAP ID) are recorded; flows,
// packets and bytes are counted from flow observations.
//
// It imports capture/observe and agent/config. Per-host state (DNS-answer
// cache, open mail flows, accesses) lives in HostState, which the caller
// keeps with the host and which is bounded. There are no errors.
package mail

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// How a flow was recognised as mail access.
const (
	MethodAddress = "address"
	MethodSNI     = "sni"
	MethodDNS     = "dns"
)

// DNSMinTTL is the shortest time a DNS answer binds a name to an address:
// clients keep using an address a little past a short TTL.
const DNSMinTTL = 5 * time.Minute

const (
	maxDNS     = 32
	maxOpen    = 32
	maxDetails = 8
)

type portProto struct {
	port  uint16
	proto string
}

type server struct {
	cfg      config.MailServer
	suffixes []string // ".example.com" for "*.example.com"
	ports    []portProto
	// v4 and v6 hold the prefixes of cfg.Addresses as (address, mask)
	// words, checked with an XOR and an AND each: every TLS hello and
	// reported flow asks every server (Contains costs several times
	// more, an IPv6 one most). other holds what is neither (invalid
	// prefixes), checked with Contains.
	v4    []v4net
	v6    []v6net
	other []netip.Prefix
	// v4first has bit o set when some IPv4 prefix covers addresses whose
	// first octet is o: most addresses a flow goes to are rejected by it
	// without a walk of the prefixes.
	v4first [4]uint64
}

type v4net struct{ addr, mask uint32 }

type v6net struct{ hi, lo, mhi, mlo uint64 }

// v6words is an IPv6 address (an IPv4-mapped one included) as two words.
func v6words(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// v6mask is the mask of a /bits prefix as two words.
func v6mask(bits int) (hi, lo uint64) {
	switch {
	case bits >= 128:
		return ^uint64(0), ^uint64(0)
	case bits >= 64:
		return ^uint64(0), ^(^uint64(0) >> (bits - 64))
	default:
		return ^(^uint64(0) >> bits), 0
	}
}

// Matcher knows the configured mail servers. It is read-only after
// NewMatcher and may be shared.
type Matcher struct {
	servers []server
	// ports has bit p of [0] set when some server speaks on port p over
	// TCP, of [1] over UDP (QUIC): a flow to another port is no mail
	// access whatever its address or name, and needs no further look.
	ports [2]portSet
	// exact maps each exact server name to the first server with it: one
	// probe instead of one per server.
	exact map[string]int
	// tails are the last tailLen bytes (1..8) of every exact name and
	// wildcard suffix, ASCII case folded, as words: a name whose tail is
	// none of them belongs to no server, known without the map probe,
	// the suffix walk or lower-casing (most TLS server names and DNS
	// names are not mail servers'). tailLen 0: no filter (no names).
	tails   []uint64
	tailLen int
}

// tailWord is the last n (1..8) bytes of s as a word; len(s) >= n.
func tailWord(s string, n int) uint64 {
	var w uint64
	for i := len(s) - n; i < len(s); i++ {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// foldTail ORs each of a tail word's n bytes with 0x20: a byte and its
// ASCII upper-case letter give the same value.
func foldTail(w uint64, n int) uint64 {
	return w | 0x2020202020202020>>(64-8*n)
}

// NewMatcher compiles the configured servers.
func NewMatcher(servers []config.MailServer) *Matcher {
	m := &Matcher{exact: map[string]int{}}
	for _, s := range servers {
		sv := server{cfg: s}
		for _, n := range s.Names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if suf, ok := strings.CutPrefix(n, "*."); ok {
				sv.suffixes = append(sv.suffixes, "."+suf)
			} else {
				if _, ok := m.exact[n]; !ok {
					m.exact[n] = len(m.servers)
				}
			}
		}
		for _, p := range s.Protocols {
			sv.ports = append(sv.ports, portProto{p.Port, p.Name})
			m.ports[0].add(p.Port)
			if p.Name == "https" || p.Name == "jmap" {
				m.ports[1].add(p.Port)
			}
		}
		for _, p := range s.Addresses {
			switch {
			case p.Addr().Is4() && p.Bits() >= 0:
				a := p.Addr().As4()
				// A shift by 32 gives 0: /0 matches every IPv4 address.
				n := v4net{binary.BigEndian.Uint32(a[:]), ^uint32(0) << (32 - p.Bits())}
				sv.v4 = append(sv.v4, n)
				lo, hi := (n.addr&n.mask)>>24, (n.addr|^n.mask)>>24
				for o := lo; o <= hi; o++ {
					sv.v4first[o/64] |= 1 << (o % 64)
				}
			case p.Addr().Is6() && p.Addr().Zone() == "" && p.Bits() >= 0:
				hi, lo := v6words(p.Addr())
				mhi, mlo := v6mask(p.Bits())
				sv.v6 = append(sv.v6, v6net{hi, lo, mhi, mlo})
			default:
				sv.other = append(sv.other, p)
			}
		}
		m.servers = append(m.servers, sv)
	}
	m.buildTails()
	return m
}

func (m *Matcher) buildTails() {
	var names []string
	for n := range m.exact {
		names = append(names, n)
	}
	for i := range m.servers {
		names = append(names, m.servers[i].suffixes...)
	}
	if len(names) == 0 {
		return
	}
	m.tailLen = 8
	for _, n := range names {
		m.tailLen = min(m.tailLen, len(n))
	}
	if m.tailLen == 0 { // an empty configured name: no filter
		return
	}
	for _, n := range names {
		if w := foldTail(tailWord(n, m.tailLen), m.tailLen); !slices.Contains(m.tails, w) {
			m.tails = append(m.tails, w)
		}
	}
}

// portSet is a set of ports, a bit each (8 KiB).
type portSet [1024]uint64

func (s *portSet) add(p uint16)      { s[p/64] |= 1 << (p % 64) }
func (s *portSet) has(p uint16) bool { return s[p/64]&(1<<(p%64)) != 0 }

// mailPort reports whether some server speaks on port over t (the test
// every match method ends with; see server.protocol).
func (m *Matcher) mailPort(port uint16, t observe.Transport) bool {
	switch t {
	case observe.TransportTCP:
		return m.ports[0].has(port)
	case observe.TransportUDP:
		return m.ports[1].has(port)
	}
	return false
}

// Servers is the number of configured servers.
func (m *Matcher) Servers() int { return len(m.servers) }

// nameServer returns the server a name belongs to, or -1.
func (m *Matcher) nameServer(name string) int {
	// One root dot goes; "name.." is no name.
	name = strings.TrimSuffix(name, ".")
	// The tail filter holds when the name's last bytes are ASCII: they
	// are then whole runes, and lower-casing the name lower-cases them
	// as ASCII, whatever comes before. Shorter names, and tails with
	// other bytes (rare), take the long way.
	if m.tailLen > 0 && len(name) >= m.tailLen {
		w := tailWord(name, m.tailLen)
		if w&0x8080808080808080 == 0 && !slices.Contains(m.tails, foldTail(w, m.tailLen)) {
			return -1
		}
	}

	if i := m.lookupName(name); i >= 0 {
		return i
	}
	// Names are stored lower-case; only lower-case on a miss, and only a
	// name that has something to lower (strings.ToLower's own scan was
	// 4% of the agent's instructions on hellos to other servers).
	if hasUpper(name) {
		if l := strings.ToLower(name); l != name {
			return m.lookupName(l)
		}
	}
	return -1
}

// lookupName is the first server that has name exactly or by suffix:
// suffixes of servers before the exact one's only.
func (m *Matcher) lookupName(name string) int {
	n := len(m.servers)
	if i, ok := m.exact[name]; ok {
		n = i
	}
	for i := range n {
		s := &m.servers[i]
		for _, suf := range s.suffixes {
			if len(name) > len(suf) && strings.HasSuffix(name, suf) {
				return i
			}
		}
	}
	if n < len(m.servers) {
		return n
	}
	return -1
}

// hasUpper reports whether strings.ToLower could change s: an ASCII
// upper-case letter or any non-ASCII byte.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return false
}

// protocol returns the protocol a server speaks on port over transport, or "".
func (s *server) protocol(port uint16, t observe.Transport) string {
	for _, pp := range s.ports {
		if pp.port != port {
			continue
		}
		if t == observe.TransportTCP || t == observe.TransportUDP && (pp.proto == "https" || pp.proto == "jmap") {
			return pp.proto // HTTPS and JMAP may run over QUIC
		}
	}
	return ""
}

// hasAddr is Contains over cfg.Addresses: an IPv4 address matches IPv4
// prefixes only, an IPv6 one (IPv4-mapped included) IPv6 prefixes only,
// and an address with a zone no prefix.
func (s *server) hasAddr(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		if s.v4first[b[0]/64]&(1<<(b[0]%64)) == 0 {
			return false
		}
		x := binary.BigEndian.Uint32(b[:])
		for _, n := range s.v4 {
			if (x^n.addr)&n.mask == 0 {
				return true
			}
		}
		return false
	}
	return s.hasAddr6(a)
}

func (s *server) hasAddr6(a netip.Addr) bool {
	if len(s.v6) > 0 && a.Is6() && a.Zone() == "" {
		hi, lo := v6words(a)
		for _, n := range s.v6 {
			if (hi^n.hi)&n.mhi == 0 && (lo^n.lo)&n.mlo == 0 {
				return true
			}
		}
	}
	for _, p := range s.other {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Access is one host's access to one mail server, accumulated.
type Access struct {
	Server      string // configured server name
	Preset      string
	Address     netip.Addr // server address of the first flow
	Port        uint16
	Protocol    string   // protocol of the first flow
	Protocols   []string // every protocol seen, first first
	Transport   string
	Method      string // how the first flow was recognised
	Name        string // SNI or resolved name that matched, if any
	FirstSeen   time.Time
	LastSeen    time.Time
	Flows       uint64
	Packets     uint64
	Bytes       uint64
	StartTLS    bool
	CommunityID string   // of the first flow
	Details     []string // plaintext commands seen (EHLO name, IMAP ID), redacted by capture
	server      int
}

type dnsEntry struct {
	addr    netip.Addr
	name    string
	server  int
	expires time.Time
}

type flowKey struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
	transport        observe.Transport
}

type openFlow struct {
	key    flowKey
	access int
}

// HostState is one host's mail-access state. The zero value is ready.
type HostState struct {
	dns      []dnsEntry
	open     []openFlow
	Accesses []Access
}

// Update says what an observation did to a host's mail access.
type Update struct {
	Access  *Access // nil if the observation was not mail access
	NewFlow bool    // a mail flow not seen before
}

// Observe folds an observation about the host whose state st is into it.
// DNS answers are attributed to the host that received them (Meta.Dst);
// ClientHellos and flows to their initiator (Meta.Src).
func (m *Matcher) Observe(st *HostState, o *observe.Observation) Update {
	if len(m.servers) == 0 {
		return Update{}
	}
	switch o.Kind {
	case observe.KindDNS:
		if o.DNS != nil && o.DNS.Response {
			m.learnDNS(st, o)
		}
	case observe.KindTLS:
		if o.TLS == nil {
			return Update{}
		}
		return m.flow(st, o, o.TLS.ServerName, o.TLS.Prologue, nil)
	case observe.KindFlow:
		if o.Flow == nil {
			return Update{}
		}
		return m.flow(st, o, "", o.Flow.Prologue, o.Flow)
	}
	return Update{}
}

func (m *Matcher) learnDNS(st *HostState, o *observe.Observation) {
	srv, name := -1, ""
	for _, q := range o.DNS.Questions {
		if s := m.nameServer(q.Name); s >= 0 {
			srv, name = s, q.Name
			break
		}
	}
	if srv < 0 {
		// A CNAME chain may pass through a configured name.
		for _, rr := range o.DNS.Answers {
			if s := m.nameServer(rr.Name); s >= 0 {
				srv, name = s, rr.Name
				break
			}
		}
	}
	if srv < 0 {
		return
	}
	for _, rr := range o.DNS.Answers {
		if !rr.Addr.IsValid() {
			continue
		}
		ttl := time.Duration(rr.TTL) * time.Second
		if ttl < DNSMinTTL {
			ttl = DNSMinTTL
		}
		st.addDNS(dnsEntry{addr: rr.Addr.Unmap(), name: name, server: srv, expires: o.Time.Add(ttl)}, o.Time)
	}
}

func (st *HostState) addDNS(e dnsEntry, now time.Time) {
	for i := range st.dns {
		if st.dns[i].addr == e.addr && st.dns[i].server == e.server {
			st.dns[i] = e
			return
		}
	}
	if len(st.dns) < maxDNS {
		st.dns = append(st.dns, e)
		return
	}
	// Full: replace the entry that expires first (expired ones first of all).
	j := 0
	for i := range st.dns {
		if st.dns[i].expires.Before(st.dns[j].expires) {
			j = i
		}
	}
	st.dns[j] = e
}

func (st *HostState) resolved(a netip.Addr, now time.Time) (server int, name string) {
	for i := range st.dns {
		e := &st.dns[i]
		if e.addr == a && !now.After(e.expires) {
			return e.server, e.name
		}
	}
	return -1, ""
}

func (m *Matcher) flow(st *HostState, o *observe.Observation, sni, prologue string, f *observe.Flow) Update {
	// Open mail flows, like new ones, are to a mail port.
	if !m.mailPort(o.DstPort, o.Transport) {
		return Update{}
	}
	k := flowKey{o.Src, o.Dst, o.SrcPort, o.DstPort, o.Transport}
	oi := -1
	for i := range st.open {
		if st.open[i].key == k {
			oi = i
			break
		}
	}
	var u Update
	var acc *Access
	if oi >= 0 {
		acc = &st.Accesses[st.open[oi].access]
	} else {
		srv, method, name := m.match(st, o, sni)
		if srv < 0 {
			return Update{}
		}
		proto := m.servers[srv].protocol(o.DstPort, o.Transport)
		ai := st.access(&m.servers[srv], srv)
		acc = &st.Accesses[ai]
		if acc.Flows == 0 {
			acc.Address, acc.Port, acc.Protocol = o.Dst, o.DstPort, proto
			acc.Transport = o.Transport.String()
			acc.Method, acc.Name = method, name
			acc.FirstSeen = o.Time
			acc.CommunityID = o.Community()
		}
		acc.addProtocol(proto)
		acc.Flows++
		u.NewFlow = true
		if f == nil || f.Reason == "start" {
			st.openFlow(k, ai)
			oi = len(st.open) - 1
		}
	}
	u.Access = acc
	if o.Time.After(acc.LastSeen) {
		acc.LastSeen = o.Time
	}
	if strings.HasSuffix(prologue, "starttls") || strings.HasSuffix(prologue, "stls") {
		acc.StartTLS = true
	}
	if f != nil {
		for _, line := range f.Plaintext {
			acc.addDetail(line)
		}
		if f.Reason != "start" {
			acc.Packets += f.PacketsOut + f.PacketsIn
			acc.Bytes += f.BytesOut + f.BytesIn
			if f.End.After(acc.LastSeen) {
				acc.LastSeen = f.End
			}
			if oi >= 0 {
				st.open = append(st.open[:oi], st.open[oi+1:]...)
			}
		}
	}
	return u
}

// ToServer reports whether a flow goes to a configured server address and
// port, without any per-host state (no SNI, no DNS answers).
func (m *Matcher) ToServer(o *observe.Observation) bool {
	if !m.mailPort(o.DstPort, o.Transport) {
		return false
	}
	dst := o.Dst.Unmap()
	for i := range m.servers {
		if s := &m.servers[i]; s.hasAddr(dst) && s.protocol(o.DstPort, o.Transport) != "" {
			return true
		}
	}
	return false
}

// match finds the server a new flow goes to: by address, then SNI, then a
// DNS answer the host received. The destination port must fit.
func (m *Matcher) match(st *HostState, o *observe.Observation, sni string) (srv int, method, name string) {
	dst := o.Dst.Unmap()
	for i := range m.servers {
		s := &m.servers[i]
		if s.hasAddr(dst) && s.protocol(o.DstPort, o.Transport) != "" {
			return i, MethodAddress, ""
		}
	}
	if sni != "" {
		if i := m.nameServer(sni); i >= 0 && m.servers[i].protocol(o.DstPort, o.Transport) != "" {
			return i, MethodSNI, sni
		}
	}
	if i, n := st.resolved(dst, o.Time); i >= 0 && m.servers[i].protocol(o.DstPort, o.Transport) != "" {
		return i, MethodDNS, n
	}
	return -1, "", ""
}

func (st *HostState) access(s *server, idx int) int {
	for i := range st.Accesses {
		if st.Accesses[i].server == idx {
			return i
		}
	}
	st.Accesses = append(st.Accesses, Access{Server: s.cfg.Name, Preset: s.cfg.Preset, server: idx})
	return len(st.Accesses) - 1
}

func (st *HostState) openFlow(k flowKey, access int) {
	if len(st.open) == maxOpen {
		// Ends of the oldest open flows were lost (evicted upstream):
		// forget the oldest; its counts stay as they were.
		copy(st.open, st.open[1:])
		st.open = st.open[:maxOpen-1]
	}
	st.open = append(st.open, openFlow{key: k, access: access})
}

func (a *Access) addProtocol(p string) {
	if p == "" {
		return
	}
	for _, x := range a.Protocols {
		if x == p {
			return
		}
	}
	a.Protocols = append(a.Protocols, p)
}

func (a *Access) addDetail(d string) {
	if d == "" || len(a.Details) >= maxDetails {
		return
	}
	for _, x := range a.Details {
		if x == d {
			return
		}
	}
	a.Details = append(a.Details, d)
}

// Clone returns a deep copy (for findings that outlive the host state).
func (a *Access) Clone() Access {
	c := *a
	c.Protocols = append([]string(nil), a.Protocols...)
	c.Details = append([]string(nil), a.Details...)
	return c
}

// WantsAddress reports whether a flow to a:port over t reaches a configured
// server by address (no per-host state).
func (m *Matcher) WantsAddress(a netip.Addr, port uint16, t observe.Transport) bool {
	if !m.mailPort(port, t) {
		return false
	}
	a = a.Unmap()
	for i := range m.servers {
		if s := &m.servers[i]; s.hasAddr(a) && s.protocol(port, t) != "" {
			return true
		}
	}
	return false
}

// WantsName reports whether a server name (SNI, or a DNS name) belongs to
// a configured server that speaks on port over t; port 0 matches any.
func (m *Matcher) WantsName(name string, port uint16, t observe.Transport) bool {
	if port != 0 && !m.mailPort(port, t) {
		return false
	}
	i := m.nameServer(name)
	if i < 0 {
		return false
	}
	return port == 0 || m.servers[i].protocol(port, t) != ""
}
