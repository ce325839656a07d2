package capture

import (
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// collect is a sink that keeps every observation.
type collect struct{ obs []*observe.Observation }

func (c *collect) Observe(o *observe.Observation) { c.obs = append(c.obs, o) }

func (c *collect) kind(k observe.Kind) []*observe.Observation {
	var out []*observe.Observation
	for _, o := range c.obs {
		if o.Kind == k {
			out = append(out, o)
		}
	}
	return out
}

// clientHello returns the first flight a Go TLS client writes for sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		cl := tls.Client(c, &tls.Config{ServerName: sni, NextProtos: []string{"h2", "http/1.1"}})
		cl.SetDeadline(time.Now().Add(5 * time.Second))
		cl.Handshake()
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := s.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// pktBuilder builds Ethernet/IPv4/TCP|UDP frames for engine tests.
type pktBuilder struct {
	t        testing.TB
	srcMAC   net.HardwareAddr
	dstMAC   net.HardwareAddr
	src, dst netip.Addr
	ts       time.Time
}

func newBuilder(t testing.TB) *pktBuilder {
	return &pktBuilder{
		t:      t,
		srcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		dstMAC: net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
		src:    netip.MustParseAddr("10.0.0.2"),
		dst:    netip.MustParseAddr("192.0.2.10"),
		ts:     time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC),
	}
}

type tcpSeg struct {
	reverse             bool // server to client
	sport, dport        uint16
	seq, ack            uint32
	syn, ackf, fin, rst bool
	ece, cwr            bool
	payload             []byte
}

func (b *pktBuilder) tcp(s tcpSeg) []byte {
	eth := &layers.Ethernet{SrcMAC: b.srcMAC, DstMAC: b.dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: b.src.AsSlice(), DstIP: b.dst.AsSlice(), Flags: layers.IPv4DontFragment}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Ack: s.ack,
		SYN: s.syn, ACK: s.ackf, FIN: s.fin, RST: s.rst, ECE: s.ece, CWR: s.cwr, Window: 65535}
	if s.reverse {
		eth.SrcMAC, eth.DstMAC = eth.DstMAC, eth.SrcMAC
		ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
		tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
	}
	if s.syn {
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{6}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindEndList},
		}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	return b.serialize(eth, ip, tcp, gopacket.Payload(s.payload))
}

func (b *pktBuilder) udp(sport, dport uint16, reverse bool, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: b.srcMAC, DstMAC: b.dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: b.src.AsSlice(), DstIP: b.dst.AsSlice()}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if reverse {
		eth.SrcMAC, eth.DstMAC = eth.DstMAC, eth.SrcMAC
		ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
		u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
	}
	u.SetNetworkLayerForChecksum(ip)
	return b.serialize(eth, ip, u, gopacket.Payload(payload))
}

func (b *pktBuilder) serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		b.t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// feed runs frames through a fresh engine and returns what it observed.
func feed(t testing.TB, frames ...[]byte) (*collect, *Engine) {
	c := &collect{}
	e := NewEngine(Config{}, c)
	e.SetSource("test")
	ts := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for i, f := range frames {
		e.Packet(f, PacketInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}, layers.LinkTypeEthernet)
	}
	e.Flush()
	return c, e
}
