package dnsmsg

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
)

// l4Payload is one UDP datagram or TCP segment payload, after IP
// reassembly, with the 1-based number of the frame that completed it.
type l4Payload struct {
	frame            int
	tcp              bool
	src, dst         string // addresses, for keying TCP streams
	srcPort, dstPort uint16
	payload          []byte
}

// readL4 decodes every packet of a pcap or pcapng file with gopacket,
// reassembling IPv4 and IPv6 fragments the way tshark does (the payload is
// attributed to the frame that completed it).
func readL4(t testing.TB, path string) []l4Payload {
	t.Helper()
	d4 := ip4defrag.NewIPv4Defragmenter()
	d6 := ip6defrag.NewIPv6Defragmenter()
	var out []l4Payload
	for frame, pkt := range corpustest.Packets(t, path) {
		ci := pkt.Metadata().CaptureInfo
		var next gopacket.Packet
		var src, dst string
		if l := pkt.Layer(layers.LayerTypeIPv4); l != nil {
			ip := l.(*layers.IPv4)
			src, dst = ip.SrcIP.String(), ip.DstIP.String()
			whole, err := d4.DefragIPv4WithTimestamp(ip, ci.Timestamp)
			if err != nil || whole == nil {
				continue
			}
			if whole != ip {
				next = gopacket.NewPacket(whole.Payload, whole.NextLayerType(), gopacket.Default)
			}
		} else if l := pkt.Layer(layers.LayerTypeIPv6); l != nil {
			ip := l.(*layers.IPv6)
			src, dst = ip.SrcIP.String(), ip.DstIP.String()
			if fl := pkt.Layer(layers.LayerTypeIPv6Fragment); fl != nil {
				whole := d6.DefragIPv6(ip, fl.(*layers.IPv6Fragment))
				if whole == nil {
					continue
				}
				next = gopacket.NewPacket(whole.Payload, fl.(*layers.IPv6Fragment).NextHeader.LayerType(), gopacket.Default)
			}
		}
		if next != nil {
			pkt = next
		}
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil {
			u := l.(*layers.UDP)
			out = append(out, l4Payload{frame: frame, src: src, dst: dst, srcPort: uint16(u.SrcPort), dstPort: uint16(u.DstPort), payload: u.Payload})
		} else if l := pkt.Layer(layers.LayerTypeTCP); l != nil {
			tc := l.(*layers.TCP)
			out = append(out, l4Payload{frame: frame, tcp: true, src: src, dst: dst, srcPort: uint16(tc.SrcPort), dstPort: uint16(tc.DstPort), payload: tc.Payload})
		}
	}
	return out
}
