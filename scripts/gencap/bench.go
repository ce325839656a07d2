package gencap

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// BenchOptions configure Bench.
type BenchOptions struct {
	Packets int    // packets to write; default 200,000
	Mix     string // "office" (≥80% bulk payload packets) or "handshake" (15% ClientHellos)
	Seed    uint64
}

// BenchStats counts what Bench wrote, by the generator's own accounting;
// tests check it against a decode of the file.
type BenchStats struct {
	Packets      int `json:"packets"`
	Bulk         int `json:"bulk_payload_packets"` // TCP segments carrying ≥1000 payload bytes
	ClientHellos int `json:"client_hellos"`        // ClientHello messages (a 2-segment hello counts once)
	TwoSegHellos int `json:"two_segment_hellos"`
	DNS          int `json:"dns_packets"`
	SYNs         int `json:"syns"`
}

const (
	bulkMin        = 1000 // payload bytes that make a segment "bulk"
	benchActive    = 48   // concurrently open flows, interleaved
	benchAckEvery  = 10   // stretch ACKs, as with GRO/LRO on the receiver
	handshakeRatio = 0.15
	officeBulk     = 0.86 // planned, so the realised share stays above 80%
)

type bclient struct {
	mac   MAC
	ip    netip.Addr
	st    *stack
	kinds []int // indexes into benchGen.hellos
}

type bhello struct {
	rec  []byte // TLS record(s) with the ClientHello
	port uint16
	sni  string
}

type bflow struct {
	c            *bclient
	srv          netip.Addr
	sport, cport uint16
	cseq, sseq   uint32
	phase        int
	hello        *bhello
	off          int
	flightLeft   int
	dataLeft     int
	down         bool
	sinceAck     int
	rst          bool
	dnsQ, dnsA   []byte
	ts           bool
	short        bool // no client Finished: handshake-mix flows
}

func (f *bflow) mss() int {
	if f.ts {
		return 1448
	}
	return 1460
}

// plannedPackets is how many packets the flow will emit.
func (f *bflow) plannedPackets() int {
	switch {
	case f.phase == 20 || f.phase == 30:
		return 2
	case f.hello == nil:
		return 0
	}
	n := 3 + (len(f.hello.rec)+f.mss()-1)/f.mss() + f.flightLeft
	if !f.short {
		n++
	}
	n += f.dataLeft
	if f.dataLeft > 0 {
		n += (f.dataLeft - 1) / benchAckEvery
	}
	if f.rst {
		return n + 1
	}
	return n + 3
}

type benchGen struct {
	r       rng
	out     *pcapOut
	t       time.Time
	buf     []byte
	l4      [60]byte
	block   []byte
	prefix  []uint64 // prefix[i] = sum of the first i 16-bit words of block
	clients []*bclient
	hellos  []bhello
	dns     [][2][]byte
	st      BenchStats
	planned struct{ total, bulk, hello float64 }
	mix     string
	servers []netip.Addr
}

var benchNames = []string{"www.google.com", "gateway.icloud.com", "outlook.office365.com", "www.apple.com",
	"github.com", "login.microsoftonline.com", "mail.corp.example", "p57-keyvalueservice.icloud.com",
	"www.wikipedia.org", "cdn.jsdelivr.net", "api.slack.com", "teams.microsoft.com", "imap.gmail.com",
	"smtp.office365.com", "mask.icloud.com", "fonts.gstatic.com"}

// Bench writes a large capture for throughput benchmarks. Packets are
// patched from precomputed templates (ClientHellos built once by uTLS,
// payloads sliced from one random block) with checksums recomputed, so
// millions of packets take seconds.
func Bench(out io.Writer, o BenchOptions) (*BenchStats, error) {
	if o.Packets == 0 {
		o.Packets = 200000
	}
	if o.Mix == "" {
		o.Mix = "office"
	}
	if o.Packets < 0 || (o.Mix != "office" && o.Mix != "handshake") {
		return nil, fmt.Errorf("%w: bench packets %d, mix %q (office or handshake)", ErrOption, o.Packets, o.Mix)
	}
	po, err := newPcapOut(out)
	if err != nil {
		return nil, err
	}
	g := &benchGen{r: newRNG(o.Seed, 7), out: po, t: StartTime, buf: make([]byte, 0, 4096), mix: o.Mix}
	if err := g.setup(); err != nil {
		return nil, err
	}
	var active []*bflow
	for g.st.Packets < o.Packets {
		for len(active) < benchActive {
			active = append(active, g.newFlow())
		}
		i := g.r.IntN(len(active))
		if !g.step(active[i]) {
			active[i] = active[len(active)-1]
			active = active[:len(active)-1]
		}
	}
	if err := po.flush(); err != nil {
		return &g.st, err
	}
	return &g.st, nil
}

func (g *benchGen) setup() error {
	r := g.r
	g.block = r.bytes(1 << 16)
	g.prefix = make([]uint64, len(g.block)/2+1)
	for i := 0; i < len(g.block)/2; i++ {
		g.prefix[i+1] = g.prefix[i] + uint64(binary.BigEndian.Uint16(g.block[2*i:]))
	}
	kinds := []helloKind{helloChrome, helloIOS, helloSafari, helloFirefox, helloOkHttp, helloEdge, helloSChannel}
	ports := []uint16{443, 443, 443, 443, 443, 443, 443, 443, 993, 465}
	byKind := map[helloKind][]int{}
	for _, k := range kinds {
		for i, name := range benchNames {
			port := ports[(i+int(k))%len(ports)]
			o := helloOpts{}
			if port != 443 {
				o.alpn = []string{}
			}
			h, err := clientHello(r, k, name, o)
			if err != nil {
				return err
			}
			byKind[k] = append(byKind[k], len(g.hellos))
			g.hellos = append(g.hellos, bhello{rec: tlsRecord(22, 0x0301, h), port: port, sni: name})
		}
	}
	type cp struct {
		st    *stack
		kinds []helloKind
		share int
	}
	profiles := []cp{
		{stackWindows, []helloKind{helloChrome, helloChrome, helloEdge, helloSChannel}, 40},
		{stackApple, []helloKind{helloIOS, helloSafari}, 30},
		{stackAndroid, []helloKind{helloChrome, helloOkHttp}, 15},
		{stackLinux, []helloKind{helloFirefox, helloChrome}, 15},
	}
	n := 0
	for _, p := range profiles {
		for i := 0; i < p.share*2; i++ {
			c := &bclient{st: p.st, ip: netip.AddrFrom4([4]byte{10, 20, byte(n / 250), byte(n%250 + 2)})}
			r.Read(c.mac[:])
			c.mac[0] = c.mac[0]&0xfc | 0x02
			for _, k := range p.kinds {
				c.kinds = append(c.kinds, byKind[k]...)
			}
			g.clients = append(g.clients, c)
			n++
		}
	}
	for i := 0; i < 64; i++ {
		g.servers = append(g.servers, netip.AddrFrom4([4]byte{byte(pick(r, []int{17, 20, 52, 142, 151, 104})), byte(r.Uint32()), byte(r.Uint32()), byte(r.IntN(250) + 2)}))
	}
	for _, name := range benchNames {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		q.Id = uint16(r.Uint32())
		qb, err := q.Pack()
		if err != nil {
			return fmt.Errorf("gencap: pack dns: %w", err)
		}
		a := new(dns.Msg)
		a.SetReply(q)
		a.Answer = append(a.Answer, &dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: pick(r, g.servers).AsSlice()})
		ab, err := a.Pack()
		if err != nil {
			return fmt.Errorf("gencap: pack dns: %w", err)
		}
		g.dns = append(g.dns, [2][]byte{qb, ab})
	}
	return nil
}

// newFlow plans the next flow so the planned packet shares stay on target.
func (g *benchGen) newFlow() *bflow {
	r := g.r
	c := g.clients[r.IntN(len(g.clients))]
	f := &bflow{c: c, srv: g.servers[r.IntN(len(g.servers))], cport: uint16(r.between(49152, 65535)),
		cseq: r.Uint32(), sseq: r.Uint32(), ts: c.st.hasTS()}
	p := &g.planned
	pickHello := func() {
		f.hello = &g.hellos[c.kinds[r.IntN(len(c.kinds))]]
		p.hello++
	}
	switch g.mix {
	case "office":
		if p.total == 0 || p.bulk/p.total < officeBulk {
			pickHello()
			f.dataLeft = r.between(100, 1500)
			f.down = r.chance(0.8)
			f.flightLeft = 3
			p.bulk += float64(f.dataLeft)
		} else if r.chance(0.5) {
			g.dnsFlow(f)
		} else {
			pickHello()
			f.dataLeft, f.flightLeft, f.rst = r.between(0, 2), 1, true
		}
	default: // handshake: short flows, 15% of all packets are ClientHellos
		if p.total == 0 || p.hello/p.total < handshakeRatio {
			pickHello()
			f.flightLeft, f.short, f.rst = 1, true, r.chance(0.9)
		} else if r.chance(0.6) {
			g.dnsFlow(f)
		} else {
			f.phase = 20 // SYN answered by RST: a closed port or a filtered probe
		}
	}
	p.total += float64(f.plannedPackets())
	if f.hello != nil {
		f.sport = f.hello.port
	} else if f.sport == 0 {
		f.sport = 443
	}
	return f
}

func (g *benchGen) dnsFlow(f *bflow) {
	d := g.dns[g.r.IntN(len(g.dns))]
	f.dnsQ, f.dnsA, f.sport, f.phase = d[0], d[1], 53, 30
}

// step emits the flow's next packet; false when the flow is done.
func (g *benchGen) step(f *bflow) bool {
	const (
		C = true
		S = false
	)
	mss := f.mss()
	switch f.phase {
	case 0:
		fl := uint8(flSYN)
		if f.c.st.ecnSYN {
			fl |= flECE | flCWR
		}
		g.tcp(f, C, fl, f.c.st.synOptions(uint32(g.t.UnixMilli())), nil)
		g.st.SYNs++
		f.cseq++
		f.phase = 1
	case 1:
		g.tcp(f, S, flSYN|flACK, stackServerLinux.synAckOptions(g.r.Uint32(), 0, f.ts), nil)
		f.sseq++
		f.phase = 2
	case 2:
		g.tcp(f, C, flACK, nil, nil)
		f.phase = 3
	case 3: // ClientHello, one or two segments
		rec := f.hello.rec
		if f.off == 0 {
			g.st.ClientHellos++
			if len(rec) > mss {
				g.st.TwoSegHellos++
			}
			// A fresh client random per connection.
			binary.LittleEndian.PutUint64(rec[11:], g.r.Uint64())
			binary.LittleEndian.PutUint64(rec[19:], g.r.Uint64())
		}
		end := min(f.off+mss, len(rec))
		fl := uint8(flACK)
		if end == len(rec) {
			fl |= flPSH
		}
		g.tcp(f, C, fl, nil, rec[f.off:end])
		f.off = end
		if end == len(rec) {
			f.phase = 4
		}
	case 4: // server flight: ServerHello, certificate, ...
		n := mss
		if f.flightLeft == 1 {
			n = g.r.between(300, mss)
		}
		pl, sum := g.payload(n)
		g.tcpSum(f, S, flACK, nil, pl, sum)
		f.flightLeft--
		if f.flightLeft == 0 {
			f.phase = 5
			if f.short {
				f.phase = 6
			}
		}
	case 5: // client Finished
		pl, sum := g.payload(g.r.between(64, 120))
		g.tcpSum(f, C, flACK|flPSH, nil, pl, sum)
		f.phase = 6
	case 6: // data
		if f.dataLeft == 0 {
			if f.rst {
				g.tcp(f, C, flRST|flACK, nil, nil)
				return false
			}
			f.phase = 7
			return g.step(f)
		}
		if f.sinceAck == benchAckEvery {
			g.tcp(f, !f.down, flACK, nil, nil)
			f.sinceAck = 0
			return true
		}
		pl, sum := g.payload(mss)
		g.tcpSum(f, f.down, flACK, nil, pl, sum)
		f.dataLeft--
		f.sinceAck++
	case 7:
		g.tcp(f, C, flFIN|flACK, nil, nil)
		f.cseq++
		f.phase = 8
	case 8:
		g.tcp(f, S, flFIN|flACK, nil, nil)
		f.sseq++
		f.phase = 9
	case 9:
		g.tcp(f, C, flACK, nil, nil)
		return false
	case 20:
		g.tcp(f, C, flSYN, f.c.st.synOptions(uint32(g.t.UnixMilli())), nil)
		g.st.SYNs++
		f.cseq++
		f.phase = 21
	case 21:
		g.tcp(f, S, flRST|flACK, nil, nil)
		return false
	case 30:
		g.udp(f, C, f.dnsQ)
		f.phase = 31
	case 31:
		g.udp(f, S, f.dnsA)
		return false
	}
	return true
}

// payload returns n bytes of the random block and their checksum sum,
// taken from prefix sums so a full-size segment costs no summing.
func (g *benchGen) payload(n int) ([]byte, uint32) {
	n &^= 1
	off := g.r.IntN(len(g.block)-n) &^ 1
	s := g.prefix[(off+n)/2] - g.prefix[off/2]
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return g.block[off : off+n], uint32(s&0xffff) + uint32(s>>16)
}

func (g *benchGen) tick() {
	g.t = g.t.Add(time.Duration(1000 + g.r.IntN(9000)))
}

func (g *benchGen) tcp(f *bflow, fromClient bool, flags uint8, opts, payload []byte) {
	g.tcpSum(f, fromClient, flags, opts, payload, csumAddFast(0, payload))
}

// tcpSum writes one TCP packet whose payload checksum sum is known.
func (g *benchGen) tcpSum(f *bflow, fromClient bool, flags uint8, opts, payload []byte, psum uint32) {
	g.tick()
	var ip ipHdr
	var srcMAC, dstMAC MAC
	h := g.l4[:20]
	if fromClient {
		ip = ipHdr{src: f.c.ip, dst: f.srv, ttl: f.c.st.ttl, df: true, id: uint16(g.r.Uint32())}
		srcMAC, dstMAC = f.c.mac, officeGatewayMAC
		binary.BigEndian.PutUint16(h[0:], f.cport)
		binary.BigEndian.PutUint16(h[2:], f.sport)
		binary.BigEndian.PutUint32(h[4:], f.cseq)
		binary.BigEndian.PutUint32(h[8:], f.sseq)
		f.cseq += uint32(len(payload))
	} else {
		ip = ipHdr{src: f.srv, dst: f.c.ip, ttl: stackServerLinux.ttl, df: true, id: uint16(g.r.Uint32())}
		srcMAC, dstMAC = officeGatewayMAC, f.c.mac
		binary.BigEndian.PutUint16(h[0:], f.sport)
		binary.BigEndian.PutUint16(h[2:], f.cport)
		binary.BigEndian.PutUint32(h[4:], f.sseq)
		binary.BigEndian.PutUint32(h[8:], f.cseq)
		f.sseq += uint32(len(payload))
	}
	if flags&flACK == 0 {
		binary.BigEndian.PutUint32(h[8:], 0)
	}
	if opts == nil && f.ts && flags&flSYN == 0 {
		var o [12]byte
		o[0], o[1], o[2], o[3] = 1, 1, 8, 10
		binary.BigEndian.PutUint32(o[4:], uint32(g.t.UnixMilli()))
		binary.BigEndian.PutUint32(o[8:], uint32(g.t.UnixMilli())-7)
		h = append(h, o[:]...)
	} else {
		h = append(h, opts...)
	}
	h[12] = byte(len(h)/4) << 4
	h[13] = flags
	win := uint16(2048)
	if flags&flSYN != 0 {
		win = f.c.st.window
	}
	binary.BigEndian.PutUint16(h[14:], win)
	h[16], h[17], h[18], h[19] = 0, 0, 0, 0
	g.buf = appendFrameSum(g.buf[:0], dstMAC, srcMAC, ip, protoTCP, h, payload, psum, 16)
	g.out.write(g.t, g.buf)
	g.st.Packets++
	if len(payload) >= bulkMin {
		g.st.Bulk++
	}
}

func (g *benchGen) udp(f *bflow, fromClient bool, payload []byte) {
	g.tick()
	h := g.l4[:8]
	var ip ipHdr
	var srcMAC, dstMAC MAC
	resolver := officeGateway
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	h[6], h[7] = 0, 0
	if fromClient {
		ip = ipHdr{src: f.c.ip, dst: resolver, ttl: f.c.st.ttl, id: uint16(g.r.Uint32())}
		srcMAC, dstMAC = f.c.mac, officeGatewayMAC
		binary.BigEndian.PutUint16(h[0:], f.cport)
		binary.BigEndian.PutUint16(h[2:], 53)
	} else {
		ip = ipHdr{src: resolver, dst: f.c.ip, ttl: 64, id: uint16(g.r.Uint32())}
		srcMAC, dstMAC = officeGatewayMAC, f.c.mac
		binary.BigEndian.PutUint16(h[0:], 53)
		binary.BigEndian.PutUint16(h[2:], f.cport)
	}
	g.buf = appendFrame(g.buf[:0], dstMAC, srcMAC, ip, protoUDP, h, payload, 6)
	g.out.write(g.t, g.buf)
	g.st.Packets++
	g.st.DNS++
}
