package gencap

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// stack is how one operating system's TCP/IP stack shapes its packets.
type stack struct {
	name    string
	ttl     uint8
	window  uint16 // window in the SYN
	wscale  uint8
	mss     uint16
	layout  synLayout
	ecnSYN  bool // ECE+CWR in the SYN (Apple)
	ipidInc bool // incrementing IP ID (Windows); otherwise random
}

type synLayout int

const (
	layoutApple   synLayout = iota // MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL,EOL
	layoutWindows                  // MSS,NOP,WS,NOP,NOP,SACK_PERM
	layoutLinux                    // MSS,SACK_PERM,TS,NOP,WS
)

var (
	stackApple   = &stack{name: "apple", ttl: 64, window: 65535, wscale: 6, mss: 1460, layout: layoutApple, ecnSYN: true}
	stackWindows = &stack{name: "windows", ttl: 128, window: 64240, wscale: 8, mss: 1460, layout: layoutWindows, ipidInc: true}
	stackAndroid = &stack{name: "android", ttl: 64, window: 65535, wscale: 9, mss: 1460, layout: layoutLinux}
	stackLinux   = &stack{name: "linux", ttl: 64, window: 64240, wscale: 7, mss: 1460, layout: layoutLinux}
	// Remote servers as seen from the LAN side of the gateway: initial TTL
	// minus the hops on the way.
	stackServerLinux = &stack{name: "server-linux", ttl: 64 - 11, window: 65160, wscale: 7, mss: 1460, layout: layoutLinux}
	stackServerMS    = &stack{name: "server-ms", ttl: 128 - 14, window: 65535, wscale: 8, mss: 1440, layout: layoutWindows}
	stackServerApple = &stack{name: "server-apple", ttl: 64 - 9, window: 65535, wscale: 6, mss: 1460, layout: layoutLinux}
	stackServerLAN   = &stack{name: "server-lan", ttl: 64, window: 65160, wscale: 7, mss: 1460, layout: layoutLinux}
)

func (s *stack) hasTS() bool { return s.layout != layoutWindows }

func tsOpt(b []byte, val, ecr uint32) []byte {
	b = append(b, 8, 10)
	b = binary.BigEndian.AppendUint32(b, val)
	return binary.BigEndian.AppendUint32(b, ecr)
}

// synOptions returns the options of a SYN in this stack's layout.
func (s *stack) synOptions(tsval uint32) []byte {
	b := make([]byte, 0, 24)
	b = append(b, 2, 4, byte(s.mss>>8), byte(s.mss))
	switch s.layout {
	case layoutApple:
		b = append(b, 1, 3, 3, s.wscale, 1, 1)
		b = tsOpt(b, tsval, 0)
		b = append(b, 4, 2, 0, 0)
	case layoutWindows:
		b = append(b, 1, 3, 3, s.wscale, 1, 1, 4, 2)
	case layoutLinux:
		b = append(b, 4, 2)
		b = tsOpt(b, tsval, 0)
		b = append(b, 1, 3, 3, s.wscale)
	}
	return b
}

// synAckOptions is what a server stack answers; it only echoes the
// timestamp when the client offered one.
func (s *stack) synAckOptions(tsval, tsecr uint32, clientTS bool) []byte {
	b := make([]byte, 0, 24)
	b = append(b, 2, 4, byte(s.mss>>8), byte(s.mss))
	if clientTS && s.hasTS() {
		b = append(b, 4, 2)
		b = tsOpt(b, tsval, tsecr)
		b = append(b, 1, 3, 3, s.wscale)
		return b
	}
	return append(b, 1, 3, 3, s.wscale, 1, 1, 4, 2)
}

// node is one network interface: its MAC, stack and counters.
type node struct {
	mac    MAC
	st     *stack
	ipid   uint16
	tsBase uint32
}

func (n *node) nextID(r rng) uint16 {
	if n.st.ipidInc {
		n.ipid++
		return n.ipid
	}
	return uint16(r.Uint32())
}

func (n *node) tsval(t time.Time) uint32 {
	return n.tsBase + uint32(t.Sub(StartTime)/time.Millisecond)
}

// flow is one TCP connection seen at the gateway. The client is on the LAN;
// the server's frames come from the gateway's MAC.
type flow struct {
	w          *world
	cli, srv   *node
	cliIP      netip.Addr
	srvIP      netip.Addr
	cport      uint16
	sport      uint16
	cliL2      MAC // destination MAC for client frames (gateway)
	cseq, sseq uint32
	ts         bool
	t          time.Time
	rtt        time.Duration
	bytesC     int
	bytesS     int
	ackEvery   int
}

func (w *world) newFlow(t time.Time, cli *node, cliIP netip.Addr, srv *node, srvIP netip.Addr, sport uint16) *flow {
	return &flow{
		w: w, cli: cli, srv: srv, cliIP: cliIP, srvIP: srvIP,
		cport: uint16(w.r.between(49152, 65500)), sport: sport,
		cliL2: w.gwMAC, cseq: w.r.Uint32(), sseq: w.r.Uint32(), t: t,
		rtt: w.r.dur(4*time.Millisecond, 40*time.Millisecond), ackEvery: 2,
	}
}

func (f *flow) pkt(fromClient bool, flags uint8, opts []byte, payload []byte) {
	var (
		src, dst       *node
		sip, dip       netip.Addr
		sp, dp         uint16
		seq, ack       uint32
		srcMAC, dstMAC MAC
	)
	if fromClient {
		src, dst, sip, dip, sp, dp = f.cli, f.srv, f.cliIP, f.srvIP, f.cport, f.sport
		seq, ack = f.cseq, f.sseq
		srcMAC, dstMAC = f.cli.mac, f.cliL2
	} else {
		src, dst, sip, dip, sp, dp = f.srv, f.cli, f.srvIP, f.cliIP, f.sport, f.cport
		seq, ack = f.sseq, f.cseq
		srcMAC, dstMAC = f.cliL2, f.cli.mac
	}
	if flags&flACK == 0 {
		ack = 0
	}
	if opts == nil && f.ts && flags&flSYN == 0 {
		opts = tsOpt([]byte{1, 1}, src.tsval(f.t), dst.tsval(f.t.Add(-f.rtt/2)))
	}
	win := uint16(2048)
	if flags&flSYN != 0 {
		win = src.st.window
	} else if src.st.layout == layoutWindows {
		win = 1026 // 262,656 bytes with wscale 8
	}
	ip := ipHdr{src: sip, dst: dip, ttl: src.st.ttl, df: true, id: src.nextID(f.w.r)}
	if flags&flSYN != 0 && fromClient {
		ip.id = 0
		if src.st.layout != layoutApple {
			ip.id = src.nextID(f.w.r)
		}
	}
	h := tcpHeader(sp, dp, seq, ack, flags, win, opts)
	f.w.emit(f.t, appendFrame(nil, dstMAC, srcMAC, ip, protoTCP, h, payload, 16))
	n := uint32(len(payload))
	if flags&(flSYN|flFIN) != 0 {
		n++
	}
	if fromClient {
		f.cseq += n
		f.bytesC += len(payload)
	} else {
		f.sseq += n
		f.bytesS += len(payload)
	}
}

// open performs the three-way handshake.
func (f *flow) open() {
	synFlags := uint8(flSYN)
	if f.cli.st.ecnSYN {
		synFlags |= flECE | flCWR
	}
	f.pkt(true, synFlags, f.cli.st.synOptions(f.cli.tsval(f.t)), nil)
	f.ts = f.cli.st.hasTS() && f.srv.st.hasTS()
	f.t = f.t.Add(f.rtt)
	f.pkt(false, flSYN|flACK, f.srv.st.synAckOptions(f.srv.tsval(f.t), f.cli.tsval(f.t.Add(-f.rtt)), f.cli.st.hasTS()), nil)
	f.t = f.t.Add(f.w.r.dur(50*time.Microsecond, 400*time.Microsecond))
	f.pkt(true, flACK, nil, nil)
}

func (f *flow) mssOf(fromClient bool) int {
	m := int(min(f.cli.st.mss, f.srv.st.mss))
	if f.ts {
		m -= 12
	}
	return m
}

// send transmits data as full-size segments, the receiver acknowledging
// every ackEvery segments and the last one.
func (f *flow) send(fromClient bool, data []byte) {
	mss := f.mssOf(fromClient)
	seg := 0
	for off := 0; off < len(data); off += mss {
		end := min(off+mss, len(data))
		flags := uint8(flACK)
		if end == len(data) {
			flags |= flPSH
		}
		f.pkt(fromClient, flags, nil, data[off:end])
		seg++
		f.t = f.t.Add(f.w.r.dur(20*time.Microsecond, 200*time.Microsecond))
		if seg%f.ackEvery == 0 || end == len(data) {
			if end == len(data) {
				f.t = f.t.Add(f.rtt / 2)
			}
			f.pkt(!fromClient, flACK, nil, nil)
			f.t = f.t.Add(f.w.r.dur(10*time.Microsecond, 100*time.Microsecond))
		}
	}
	f.t = f.t.Add(f.rtt / 2)
}

// exchange is one request/response turn.
func (f *flow) exchange(req, resp []byte) {
	if len(req) > 0 {
		f.send(true, req)
	}
	if len(resp) > 0 {
		f.send(false, resp)
	}
}

// close ends the connection with FIN from the client (or server).
func (f *flow) close(clientFirst bool) {
	f.pkt(clientFirst, flFIN|flACK, nil, nil)
	f.t = f.t.Add(f.rtt)
	f.pkt(!clientFirst, flFIN|flACK, nil, nil)
	f.t = f.t.Add(f.w.r.dur(50*time.Microsecond, 300*time.Microsecond))
	f.pkt(clientFirst, flACK, nil, nil)
}

// reset aborts the connection, as clients do when an app is suspended.
func (f *flow) reset(fromClient bool) {
	f.pkt(fromClient, flRST|flACK, nil, nil)
}
