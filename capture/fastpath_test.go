package capture

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
	"github.com/orchard-nsm/orchard/scripts/gencap"
)

// decodedView is what the engine reads from a decode, as comparable text.
func decodedView(d *decoder, err error) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "has=%+v vlan=%d frag=%v err=%v", d.has, d.vlan, d.fragment, err != nil)
	if d.has.eth {
		fmt.Fprintf(&b, " eth=%x>%x", d.eth.SrcMAC, d.eth.DstMAC)
	}
	if d.has.ip4 {
		ip := &d.ip4
		fmt.Fprintf(&b, " ip4=%x>%x len=%d proto=%d id=%d flags=%d off=%d hdr=%x pay=%x",
			[]byte(ip.SrcIP), []byte(ip.DstIP), ip.Length, ip.Protocol, ip.Id, ip.Flags, ip.FragOffset, ip.Contents, ip.Payload)
	}
	if d.has.ip6 {
		ip := &d.ip6
		fmt.Fprintf(&b, " ip6=%x>%x len=%d next=%d hdr=%x pay=%x",
			[]byte(ip.SrcIP), []byte(ip.DstIP), ip.Length, ip.NextHeader, ip.Contents, ip.Payload)
	}
	if d.has.tcp {
		t := &d.tcp
		fmt.Fprintf(&b, " tcp=%d>%d seq=%d ack=%d off=%d win=%d flags=%v%v%v%v%v%v%v%v%v hdr=%x pay=%x",
			t.SrcPort, t.DstPort, t.Seq, t.Ack, t.DataOffset, t.Window,
			t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG, t.ECE, t.CWR, t.NS, t.Contents, t.Payload)
	}
	if d.has.udp {
		u := &d.udp
		fmt.Fprintf(&b, " udp=%d>%d len=%d hdr=%x pay=%x", u.SrcPort, u.DstPort, u.Length, u.Contents, u.Payload)
	}
	return b.String()
}

// compareDecoders decodes data with the fast path on and off and fails on
// any difference the engine could see. It reports whether the fast path
// took the packet.
func compareDecoders(t testing.TB, fast, slow *decoder, lt layers.LinkType, data []byte, what string) bool {
	t.Helper()
	slow.noFast = true
	errS := slow.decode(lt, data)
	want := decodedView(slow, errS)
	took := lt == layers.LinkTypeEthernet && fast.fastDecode(data)
	errF := fast.decode(lt, data)
	if got := decodedView(fast, errF); got != want {
		t.Fatalf("%s: fast path differs\n fast: %s\n slow: %s", what, got, want)
	}
	return took
}

// readCapture returns every packet of a capture file with its link type.
func readCapture(t testing.TB, src Source) (pkts [][]byte, lts []layers.LinkType) {
	t.Helper()
	for {
		data, info, err := src.ReadPacket()
		if err != nil {
			if err != io.EOF {
				t.Logf("%s: %v", src.Name(), err) // truncated corpus files are expected
			}
			return pkts, lts
		}
		lt := src.LinkType()
		if info.LinkType != 0 {
			lt = info.LinkType
		}
		pkts = append(pkts, bytes.Clone(data))
		lts = append(lts, lt)
	}
}

// TestFastDecodeMatchesGopacket: for every packet of the generated captures
// and of every corpus capture, the fast path and gopacket's parser leave the
// same addresses, ports, flags, sequence numbers, headers and payloads.
func TestFastDecodeMatchesGopacket(t *testing.T) {
	fast, slow := newDecoder(), newDecoder()
	took, total := 0, 0
	gen := map[string]func(io.Writer) error{
		"sample": func(w io.Writer) error { _, err := gencap.Sample(w); return err },
		"office": func(w io.Writer) error {
			_, err := gencap.Bench(w, gencap.BenchOptions{Packets: 20000, Mix: "office", Seed: 1})
			return err
		},
		"handshake": func(w io.Writer) error {
			_, err := gencap.Bench(w, gencap.BenchOptions{Packets: 20000, Mix: "handshake", Seed: 1})
			return err
		},
		"flood": func(w io.Writer) error { _, err := gencap.Flood(w, 5000, 1); return err },
	}
	for name, g := range gen {
		var buf bytes.Buffer
		if err := g(&buf); err != nil {
			t.Fatal(err)
		}
		src, err := NewFileSource(name, &buf)
		if err != nil {
			t.Fatal(err)
		}
		pkts, lts := readCapture(t, src)
		n := 0
		for i := range pkts {
			if compareDecoders(t, fast, slow, lts[i], pkts[i], fmt.Sprintf("%s packet %d", name, i+1)) {
				n++
			}
		}
		if n < len(pkts)/2 {
			t.Errorf("%s: fast path took %d of %d packets", name, n, len(pkts))
		}
	}
	if dir, ok := corpustest.Find(); !ok && os.Getenv("CI") != "true" {
		t.Logf("%s not found: corpus part skipped", dir)
		return
	}
	for _, path := range corpustest.Captures(t) {
		src, err := OpenFile(path)
		if err != nil {
			continue // broken on purpose; the file tests cover these
		}
		pkts, lts := readCapture(t, src)
		src.Close()
		for i := range pkts {
			total++
			if compareDecoders(t, fast, slow, lts[i], pkts[i], fmt.Sprintf("%s packet %d", path, i+1)) {
				took++
			}
		}
	}
	t.Logf("corpus: fast path took %d of %d packets", took, total)
}

// withTags inserts 802.1Q/QinQ tags (TPID, VLAN id) after the MACs.
func withTags(frame []byte, tags ...[2]uint16) []byte {
	out := append([]byte(nil), frame[:12]...)
	for _, tg := range tags {
		out = append(out, byte(tg[0]>>8), byte(tg[0]), byte(tg[1]>>8), byte(tg[1]))
	}
	return append(out, frame[12:]...)
}

// fastFrames are frames of every shape the fast path takes, and a few it
// must decline.
func fastFrames(t testing.TB) [][]byte {
	b := newBuilder(t)
	syn := b.tcp(tcpSeg{syn: true, sport: 50000, dport: 443})
	data := b.tcp(tcpSeg{payload: clientHello(t, "mail.example.com"), sport: 50000, dport: 993})
	dns := b.udp(50000, 53, false, []byte("0123456789abcdef"))
	eth := &layers.Ethernet{SrcMAC: b.srcMAC, DstMAC: b.dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	tcp6 := &layers.TCP{SrcPort: 50001, DstPort: 443, Seq: 7, ACK: true, PSH: true, Window: 100}
	tcp6.SetNetworkLayerForChecksum(ip6)
	v6 := b.serialize(eth, ip6, tcp6, gopacket.Payload("hello over v6"))
	// IPv4 with a record-route option (IHL 8) before TCP.
	opt := append([]byte(nil), data[:14]...)
	ipHdr := append([]byte(nil), data[14:34]...)
	ipHdr[0] = 0x48
	ipHdr[2], ipHdr[3] = byte((len(data)-14+12)>>8), byte(len(data)-14+12)
	opt = append(opt, ipHdr...)
	opt = append(opt, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1) // RR, then NOP
	opt = append(opt, data[34:]...)
	return [][]byte{
		syn, data, dns, v6, opt,
		withTags(data, [2]uint16{0x8100, 42}),
		withTags(v6, [2]uint16{0x88a8, 100}, [2]uint16{0x8100, 42}),
		withTags(dns, [2]uint16{0x8100, 1}, [2]uint16{0x8100, 2}, [2]uint16{0x8100, 3}), // three tags: gopacket's
		b.udp(50000, 4789, false, make([]byte, 60)),                                     // VXLAN port: gopacket's
		append(bytes.Clone(dns), 0, 0, 0, 0, 0, 0),                                      // Ethernet padding
	}
}

// TestFastDecodePrefixes: every prefix of common frames decodes the same
// both ways (the fast path declines or agrees; it never panics).
func TestFastDecodePrefixes(t *testing.T) {
	fast, slow := newDecoder(), newDecoder()
	frames := fastFrames(t)
	for fi, f := range frames {
		if took := compareDecoders(t, fast, slow, layers.LinkTypeEthernet, f, "whole"); took != (fi < 7 || fi == 9) {
			t.Errorf("frame %d: fast path took it: %v", fi, took)
		}
		for n := 0; n <= len(f); n++ {
			compareDecoders(t, fast, slow, layers.LinkTypeEthernet, f[:n], fmt.Sprintf("frame %d prefix %d", fi, n))
		}
	}
}

// TestFastDecodeNoAlloc: the fast path allocates nothing.
func TestFastDecodeNoAlloc(t *testing.T) {
	b := newBuilder(t)
	f := b.tcp(tcpSeg{payload: []byte("hello")})
	d := newDecoder()
	if !d.fastDecode(f) {
		t.Fatal("fast path declined a plain TCP frame")
	}
	if n := testing.AllocsPerRun(1000, func() { d.decode(layers.LinkTypeEthernet, f) }); n != 0 {
		t.Fatalf("%v allocations per decode", n)
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, fr := range fastFrames(f) {
		f.Add(fr)
	}
	fast, slow := newDecoder(), newDecoder()
	f.Fuzz(func(t *testing.T, frame []byte) {
		compareDecoders(t, fast, slow, layers.LinkTypeEthernet, frame, "frame")
	})
}
