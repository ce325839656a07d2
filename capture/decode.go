package capture

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder decodes one packet in place with gopacket's DecodingLayerParser:
// preallocated layers, decoded[:0] reused, no allocation per packet.
// Tunnels (GRE, ERSPAN II, VXLAN, Geneve, GTP-U) are followed; since each layer type
// has one instance, the innermost IP and transport headers win, which is
// what a sensor behind a mirror port wants.
type decoder struct {
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	sll    layers.LinuxSLL
	sll2   layers.LinuxSLL2
	loop   layers.Loopback
	ip4    layers.IPv4
	ip6    layers.IPv6
	ip6ext layers.IPv6ExtensionSkipper
	tcp    layers.TCP
	udp    layers.UDP
	arp    layers.ARP
	icmp6  layers.ICMPv6
	ns     layers.ICMPv6NeighborSolicitation
	na     layers.ICMPv6NeighborAdvertisement
	gre    layers.GRE
	erspan layers.ERSPANII
	vxlan  layers.VXLAN
	geneve layers.Geneve
	gtp    layers.GTPv1U
	pppoe  pppoeSession

	// parsers holds one parser per first layer type, found by a scan
	// (six entries, Ethernet first) rather than a map lookup per packet.
	parsers []firstParser
	types   []gopacket.LayerType
	// ports tells the fast path which transport ports gopacket would
	// decode past (tunnels), from the layers above.
	ports *portClasses
	// noFast turns the hand-written fast path off (tests compare the two).
	noFast bool

	// Results of the last decode.
	has struct {
		eth, sll, ip4, ip6, tcp, udp, arp, ns, na, vlan bool
	}
	vlan     uint16
	fragment bool // IP fragment other than a complete datagram: no transport header to trust
}

type firstParser struct {
	first gopacket.LayerType
	p     *gopacket.DecodingLayerParser
}

func newDecoder() *decoder {
	d := &decoder{types: make([]gopacket.LayerType, 0, 16)}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.ip6ext,
		&d.tcp, &d.udp, &d.arp, &d.icmp6, &d.ns, &d.na, &d.gre, &d.erspan, &d.vxlan, &d.geneve, &d.gtp, &d.pppoe}
	// The layers in a slice indexed by layer type (gopacket's sparse
	// container) instead of the default map: the parser looks one up per
	// decoded layer, three or four per packet.
	var layersByType gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, l := range all {
		layersByType = layersByType.Put(l)
	}
	d.ports = portClassesFor(layersByType)
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL,
		layers.LayerTypeLinuxSLL2, layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6} {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(layersByType)
		p.IgnoreUnsupported = true
		d.parsers = append(d.parsers, firstParser{first, p})
	}
	// Payloads are inspected from the transport layer's Payload; telling
	// the TCP layer not to copy options keeps decoding allocation-free.
	return d
}

// firstLayer maps a link type (and, for raw IP, the version nibble) to the
// first layer to decode.
func firstLayer(lt layers.LinkType, data []byte) gopacket.LayerType {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	case layers.LinkTypeRaw, 12:
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6
		}
		return layers.LayerTypeIPv4
	}
	return gopacket.LayerTypeZero
}

// decode decodes data. It returns false (and the error) when the packet has
// no usable network layer; a decoding error deeper in the packet still leaves
// the layers decoded before it usable.
func (d *decoder) decode(lt layers.LinkType, data []byte) error {
	d.has = struct{ eth, sll, ip4, ip6, tcp, udp, arp, ns, na, vlan bool }{}
	d.vlan = 0
	d.fragment = false
	if lt == layers.LinkTypeEthernet && !d.noFast && d.fastDecode(data) {
		return nil
	}
	first := firstLayer(lt, data)
	var p *gopacket.DecodingLayerParser
	for i := range d.parsers {
		if d.parsers[i].first == first {
			p = d.parsers[i].p
			break
		}
	}
	if p == nil {
		return errUnknownLink
	}
	err := p.DecodeLayers(data, &d.types)
	for _, t := range d.types {
		switch t {
		case layers.LayerTypeEthernet:
			d.has.eth = true
			// The Dot1Q layer is reused for stacked tags, so read the
			// outer tag from the Ethernet payload itself.
			if et := d.eth.EthernetType; (et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ) && len(d.eth.Payload) >= 2 {
				d.has.vlan = true
				d.vlan = binary.BigEndian.Uint16(d.eth.Payload) & 0x0fff
			}
		case layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2:
			d.has.sll = true
		case layers.LayerTypeDot1Q:
			if !d.has.vlan {
				d.has.vlan = true
				d.vlan = d.dot1q.VLANIdentifier
			}
		case layers.LayerTypeIPv4:
			d.has.ip4, d.has.ip6 = true, false
			d.has.tcp, d.has.udp = false, false
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				d.fragment = true
			}
		case layers.LayerTypeIPv6:
			d.has.ip6, d.has.ip4 = true, false
			d.has.tcp, d.has.udp = false, false
			if isIPv6Ext(d.ip6.NextHeader) && ipv6Fragmented(d.ip6.NextHeader, d.ip6.Payload) {
				d.fragment = true
			}
		case layers.LayerTypeTCP:
			d.has.tcp = !d.fragment
		case layers.LayerTypeUDP:
			d.has.udp = !d.fragment
		case layers.LayerTypeARP:
			d.has.arp = true
		case layers.LayerTypeICMPv6NeighborSolicitation:
			d.has.ns = true
		case layers.LayerTypeICMPv6NeighborAdvertisement:
			d.has.na = true
		}
	}
	return err
}

func isIPv6Ext(p layers.IPProtocol) bool {
	switch p {
	case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Fragment, layers.IPProtocolIPv6Destination:
		return true
	}
	return false
}

// ipv6Fragmented walks the extension header chain and reports whether a
// fragment header says this is a fragment (offset != 0 or more fragments).
func ipv6Fragmented(next layers.IPProtocol, b []byte) bool {
	for i := 0; i < 8 && isIPv6Ext(next); i++ {
		if len(b) < 8 {
			return true // cannot trust what follows
		}
		if next == layers.IPProtocolIPv6Fragment {
			off := binary.BigEndian.Uint16(b[2:4])
			return off&0xfff9 != 0 // offset bits or M flag
		}
		n := int(b[1])*8 + 8
		if n > len(b) {
			return true
		}
		next = layers.IPProtocol(b[0])
		b = b[n:]
	}
	return false
}
