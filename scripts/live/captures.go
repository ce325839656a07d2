package livetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/orchard-nsm/orchard/scripts/gencap"
)

// Mix counts the packets of a capture BulkHeavy wrote.
type Mix struct {
	Packets int
	Bulk    int // TCP segments with at least 1000 payload bytes
}

// BulkHeavy writes to path the gencap.Bench office mix of about packets
// packets with every bulk download stretched: after each server-to-client
// segment of at least 1000 payload bytes come stretch more segments
// continuing the stream (sequence numbers of the rest of the flow and the
// client's acknowledgements are shifted to match, checksums recomputed).
// Bench's flows carry tens of kilobytes; stretching makes them the
// megabyte downloads a gateway mostly carries, at least 90% of packets bulk.
func BulkHeavy(path string, packets, stretch int, seed uint64) (Mix, error) {
	var raw bytes.Buffer
	if _, err := gencap.Bench(&raw, gencap.BenchOptions{Packets: packets, Mix: "office", Seed: seed}); err != nil {
		return Mix{}, err
	}
	r, err := pcapgo.NewReader(&raw)
	if err != nil {
		return Mix{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return Mix{}, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	defer bw.Flush()
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, r.LinkType()); err != nil {
		return Mix{}, err
	}
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		payload gopacket.Payload
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp, &udp, &payload)
	p.IgnoreUnsupported = true
	type fkey struct {
		a, b   string
		ap, bp layers.TCPPort
	}
	shift := map[fkey]uint32{} // bytes inserted into the server's stream
	sbuf := gopacket.NewSerializeBuffer()
	var m Mix
	write := func(ci gopacket.CaptureInfo, b []byte) error {
		ci.CaptureLength, ci.Length = len(b), len(b)
		m.Packets++
		return w.WritePacket(ci, b)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		_ = p.DecodeLayers(data, &decoded)
		var net gopacket.SerializableLayer
		isTCP := false
		for _, l := range decoded {
			switch l {
			case layers.LayerTypeTCP:
				isTCP = true
			case layers.LayerTypeIPv4:
				net = &ip4
			case layers.LayerTypeIPv6:
				net = &ip6
			}
		}
		if !isTCP || net == nil {
			if err := write(ci, data); err != nil {
				return m, err
			}
			continue
		}
		var src, dst string
		if net == &ip4 {
			src, dst = ip4.SrcIP.String(), ip4.DstIP.String()
			tcp.SetNetworkLayerForChecksum(&ip4)
		} else {
			src, dst = ip6.SrcIP.String(), ip6.DstIP.String()
			tcp.SetNetworkLayerForChecksum(&ip6)
		}
		fromServer := tcp.SrcPort < tcp.DstPort
		k := fkey{src, dst, tcp.SrcPort, tcp.DstPort}
		if fromServer {
			k = fkey{dst, src, tcp.DstPort, tcp.SrcPort}
		}
		off := shift[k]
		pl := append([]byte(nil), tcp.Payload...)
		bulk := len(pl) >= 1000
		if off == 0 && !(bulk && fromServer && stretch > 0) {
			if bulk {
				m.Bulk++
			}
			if err := write(ci, data); err != nil {
				return m, err
			}
			continue
		}
		emit := func(seq uint32) error {
			tcp.Seq = seq
			if err := gopacket.SerializeLayers(sbuf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				&eth, net, &tcp, gopacket.Payload(pl)); err != nil {
				return err
			}
			if len(pl) >= 1000 {
				m.Bulk++
			}
			return write(ci, sbuf.Bytes())
		}
		if fromServer {
			seq := tcp.Seq + off
			if err := emit(seq); err != nil {
				return m, err
			}
			if bulk && !tcp.SYN && !tcp.FIN && !tcp.RST {
				for i := 1; i <= stretch; i++ {
					if err := emit(seq + uint32(i*len(pl))); err != nil {
						return m, err
					}
				}
				shift[k] = off + uint32(stretch*len(pl))
			}
		} else {
			if tcp.ACK {
				tcp.Ack += off
			}
			if err := emit(tcp.Seq); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// Office writes gencap.Office's capture to path.
func Office(path string, seed uint64) (*gencap.Labels, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := gencap.Office(f, gencap.OfficeOptions{Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("gencap.Office: %w", err)
	}
	return l, nil
}
