package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/dhcp"
	"github.com/orchard-nsm/orchard/capture/dnsmsg"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/capture/quic"
	"github.com/orchard-nsm/orchard/capture/tcpfp"
	"github.com/orchard-nsm/orchard/capture/tlshello"
)

// Config bounds an Engine. The zero value is usable: every field has a
// default.
type Config struct {
	MaxFlows        int           // flow table size (default 65536)
	FlowIdle        time.Duration // a flow idle this long ends (default 2m)
	StreamLimit     int           // first-flight bytes reassembled per direction (default 16 KiB)
	MaxReassembling int           // streams reassembling at once (default 4096)
	QUICMaxConns    int           // QUIC connections tracked until their ClientHello (default 4096)
	QUICIdle        time.Duration // default 30s
	// Log receives one warning per skipped packet, naming the source and
	// packet number, up to MaxMessages per reason; the rest are counted.
	Log         *slog.Logger
	MaxMessages int // default 10
	// FlowFilter, when set, decides at a flow's first packet whether its
	// start and end are reported as KindFlow observations (the agent only
	// needs flows to mail servers and a few signature addresses; reporting
	// every flow of a busy gateway would cost more than the rest of the
	// pipeline). nil reports every flow.
	// It is asked again with the server name once a ClientHello shows one
	// (mail servers reached by name on shared front ends); a flow that
	// becomes interesting then is reported from that point, with its
	// counts since its first packet.
	FlowFilter func(proto uint8, client, server netip.Addr, clientPort, serverPort uint16, serverName string) bool
	// ReuseObservations promises that the sink is done with each
	// observation when Observe returns and keeps nothing that points into
	// it (its strings excepted: they are immutable), as a synchronous sink
	// such as orchard analyze's is. The engine then reuses one observation
	// of each kind instead of allocating: on a handshake-heavy capture
	// that was nine tenths of the bytes allocated. A sink that queues
	// observations (live capture's channel) must leave it false.
	ReuseObservations bool
	// LazyCommunityID leaves each observation's CommunityID empty for
	// its consumer to compute through Observation.Community if it needs
	// it (orchard analyze without --events reads it only for the first
	// flow of a mail access): otherwise every flow costs a SHA-1, a
	// base64 encoding and a string.
	LazyCommunityID bool
}

func (c *Config) defaults() {
	if c.MaxFlows <= 0 {
		c.MaxFlows = 65536
	}
	if c.FlowIdle <= 0 {
		c.FlowIdle = 2 * time.Minute
	}
	if c.StreamLimit <= 0 {
		c.StreamLimit = 16 << 10
	}
	if c.MaxReassembling <= 0 {
		c.MaxReassembling = 4096
	}
	if c.QUICMaxConns <= 0 {
		c.QUICMaxConns = 4096
	}
	if c.QUICIdle <= 0 {
		c.QUICIdle = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = 10
	}
}

// Engine turns packets into observations. One Engine is one worker: it is
// not safe for concurrent use, and it owns its decoder, flow table and
// buffers so the per-packet path does not allocate.
type Engine struct {
	cfg   Config
	sink  observe.Sink
	dec   *decoder
	flows *flowTable
	pool  *bufPool
	quic  *quic.Tracker
	dns   dnsmsg.Parser
	hello tlshello.ClientHello
	// spareStreams are stream pairs of flows past inspection, for reuse.
	spareStreams []*[2]stream
	synfp        tcpfp.Cache
	scratch      scratchObs
	key          flowKey // the current packet's flow key, built in place
	hsBuf        []byte
	stats        Stats
	// cur is the flow of the packet being processed, nil outside
	// tcpPacket and udpPacket.
	cur *flow
	// defrag is made on the first IP fragment.
	defrag *defragmenter

	source string
	pkt    uint64
	now    time.Time
	logged [numReasons]int
	// Suppressed counts warnings not logged because MaxMessages was reached.
	suppressed uint64
	start      time.Time
}

// NewEngine returns an Engine that hands observations to sink.
func NewEngine(cfg Config, sink observe.Sink) *Engine {
	cfg.defaults()
	return &Engine{
		cfg:   cfg,
		sink:  sink,
		dec:   newDecoder(),
		flows: newFlowTable(cfg.MaxFlows, cfg.FlowIdle),
		pool:  newBufPool(2048, 256, cfg.MaxReassembling),
		quic:  quic.NewTracker(cfg.QUICMaxConns, cfg.QUICIdle),
		hsBuf: make([]byte, 0, 4096),
	}
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.ActiveFlows = e.flows.len()
	s.Reassembling = e.pool.inUse
	return s
}

// QUICStats returns the QUIC tracker's counters.
func (e *Engine) QUICStats() quic.Stats { return e.quic.Stats() }

// Suppressed returns how many skip warnings were counted but not logged.
func (e *Engine) Suppressed() uint64 { return e.suppressed }

// Run reads src to its end. Packets that cannot be decoded are counted and
// skipped; Run returns an error only when the source itself fails (a
// truncated or unreadable file), after processing everything before it.
func (e *Engine) Run(src Source) error {
	e.source = src.Name()
	e.pkt = 0
	lt := src.LinkType()
	t0 := time.Now()
	defer func() { e.stats.Elapsed += time.Since(t0) }()
	for {
		data, info, err := src.ReadPacket()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		e.Packet(data, info, lt)
	}
}

// SetSource names the source for packets handed to Packet directly and
// resets the packet number.
func (e *Engine) SetSource(name string) { e.source, e.pkt = name, 0 }

// Packet processes one packet of link type lt.
func (e *Engine) Packet(data []byte, info PacketInfo, lt layers.LinkType) {
	e.pkt++
	e.stats.Packets++
	wire := info.Length
	if wire < len(data) {
		wire = len(data)
	}
	e.stats.Bytes += uint64(wire)
	e.now = info.Timestamp
	if info.LinkType != 0 {
		lt = info.LinkType
	}
	if info.Length > len(data) {
		e.stats.Skipped[ReasonSnapLen]++
	}
	d := e.dec
	err := d.decode(lt, data)
	if d.has.arp {
		e.arp()
		return
	}
	if !d.has.ip4 && !d.has.ip6 {
		switch {
		case errors.Is(err, errUnknownLink):
			e.skip(ReasonUnknownLink, "link type %d", lt)
		case err != nil:
			e.skip(ReasonDecode, "%v", err)
		default:
			e.stats.Skipped[ReasonNonIP]++
		}
		return
	}
	if d.fragment {
		e.stats.Skipped[ReasonFragment]++ // counted per fragment, reassembled below
		if !e.defragment() {
			return
		}
	}
	switch {
	case d.has.tcp:
		e.tcpPacket()
	case d.has.udp:
		e.udpPacket()
	case d.has.ns || d.has.na:
		e.ndp()
	case err != nil:
		e.skip(ReasonDecode, "%v", err)
	}
	// Expire a few idle flows per packet: amortised, no scan.
	now := e.now.UnixNano()
	for n := 0; n < 4; n++ {
		i, ok := e.flows.oldestIdle(now)
		if !ok {
			break
		}
		e.endFlow(i, "idle")
	}
}

// Flush ends every flow still open ("end-of-input") and drops QUIC state.
func (e *Engine) Flush() {
	for e.flows.tail >= 0 {
		e.endFlow(e.flows.tail, "end-of-input")
	}
	e.quic.Expire(e.now.Add(24 * time.Hour))
}

func (e *Engine) skip(r Reason, format string, args ...any) {
	e.stats.Skipped[r]++
	if e.logged[r] >= e.cfg.MaxMessages {
		e.suppressed++
		return
	}
	e.logged[r]++
	e.cfg.Log.Warn(fmt.Sprintf("%s: packet %d: %s: %s", e.source, e.pkt, r, fmt.Sprintf(format, args...)),
		"source", e.source, "packet", e.pkt, "reason", r.String())
}

// addrs returns the packet's IP addresses as 16-byte keys.
func (e *Engine) addrs() (src, dst [16]byte, v4 bool) {
	d := e.dec
	if d.has.ip4 {
		src[10], src[11] = 0xff, 0xff
		dst[10], dst[11] = 0xff, 0xff
		copy(src[12:], d.ip4.SrcIP.To4())
		copy(dst[12:], d.ip4.DstIP.To4())
		return src, dst, true
	}
	copy(src[:], d.ip6.SrcIP)
	copy(dst[:], d.ip6.DstIP)
	return src, dst, false
}

func (e *Engine) ipLen() int {
	if e.dec.has.ip4 {
		return int(e.dec.ip4.Length)
	}
	return int(e.dec.ip6.Length) + 40
}

func (e *Engine) macs() (src, dst observe.MAC) {
	d := e.dec
	if d.has.eth {
		copy(src[:], d.eth.SrcMAC)
		copy(dst[:], d.eth.DstMAC)
	} else if d.has.sll {
		if len(d.sll.Addr) == 6 {
			copy(src[:], d.sll.Addr)
		} else if len(d.sll2.Addr) == 6 {
			copy(src[:], d.sll2.Addr)
		}
	}
	return src, dst
}

// setKey writes the key of a flow between two addresses, each given as
// two big-endian words of its 16-byte form, ordered as bytes.Compare
// orders the addresses (ties broken by port), and reports whether the
// source is the low end. The key is written word by word: whole 8-byte
// stores that the comparisons' 8-byte loads read back directly (a key
// built with byte copies and copied by value stalled on every lookup).
func setKey(k *flowKey, s0, s1, d0, d1 uint64, sport, dport uint16, proto uint8) bool {
	be := binary.BigEndian
	srcIsLo := s0 < d0 || (s0 == d0 && (s1 < d1 || (s1 == d1 && sport <= dport)))
	if !srcIsLo {
		s0, s1, d0, d1 = d0, d1, s0, s1
		sport, dport = dport, sport
	}
	be.PutUint64(k.lo[:8], s0)
	be.PutUint64(k.lo[8:], s1)
	be.PutUint64(k.hi[:8], d0)
	be.PutUint64(k.hi[8:], d1)
	k.loPort, k.hiPort, k.proto = sport, dport, proto
	return srcIsLo
}

// v4Mapped is the second word of an IPv4-mapped IPv6 address without the
// address: ::ffff:0:0.
const v4Mapped = 0xffff << 32

// packetKey writes the current packet's flow key into k.
func (e *Engine) packetKey(k *flowKey, sport, dport uint16, proto uint8) (srcIsLo bool) {
	d := e.dec
	be := binary.BigEndian
	if d.has.ip4 {
		s, t := d.ip4.SrcIP.To4(), d.ip4.DstIP.To4()
		if s == nil || t == nil { // not from a decoded header; addrs copes
			src, dst, _ := e.addrs()
			s, t = src[12:], dst[12:]
		}
		return setKey(k, 0, v4Mapped|uint64(be.Uint32(s)), 0, v4Mapped|uint64(be.Uint32(t)), sport, dport, proto)
	}
	s, t := d.ip6.SrcIP, d.ip6.DstIP
	if len(s) != 16 || len(t) != 16 { // not from a decoded header; addrs copes
		src, dst, _ := e.addrs()
		s, t = src[:], dst[:]
	}
	return setKey(k, be.Uint64(s[:8]), be.Uint64(s[8:16]), be.Uint64(t[:8]), be.Uint64(t[8:16]), sport, dport, proto)
}

// flowFor finds or creates the flow of the current packet. clientGuess says
// whether the packet's sender is the client if the flow is new.
func (e *Engine) flowFor(sport, dport uint16, proto uint8, senderIsClient bool) (*flow, int32, dir) {
	k := &e.key
	srcIsLo := e.packetKey(k, sport, dport, proto)
	i, ok := e.flows.lookup(k)
	now := e.now.UnixNano()
	if !ok {
		if e.flows.full() {
			e.stats.Skipped[ReasonFlowEvicted]++
			e.endFlow(e.flows.tail, "evicted")
		}
		i = e.flows.insert(k)
		f := e.flows.at(i)
		f.start, f.touched = now, now
		f.clientLo = srcIsLo == senderIsClient
		smac, dmac := e.macs()
		if senderIsClient {
			f.clientMAC, f.serverMAC = smac, dmac
		} else {
			f.clientMAC, f.serverMAC = dmac, smac
		}
		f.vlan = e.dec.vlan
		e.stats.Flows++
		f.last = now
		f.report = true
		if e.cfg.FlowFilter != nil {
			caddr, cport := f.client()
			saddr, sport := f.server()
			f.report = e.cfg.FlowFilter(proto, caddr, saddr, cport, sport, "")
		}
		if f.report {
			e.emitFlow(f, "start")
		}
	} else if f := e.flows.at(i); now-f.touched >= lruGrain {
		e.flows.touch(i)
		f.touched = now
	}
	f := e.flows.at(i)
	f.last = now
	dr := toServer
	if srcIsLo != f.clientLo {
		dr = toClient
	}
	return f, i, dr
}

// lruGrain is how often a busy flow moves to the head of the LRU list.
// Moving it on every packet touched two neighbouring entries per packet,
// cache misses that were a quarter of the engine's time on bulk traffic;
// moving it at most once a second orders the list to within a second,
// which idle expiry (minutes) and eviction of the least recently seen
// flow under pressure do not notice.
const lruGrain = int64(time.Second)

// serverPortGuess decides, for a flow seen without its SYN, whether the
// sender is the client: the side with the well-known (smaller) port serves.
func senderIsClientByPort(sport, dport uint16) bool {
	if sport == dport {
		return true
	}
	return sport > dport
}

func (e *Engine) tcpPacket() {
	t := &e.dec.tcp
	sport, dport := uint16(t.SrcPort), uint16(t.DstPort)
	senderIsClient := senderIsClientByPort(sport, dport)
	if t.SYN {
		senderIsClient = !t.ACK
	}
	f, i, dr := e.flowFor(sport, dport, 6, senderIsClient)
	e.cur = f
	defer func() { e.cur = nil }()
	f.pkts[dr]++
	f.bytes[dr] += uint64(e.ipLen())
	if t.SYN {
		if !t.ACK {
			if !f.syn {
				f.syn = true
				e.syn()
			}
			if f.state == inspectPending {
				e.streams(f)[toServer].setISN(t.Seq)
			}
		} else {
			f.synAck = true
			if f.state == inspectPending {
				e.streams(f)[toClient].setISN(t.Seq)
			}
		}
	}
	if len(t.Payload) > 0 && f.state == inspectPending {
		seq := t.Seq
		if t.SYN {
			seq++ // TCP Fast Open: SYN data starts after the SYN's sequence number
		}
		e.inspectTCP(f, dr, seq, t.Payload)
	}
	if t.RST {
		f.rst = true
		e.endFlow(i, "rst")
		return
	}
	if t.FIN {
		f.fin[dr] = true
		if f.fin[0] && f.fin[1] {
			e.endFlow(i, "fin")
		}
	}
}

func (e *Engine) syn() {
	d := e.dec
	ip := d.ip6.Contents
	if d.has.ip4 {
		ip = d.ip4.Contents
	}
	fp, err := e.synfp.Fingerprint(ip, d.tcp.Contents)
	if err != nil {
		e.skip(ReasonMalformedSYN, "%v", err)
		return
	}
	so := reuse(e.cfg.ReuseObservations, &e.scratch.syn)
	so.s = fp
	e.initObs(&so.o, observe.KindTCP, observe.TransportTCP, uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort))
	so.o.TCP = &so.s
	e.emit(&so.o)
}

// fillHello fills an observation from the parsed ClientHello, into lists
// that the next hello reuses where observations are reused too.
func (e *Engine) fillHello(dst *observe.ClientHello, transport byte) {
	if e.cfg.ReuseObservations {
		e.hello.FillBorrowed(dst, transport)
	} else {
		e.hello.Fill(dst, transport)
	}
}

func (e *Engine) udpPacket() {
	u := &e.dec.udp
	sport, dport := uint16(u.SrcPort), uint16(u.DstPort)
	payload := u.Payload
	senderIsClient := senderIsClientByPort(sport, dport)
	f, _, dr := e.flowFor(sport, dport, 17, senderIsClient)
	e.cur = f
	defer func() { e.cur = nil }()
	f.pkts[dr]++
	f.bytes[dr] += uint64(e.ipLen())
	switch {
	case sport == 5353 || dport == 5353:
		e.dnsMessage(payload, true, observe.TransportUDP, sport, dport)
	case sport == 53 || dport == 53:
		e.dnsMessage(payload, false, observe.TransportUDP, sport, dport)
	case (sport == 67 || sport == 68) && (dport == 67 || dport == 68):
		e.dhcp(payload, false, sport, dport)
	case (sport == 546 || sport == 547) && (dport == 546 || dport == 547):
		e.dhcp(payload, true, sport, dport)
	default:
		if f.state == inspectPending && quic.LooksLikeInitial(payload) {
			e.quicDatagram(f, payload, sport, dport)
		}
	}
}

func (e *Engine) dnsMessage(b []byte, mdns bool, tr observe.Transport, sport, dport uint16) {
	m, err := e.dns.Parse(b, mdns)
	if err != nil {
		e.skip(ReasonMalformedDNS, "%v", err)
		// What was decoded before the fault (the question, usually)
		// is still evidence.
		if m == nil || len(m.Questions) == 0 {
			return
		}
	}
	kind := observe.KindDNS
	if mdns {
		kind = observe.KindMDNS
	}
	o := e.newObs(kind, tr, sport, dport)
	o.DNS = m
	e.emit(o)
}

func (e *Engine) dhcp(b []byte, v6 bool, sport, dport uint16) {
	var m *observe.DHCP
	var err error
	if v6 {
		m, err = dhcp.ParseV6(b)
	} else {
		m, err = dhcp.ParseV4(b)
	}
	if err != nil {
		e.skip(ReasonMalformedDHCP, "%v", err)
		return
	}
	o := e.newObs(observe.KindDHCP, observe.TransportUDP, sport, dport)
	o.DHCP = m
	e.emit(o)
}

func (e *Engine) quicDatagram(f *flow, b []byte, sport, dport uint16) {
	res, ok, err := e.quic.DatagramFrom(e.now, quic.DirectionFromPorts(sport, dport), b)
	if err != nil {
		e.skip(ReasonQUIC, "%v", err)
		return
	}
	if !ok {
		return
	}
	if err := e.hello.Unmarshal(res.ClientHello); err != nil {
		e.skip(ReasonMalformedTLS, "QUIC ClientHello: %v", err)
		return
	}
	qo := reuse(e.cfg.ReuseObservations, &e.scratch.quic)
	qo.q = observe.QUICInfo{
		Version: res.Version,
		DCID:    bytes.Clone(res.DCID),
		SCID:    bytes.Clone(res.SCID),
		Packets: res.Packets,
	}
	o := &qo.o
	e.initObs(o, observe.KindTLS, observe.TransportUDP, sport, dport)
	qo.h.QUIC = &qo.q
	o.TLS = &qo.h
	e.fillHello(o.TLS, 'q') // also parses the transport parameters
	e.emit(o)
	e.reconsiderFlow(f, o.TLS.ServerName)
	f.state = inspectDone
}

func (e *Engine) arp() {
	a := &e.dec.arp
	if a.Protocol != layers.EthernetTypeIPv4 || len(a.SourceProtAddress) != 4 || len(a.SourceHwAddress) != 6 {
		return
	}
	ip := netip.AddrFrom4([4]byte(a.SourceProtAddress))
	if ip.IsUnspecified() {
		return // ARP probe: no binding yet
	}
	b := &observe.ARPBinding{Protocol: "arp", IP: ip}
	copy(b.MAC[:], a.SourceHwAddress)
	switch {
	case bytes.Equal(a.SourceProtAddress, a.DstProtAddress):
		b.Op = "gratuitous"
	case a.Operation == layers.ARPReply:
		b.Op = "reply"
	default:
		b.Op = "request"
	}
	o := &observe.Observation{Kind: observe.KindARP, ARP: b}
	o.Meta = observe.Meta{Time: e.now, Source: e.source, Packet: e.pkt, VLAN: e.dec.vlan}
	o.SrcMAC, o.DstMAC = e.macs()
	o.Src = ip
	if len(a.DstProtAddress) == 4 {
		o.Dst = netip.AddrFrom4([4]byte(a.DstProtAddress))
	}
	e.emit(o)
}

func (e *Engine) ndp() {
	d := e.dec
	var b *observe.ARPBinding
	if d.has.na {
		for _, opt := range d.na.Options {
			if opt.Type == layers.ICMPv6OptTargetAddress && len(opt.Data) >= 6 {
				ip, ok := netip.AddrFromSlice(d.na.TargetAddress)
				if ok {
					b = &observe.ARPBinding{Protocol: "ndp", Op: "na", IP: ip}
					copy(b.MAC[:], opt.Data)
				}
			}
		}
	} else if d.has.ns {
		ip, ok := netip.AddrFromSlice(d.ip6.SrcIP)
		if ok && !ip.IsUnspecified() {
			for _, opt := range d.ns.Options {
				if opt.Type == layers.ICMPv6OptSourceAddress && len(opt.Data) >= 6 {
					b = &observe.ARPBinding{Protocol: "ndp", Op: "ns", IP: ip}
					copy(b.MAC[:], opt.Data)
				}
			}
		}
	}
	if b == nil {
		return
	}
	o := e.newObs(observe.KindARP, observe.TransportICMP, 0, 0)
	o.CommunityID = ""
	o.ARP = b
	e.emit(o)
}

// newObs builds an observation with the current packet's metadata, from
// the sender's view.
func (e *Engine) newObs(k observe.Kind, tr observe.Transport, sport, dport uint16) *observe.Observation {
	var o *observe.Observation
	if e.cfg.ReuseObservations {
		o = &e.scratch.obs
		*o = observe.Observation{}
	} else {
		o = new(observe.Observation)
	}
	e.initObs(o, k, tr, sport, dport)
	return o
}

// Observations are handed to the sink, which may keep them, so each is a
// new allocation (unless Config.ReuseObservations); an observation and the
// one record it carries are allocated together (one allocation instead of
// two per TLS, SYN and flow observation).
type (
	tlsObs struct {
		o observe.Observation
		h observe.ClientHello
	}
	quicObs struct {
		o observe.Observation
		h observe.ClientHello
		q observe.QUICInfo
	}
	synObs struct {
		o observe.Observation
		s observe.TCPSyn
	}
	flowObs struct {
		o observe.Observation
		f observe.Flow
	}
)

// scratchObs holds the observations reused under
// Config.ReuseObservations, one per shape.
type scratchObs struct {
	obs  observe.Observation
	tls  tlsObs
	quic quicObs
	syn  synObs
	flow flowObs
}

// reuse returns *scratch zeroed when reusing, a new T otherwise.
func reuse[T any](reusing bool, scratch *T) *T {
	if !reusing {
		return new(T)
	}
	var zero T
	*scratch = zero
	return scratch
}

// initObs fills o (zero) with the current packet's metadata, from the
// sender's view.
func (e *Engine) initObs(o *observe.Observation, k observe.Kind, tr observe.Transport, sport, dport uint16) {
	d := e.dec
	o.Kind = k
	o.Time = e.now
	o.Source = e.source
	o.Packet = e.pkt
	o.SrcMAC, o.DstMAC = e.macs()
	o.VLAN = d.vlan
	o.Transport = tr
	o.SrcPort, o.DstPort = sport, dport
	if d.has.ip4 {
		o.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
		o.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
	} else {
		o.Src = ip6(d.ip6.SrcIP)
		o.Dst = ip6(d.ip6.DstIP)
	}
	var proto uint8
	switch tr {
	case observe.TransportTCP:
		proto = 6
	case observe.TransportUDP:
		proto = 17
	case observe.TransportICMP:
		proto = 58
	}
	switch f := e.cur; {
	case e.cfg.LazyCommunityID:
		o.CommunityID = ""
	case f != nil:
		o.CommunityID = e.flowCommunity(f)
	default:
		o.CommunityID = observe.CommunityID(o.Src, o.Dst, sport, dport, proto)
	}
}

func ip6(b net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (e *Engine) emit(o *observe.Observation) {
	e.stats.Observations[o.Kind]++
	e.sink.Observe(o)
}

// emitFlow reports a flow start or end, from the client's view.
func (e *Engine) emitFlow(f *flow, reason string) {
	caddr, cport := f.client()
	saddr, sport := f.server()
	tr := observe.TransportTCP
	if f.key.proto == 17 {
		tr = observe.TransportUDP
	}
	fo := reuse(e.cfg.ReuseObservations, &e.scratch.flow)
	o := &fo.o
	o.Kind = observe.KindFlow
	o.Meta = observe.Meta{
		Time: time.Unix(0, f.last).UTC(), Source: e.source, Packet: e.pkt,
		SrcMAC: f.clientMAC, DstMAC: f.serverMAC, VLAN: f.vlan,
		Src: caddr, Dst: saddr, SrcPort: cport, DstPort: sport, Transport: tr,
	}
	if !e.cfg.LazyCommunityID {
		o.CommunityID = e.flowCommunity(f)
	}
	fo.f = observe.Flow{
		Start: time.Unix(0, f.start).UTC(), End: time.Unix(0, f.last).UTC(),
		PacketsOut: f.pkts[toServer], PacketsIn: f.pkts[toClient],
		BytesOut: f.bytes[toServer], BytesIn: f.bytes[toClient],
		SYNSeen: f.syn, Established: f.synAck || (tr == observe.TransportUDP && f.pkts[toClient] > 0),
		Reason: reason,
	}
	o.Flow = &fo.f
	if len(f.plain) > 0 {
		o.Flow.Plaintext = f.plain
	}
	o.Flow.Prologue = f.prologue
	e.emit(o)
}

// reconsiderFlow asks the flow filter again once the server name is known.
func (e *Engine) reconsiderFlow(f *flow, sni string) {
	if f.report || e.cfg.FlowFilter == nil || sni == "" {
		return
	}
	caddr, cport := f.client()
	saddr, sport := f.server()
	if e.cfg.FlowFilter(f.key.proto, caddr, saddr, cport, sport, sni) {
		f.report = true
		e.emitFlow(f, "start")
	}
}

// flowCommunity returns the flow's Community ID, computed once per flow.
func (e *Engine) flowCommunity(f *flow) string {
	if f.community == "" {
		caddr, cport := f.client()
		saddr, sport := f.server()
		f.community = observe.CommunityID(caddr, saddr, cport, sport, f.key.proto)
	}
	return f.community
}

func (e *Engine) endFlow(i int32, reason string) {
	f := e.flows.at(i)
	if f.stream != nil {
		for d := range f.stream {
			s := &f.stream[d]
			if !s.done && s.buf != nil && s.gap() {
				e.stats.Skipped[ReasonStreamGap]++
			}
			s.release(e.pool)
		}
		e.putStreams(f)
	}
	if f.report {
		e.emitFlow(f, reason)
	}
	e.flows.remove(i)
}

// maxSpareStreams bounds the stream pairs kept for reuse.
const maxSpareStreams = 4096

// streams returns f's stream pair, taking one from the spares (or making
// one) if f has none.
func (e *Engine) streams(f *flow) *[2]stream {
	if f.stream == nil {
		if n := len(e.spareStreams); n > 0 {
			f.stream = e.spareStreams[n-1]
			e.spareStreams = e.spareStreams[:n-1]
		} else {
			f.stream = new([2]stream)
		}
	}
	return f.stream
}

// putStreams takes f's stream pair back (its buffers already released).
func (e *Engine) putStreams(f *flow) {
	p := f.stream
	f.stream = nil
	if len(e.spareStreams) < maxSpareStreams {
		*p = [2]stream{}
		e.spareStreams = append(e.spareStreams, p)
	}
}

// Now is the capture time of the last packet processed.
func (e *Engine) Now() time.Time { return e.now }
