package signatures

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Set is a loaded, indexed collection of signatures. It is immutable after
// loading and safe for concurrent use.
type Set struct {
	entries  []Entry
	versions map[string]string

	names nameIndex // dns-name
	sni   nameIndex // tls-sni

	ja4         map[string]int32
	ja3         map[string]int32
	service     map[string]int32
	modelExact  map[string]int32
	modelGlob   []int32 // family globs, longest prefix first
	tcp         []int32 // in file order: first match wins
	dhcp        []int32
	vendor      []int32
	hostname    []int32
	txt         []int32
	ua          []int32
	addressPort []int32
	// apPorts and apFirst let most flows skip the address-port walk:
	// bit p of apPorts is set when some entry names port p (every bit
	// when one names any port), bit o of apFirst when some IPv4 entry
	// covers addresses whose first octet is o; apV6 says whether there are
	// IPv6 entries at all.
	apPorts [1024]uint64
	apFirst [4]uint64
	apV6    bool

	// detail is the evidence detail of exact-match entries (JA4, JA3),
	// by entry index; made once so a match does not concatenate.
	detail []string
}

func (s *Set) index() {
	s.ja4 = make(map[string]int32)
	s.ja3 = make(map[string]int32)
	s.service = make(map[string]int32)
	s.modelExact = make(map[string]int32)
	s.detail = make([]string, len(s.entries))
	for i := range s.entries {
		e := &s.entries[i]
		n := int32(i)
		switch e.Kind {
		case KindDNSName:
			s.names.add(s.entries, n)
		case KindTLSSNI:
			s.sni.add(s.entries, n)
		case KindTLSJA4:
			s.ja4[e.Pattern] = n
			s.detail[n] = "ja4 " + e.Pattern
		case KindTLSJA3:
			s.ja3[e.Pattern] = n
			s.detail[n] = "ja3 " + e.Pattern
		case KindMDNSService:
			s.service[e.Pattern] = n
		case KindMDNSModel:
			if strings.HasSuffix(e.Pattern, "*") {
				s.modelGlob = append(s.modelGlob, n)
			} else {
				s.modelExact[e.Pattern] = n
			}
		case KindTCPSyn:
			s.tcp = append(s.tcp, n)
		case KindDHCP:
			s.dhcp = append(s.dhcp, n)
		case KindDHCPVendor:
			s.vendor = append(s.vendor, n)
		case KindDHCPHostname:
			s.hostname = append(s.hostname, n)
		case KindMDNSTXT:
			s.txt = append(s.txt, n)
		case KindHTTPUA:
			s.ua = append(s.ua, n)
		case KindAddressPort:
			s.addressPort = append(s.addressPort, n)
			s.indexAddressPort(&s.entries[n])
		}
	}
	sort.SliceStable(s.modelGlob, func(i, j int) bool {
		return len(s.entries[s.modelGlob[i]].Pattern) > len(s.entries[s.modelGlob[j]].Pattern)
	})
}

// Entries returns a copy of all entries, ordered by file name and line.
func (s *Set) Entries() []Entry {
	out := make([]Entry, len(s.entries))
	copy(out, s.entries)
	return out
}

// Versions returns the version of each data file, by file name.
func (s *Set) Versions() map[string]string {
	out := make(map[string]string, len(s.versions))
	for k, v := range s.versions {
		out[k] = v
	}
	return out
}

// Model maps an Apple model identifier ("iPhone14,2") to its product name
// and platform. An identifier not listed but of a known family
// ("iPhone99,1") gives the family's product ("iPhone") with ok true.
func (s *Set) Model(identifier string) (product, platform string, ok bool) {
	if i := s.model(identifier); i >= 0 {
		return s.entries[i].Product, s.entries[i].Platform, true
	}
	return "", "", false
}

func (s *Set) model(id string) int32 {
	if i, ok := s.modelExact[id]; ok {
		return i
	}
	for _, i := range s.modelGlob {
		p := s.entries[i].Pattern
		if prefix := p[:len(p)-1]; len(id) > len(prefix) && strings.HasPrefix(id, prefix) {
			return i
		}
	}
	return -1
}

// Match appends to dst the evidence one observation gives, seen from the
// host that sent it: for a DNS query the asker (Meta.Src), for a DNS
// response the asker too (Meta.Dst); for every other kind Meta.Src. Each
// signature contributes at most once per observation. Match allocates only
// for evidence it appends.
func (s *Set) Match(o *observe.Observation, dst []Evidence) []Evidence {
	if o == nil {
		return dst
	}
	start := len(dst)
	switch o.Kind {
	case observe.KindDNS:
		if o.DNS == nil {
			return dst
		}
		via := "dns query "
		if o.DNS.Response {
			via = "dns response "
		}
		for _, q := range o.DNS.Questions {
			dst = s.matchName(o, dst, start, &s.names, normalizeName(q.Name), via)
		}
	case observe.KindMDNS:
		if o.DNS != nil && o.DNS.Response {
			dst = s.matchMDNS(o, dst, start, o.DNS.Answers)
			dst = s.matchMDNS(o, dst, start, o.DNS.Extra)
		}
	case observe.KindTLS:
		dst = s.matchTLS(o, dst, start)
	case observe.KindTCP:
		dst = s.matchTCP(o, dst, start)
	case observe.KindDHCP:
		dst = s.matchDHCP(o, dst, start)
	case observe.KindHTTP:
		if h := o.HTTP; h != nil {
			if h.Host != "" {
				dst = s.matchName(o, dst, start, &s.names, normalizeName(stripPort(h.Host)), "http host ")
			}
			if h.UserAgent != "" {
				dst = s.matchRegexp(o, dst, start, s.ua, h.UserAgent, "http user-agent ")
			}
		}
	case observe.KindFlow:
		if flowStart(o) {
			dst = s.matchAddressPort(o, dst, start)
		}
	}
	return dst
}

// flowStart reports whether a flow observation is the flow's start: an
// address-port signature is evidence once per flow, not again when the
// flow ends (every reported flow is reported starting first).
func flowStart(o *observe.Observation) bool { return o.Flow == nil || o.Flow.Reason == "start" }

// emit appends the evidence of entry i unless this observation already gave
// it (entries from index start on).
func (s *Set) emit(o *observe.Observation, dst []Evidence, start int, i int32, detail, model string) []Evidence {
	e := &s.entries[i]
	for j := start; j < len(dst); j++ {
		if dst[j].SignatureID == e.ID {
			return dst
		}
	}
	return append(dst, Evidence{
		Time:        o.Time,
		Kind:        e.Kind,
		Detail:      detail,
		SignatureID: e.ID,
		Platform:    e.Platform,
		Weight:      e.Weight,
		Source:      o.Source,
		Packet:      o.Packet,
		Set:         e.Set,
		Model:       model,
	})
}

func (s *Set) matchName(o *observe.Observation, dst []Evidence, start int, ix *nameIndex, name, via string) []Evidence {
	if name == "" {
		return dst
	}
	if i := ix.lookup(s.entries, name); i >= 0 {
		dst = s.emit(o, dst, start, i, via+name, "")
	}
	return dst
}

// matchRegexp gives the first entry of list whose expression matches v.
func (s *Set) matchRegexp(o *observe.Observation, dst []Evidence, start int, list []int32, v, via string) []Evidence {
	for _, i := range list {
		if s.entries[i].re.MatchString(v) {
			return s.emit(o, dst, start, i, via+v, "")
		}
	}
	return dst
}

func (s *Set) matchTLS(o *observe.Observation, dst []Evidence, start int) []Evidence {
	ch := o.TLS
	if ch == nil {
		return dst
	}
	if ch.ServerName != "" {
		via := "tls sni "
		if ch.QUIC != nil {
			via = "quic sni "
		}
		name := normalizeName(ch.ServerName)
		before := len(dst)
		dst = s.matchName(o, dst, start, &s.sni, name, via)
		if len(dst) == before {
			dst = s.matchName(o, dst, start, &s.names, name, via)
		}
	}
	return s.matchFingerprints(o, dst, start)
}

// matchFingerprints matches the JA4 and JA3 of a ClientHello. Their entries
// match exactly, so the detail is the entry's, made once at indexing.
func (s *Set) matchFingerprints(o *observe.Observation, dst []Evidence, start int) []Evidence {
	ch := o.TLS
	if ch.JA4 != "" {
		if i, ok := s.ja4[ch.JA4]; ok {
			dst = s.emit(o, dst, start, i, s.detail[i], "")
		}
	}
	if ch.JA3 != "" {
		if i, ok := s.ja3[ch.JA3]; ok {
			dst = s.emit(o, dst, start, i, s.detail[i], "")
		}
	}
	return dst
}

func (s *Set) matchTCP(o *observe.Observation, dst []Evidence, start int) []Evidence {
	syn := o.TCP
	if syn == nil {
		return dst
	}
	for _, i := range s.tcp {
		if tcpMatch(s.entries[i].tcp, syn) {
			detail := syn.Fingerprint
			if detail == "" {
				detail = syn.JA4T
			}
			return s.emit(o, dst, start, i, "tcp syn "+detail, "")
		}
	}
	return dst
}

func tcpMatch(p *TCPPattern, syn *observe.TCPSyn) bool {
	if p.JA4T != "" {
		return syn.JA4T == p.JA4T
	}
	if p.ITTL != 0 && syn.InitialTTL != p.ITTL {
		return false
	}
	if p.Window >= 0 && int32(syn.Window) != p.Window {
		return false
	}
	if p.MSS >= 0 && int32(syn.MSS) != p.MSS {
		return false
	}
	if p.WScale != -2 && syn.WindowScale != p.WScale {
		return false
	}
	if !layoutMatch(p.OLayout, syn.Options) {
		return false
	}
	for _, q := range p.Quirks {
		found := false
		for _, have := range syn.Quirks {
			if have == q {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// layoutMatch compares p0f option layouts; a pattern ending in "eol" also
// matches "eol+N" (padding after the end-of-list option varies).
func layoutMatch(pat, got string) bool {
	if pat == got {
		return true
	}
	if !strings.HasSuffix(pat, "eol") || !strings.HasPrefix(got, pat) {
		return false
	}
	rest := got[len(pat):]
	if len(rest) < 2 || rest[0] != '+' {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

var dhcpServerMessages = map[string]bool{
	"offer": true, "ack": true, "nak": true, "advertise": true, "reply": true, "reconfigure": true,
}

func (s *Set) matchDHCP(o *observe.Observation, dst []Evidence, start int) []Evidence {
	d := o.DHCP
	if d == nil || dhcpServerMessages[d.MessageType] {
		return dst // server messages say nothing about the client's platform
	}
	if !d.V6 {
		for _, i := range s.dhcp {
			if dhcpMatch(s.entries[i].dhcp, d) {
				dst = s.emit(o, dst, start, i, "dhcp "+d.MessageType+" "+dhcpDetail(d), "")
				break
			}
		}
	}
	if d.VendorClass != "" {
		dst = s.matchRegexp(o, dst, start, s.vendor, d.VendorClass, "dhcp vendor class ")
	}
	if d.Hostname != "" {
		dst = s.matchRegexp(o, dst, start, s.hostname, d.Hostname, "dhcp hostname ")
	}
	return dst
}

func dhcpMatch(p *DHCPPattern, d *observe.DHCP) bool {
	if p.NoVendorClass && d.VendorClass != "" {
		return false
	}
	if len(p.Messages) > 0 {
		found := false
		for _, m := range p.Messages {
			if m == d.MessageType {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(p.Params) > 0 {
		if len(p.Params) != len(d.ParamList) {
			return false
		}
		for i := range p.Params {
			if p.Params[i] != d.ParamList[i] {
				return false
			}
		}
	}
	if len(p.Order) > 0 {
		j := 0
		for _, c := range d.OptionOrder {
			if c == 0 || c == 255 {
				continue
			}
			if j >= len(p.Order) || p.Order[j] != c {
				return false
			}
			j++
		}
		if j != len(p.Order) {
			return false
		}
	}
	return true
}

func dhcpDetail(d *observe.DHCP) string {
	var b strings.Builder
	b.WriteString("params=")
	for i, c := range d.ParamList {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
	}
	b.WriteString(" order=")
	n := 0
	for _, c := range d.OptionOrder {
		if c == 0 || c == 255 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
		n++
	}
	return b.String()
}

func (s *Set) matchAddressPort(o *observe.Observation, dst []Evidence, start int) []Evidence {
	if !o.Dst.IsValid() {
		return dst
	}
	dstAddr := o.Dst.Unmap()
	if i := s.addressPortEntry(dstAddr, o.DstPort); i >= 0 {
		return s.emit(o, dst, start, i, "flow to "+netip.AddrPortFrom(dstAddr, o.DstPort).String(), "")
	}
	return dst
}

// matchMDNS reads the records a host announces: DNS-SD service types it
// offers, its host and instance names, its TXT strings and model.
func (s *Set) matchMDNS(o *observe.Observation, dst []Evidence, start int, rrs []observe.DNSRecord) []Evidence {
	for k := range rrs {
		rr := &rrs[k]
		name := strings.TrimSuffix(rr.Name, ".")
		if st, inst, ok := serviceType(name); ok {
			if i, found := s.service[st]; found {
				dst = s.emit(o, dst, start, i, "mdns service "+st, "")
			}
			if inst != "" {
				dst = s.matchRegexp(o, dst, start, s.hostname, inst, "mdns instance ")
			}
		}
		switch rr.Type {
		case "PTR":
			if name == "_services._dns-sd._udp.local" {
				if st, _, ok := serviceType(strings.TrimSuffix(rr.Data, ".")); ok {
					if i, found := s.service[st]; found {
						dst = s.emit(o, dst, start, i, "mdns service "+st, "")
					}
				}
			} else if st, inst, ok := serviceType(strings.TrimSuffix(rr.Data, ".")); ok && inst != "" && st != "" {
				dst = s.matchRegexp(o, dst, start, s.hostname, inst, "mdns instance ")
			}
		case "A", "AAAA":
			if host, ok := strings.CutSuffix(name, ".local"); ok && !strings.Contains(host, ".") {
				dst = s.matchRegexp(o, dst, start, s.hostname, host, "mdns host ")
			}
		case "TXT":
			for _, t := range rr.TXT {
				dst = s.matchRegexp(o, dst, start, s.txt, t, "mdns txt ")
				if id, ok := modelValue(t); ok {
					if i := s.model(id); i >= 0 {
						dst = s.emit(o, dst, start, i, "mdns model "+id, s.entries[i].Product)
					}
				}
			}
		}
	}
	return dst
}

// serviceType splits a DNS-SD name "<instance>._svc._tcp.local" (or a
// subtype "<x>._sub._svc._tcp.local", or "_svc._tcp.local") into the
// service type "_svc._tcp" and the instance, without allocating.
func serviceType(name string) (svc, instance string, ok bool) {
	rest, found := strings.CutSuffix(name, ".local")
	if !found {
		return "", "", false
	}
	if !strings.HasSuffix(rest, "._tcp") && !strings.HasSuffix(rest, "._udp") {
		return "", "", false
	}
	head := rest[:len(rest)-len("._tcp")]
	i := strings.LastIndexByte(head, '.')
	svc = rest[i+1:]
	if len(svc) < 2 || svc[0] != '_' {
		return "", "", false
	}
	if i >= 0 {
		instance = head[:i]
		if strings.HasSuffix(instance, "._sub") {
			instance = "" // a subtype selector, not an instance name
		}
	}
	return svc, instance, true
}

// modelValue returns the model identifier of a TXT string that carries one:
// model= (_device-info, _airplay), rpMd= (_companion-link), am= (_raop).
// TXT keys are case-insensitive (RFC 6763 section 6.4).
func modelValue(t string) (string, bool) {
	k, v, ok := strings.Cut(t, "=")
	if !ok || v == "" {
		return "", false
	}
	if strings.EqualFold(k, "model") || strings.EqualFold(k, "rpmd") || strings.EqualFold(k, "am") {
		return v, true
	}
	return "", false
}

// stripPort removes a ":port" from an HTTP Host value ("[v6]:port" too).
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}

func (s *Set) indexAddressPort(e *Entry) {
	if e.port == 0 {
		for i := range s.apPorts {
			s.apPorts[i] = ^uint64(0)
		}
	} else {
		s.apPorts[e.port/64] |= 1 << (e.port % 64)
	}
	if !e.prefix.Addr().Is4() {
		s.apV6 = true
		return
	}
	b := e.prefix.Masked().Addr().As4()
	span := 1
	if bits := e.prefix.Bits(); bits < 8 {
		span = 1 << (8 - bits)
	}
	for o := int(b[0]); o < int(b[0])+span; o++ {
		s.apFirst[o/64] |= 1 << (o % 64)
	}
}

// mayAddressPort is false when no address-port entry can match a:port (a
// unmapped); true means the entries must be walked.
func (s *Set) mayAddressPort(a netip.Addr, port uint16) bool {
	if s.apPorts[port/64]&(1<<(port%64)) == 0 {
		return false
	}
	if a.Is4() {
		o := a.As4()[0]
		return s.apFirst[o/64]&(1<<(o%64)) != 0
	}
	return s.apV6
}

// WantsAddressPort reports whether a flow to a:port would match an
// address-port signature (used to decide which flows to report at all).
func (s *Set) WantsAddressPort(a netip.Addr, port uint16) bool {
	return s.addressPortEntry(a.Unmap(), port) >= 0
}

// addressPortEntry returns the first address-port entry that a:port (a
// unmapped) matches, or -1.
func (s *Set) addressPortEntry(a netip.Addr, port uint16) int32 {
	if !s.mayAddressPort(a, port) {
		return -1
	}
	for _, i := range s.addressPort {
		e := &s.entries[i]
		if (e.port == 0 || e.port == port) && e.prefix.Contains(a) {
			return i
		}
	}
	return -1
}

// matcherMax bounds each memo of a Matcher. Server names and SYN shapes
// repeat; a scan of random names only makes a memo start over.
const matcherMax = 4096

// Matcher is a Set with memory for one consumer: it gives exactly what
// Set.Match gives, but remembers the outcome of a server name or SYN shape
// (which signature, and the evidence detail string), so that the evidence
// of traffic seen before costs a map lookup instead of a name-index walk,
// a pattern scan and a string concatenation. It is not safe for concurrent
// use; the Set behind it stays shareable.
type Matcher struct {
	set *Set
	// sni and quic remember server names of TLS and of QUIC hellos (the
	// detail says which): plain string keys take the map's string fast
	// path, a struct key the generic hash.
	sni, quic map[string]memo
	tcp       map[string]memo
	// ap remembers flow destinations: a flow's detail is built from its
	// address and port, two allocations a flow without it.
	ap  map[netip.AddrPort]memo
	key []byte // scratch for the SYN key
	// recent holds the last SYN shapes matched, compared field by field
	// before the key is built: a few stacks send most SYNs, and their
	// strings come shared from the capture's SYN cache, so the compares
	// mostly stop at equal pointers.
	recent [recentSYNs]synMemo
	next   int
}

// recentSYNs is how many SYN shapes Matcher.recent holds.
const recentSYNs = 8

// synMemo is one SYN shape of Matcher.recent: every field tcpMatch and the
// detail read, and the outcome.
type synMemo struct {
	used              bool
	fp, ja4t, options string
	quirks            []string
	ittl              uint8
	window, mss       uint16
	wscale            int8
	r                 memo
}

func (s *synMemo) same(syn *observe.TCPSyn) bool {
	return s.used && s.fp == syn.Fingerprint && s.ja4t == syn.JA4T && s.ittl == syn.InitialTTL &&
		s.window == syn.Window && s.mss == syn.MSS && s.wscale == syn.WindowScale &&
		s.options == syn.Options && slices.Equal(s.quirks, syn.Quirks)
}

// memo is a remembered outcome: entry -1 for no match.
type memo struct {
	entry  int32
	detail string
}

// NewMatcher returns a Matcher over s.
func (s *Set) NewMatcher() *Matcher {
	return &Matcher{set: s, sni: make(map[string]memo), quic: make(map[string]memo), tcp: make(map[string]memo), ap: make(map[netip.AddrPort]memo)}
}

// Set returns the Set behind m.
func (m *Matcher) Set() *Set { return m.set }

// Versions is the Set's Versions.
func (m *Matcher) Versions() map[string]string { return m.set.Versions() }

// Match is Set.Match with memoised TLS server-name and TCP SYN matching.
func (m *Matcher) Match(o *observe.Observation, dst []Evidence) []Evidence {
	if o == nil {
		return dst
	}
	switch o.Kind {
	case observe.KindTLS:
		if o.TLS != nil {
			return m.matchTLS(o, dst, len(dst))
		}
	case observe.KindTCP:
		if o.TCP != nil {
			return m.matchTCP(o, dst, len(dst))
		}
	case observe.KindFlow:
		if !flowStart(o) {
			return dst
		}
		return m.matchAddressPort(o, dst, len(dst))
	}
	return m.set.Match(o, dst)
}

// matchAddressPort is Set.matchAddressPort, memoised by destination.
func (m *Matcher) matchAddressPort(o *observe.Observation, dst []Evidence, start int) []Evidence {
	if !o.Dst.IsValid() || !m.set.mayAddressPort(o.Dst.Unmap(), o.DstPort) {
		return dst
	}
	k := netip.AddrPortFrom(o.Dst.Unmap(), o.DstPort)
	r, ok := m.ap[k]
	if !ok {
		if r.entry = m.set.addressPortEntry(k.Addr(), k.Port()); r.entry >= 0 {
			r.detail = "flow to " + k.String()
		}
		if len(m.ap) >= matcherMax {
			clear(m.ap)
		}
		m.ap[k] = r
	}
	if r.entry >= 0 {
		dst = m.set.emit(o, dst, start, r.entry, r.detail, "")
	}
	return dst
}

func (m *Matcher) matchTLS(o *observe.Observation, dst []Evidence, start int) []Evidence {
	s, ch := m.set, o.TLS
	if ch.ServerName != "" {
		names, via := m.sni, "tls sni "
		if ch.QUIC != nil {
			names, via = m.quic, "quic sni "
		}
		r, ok := names[ch.ServerName]
		if !ok {
			name := normalizeName(ch.ServerName)
			r.entry = s.sni.lookup(s.entries, name)
			if r.entry < 0 {
				r.entry = s.names.lookup(s.entries, name)
			}
			if r.entry >= 0 {
				r.detail = via + name
			}
			if len(names) >= matcherMax {
				clear(names)
			}
			names[ch.ServerName] = r
		}
		if r.entry >= 0 {
			dst = s.emit(o, dst, start, r.entry, r.detail, "")
		}
	}
	return s.matchFingerprints(o, dst, start)
}

func (m *Matcher) matchTCP(o *observe.Observation, dst []Evidence, start int) []Evidence {
	syn := o.TCP
	for i := range m.recent {
		if r := &m.recent[i]; r.same(syn) {
			if r.r.entry >= 0 {
				dst = m.set.emit(o, dst, start, r.r.entry, r.r.detail, "")
			}
			return dst
		}
	}
	// The key holds every field tcpMatch and the detail read.
	k := append(m.key[:0], syn.Fingerprint...)
	k = append(k, 0)
	k = append(k, syn.JA4T...)
	k = append(k, 0, syn.InitialTTL, byte(syn.Window>>8), byte(syn.Window), byte(syn.MSS>>8), byte(syn.MSS), byte(syn.WindowScale))
	k = append(k, syn.Options...)
	for _, q := range syn.Quirks {
		k = append(k, 0)
		k = append(k, q...)
	}
	m.key = k
	r, ok := m.tcp[string(k)] // no allocation for the lookup
	if !ok {
		r.entry = -1
		for _, i := range m.set.tcp {
			if tcpMatch(m.set.entries[i].tcp, syn) {
				r.entry = i
				detail := syn.Fingerprint
				if detail == "" {
					detail = syn.JA4T
				}
				r.detail = "tcp syn " + detail
				break
			}
		}
		if len(m.tcp) >= matcherMax {
			clear(m.tcp)
		}
		m.tcp[string(k)] = r
	}
	m.recent[m.next] = synMemo{used: true, fp: syn.Fingerprint, ja4t: syn.JA4T, options: syn.Options, quirks: syn.Quirks,
		ittl: syn.InitialTTL, window: syn.Window, mss: syn.MSS, wscale: syn.WindowScale, r: r}
	m.next = (m.next + 1) % recentSYNs
	if r.entry >= 0 {
		dst = m.set.emit(o, dst, start, r.entry, r.detail, "")
	}
	return dst
}
