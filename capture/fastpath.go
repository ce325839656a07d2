package capture

import (
	"encoding/binary"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fastDecode decodes the common case by hand: Ethernet, at most two
// 802.1Q/QinQ tags, IPv4 (not a fragment; options allowed) or IPv6 (no
// extension headers), then TCP or UDP. It fills the same gopacket layer
// structs (and d.has, d.vlan) that the DecodingLayerParser would, with the
// same values, and reports true; anything else (other EtherTypes, tunnels,
// fragments, lengths gopacket would reject or treat specially) reports
// false, leaving d.has untouched (layer structs may be partly written; d.has
// says which are valid), and the caller decodes the packet with gopacket. Each check mirrors one in gopacket's
// DecodeFromBytes, so a packet is accepted here only if gopacket would
// decode it without error to the same layers; the differential test and
// FuzzFastDecode hold the two paths to that.
func (d *decoder) fastDecode(data []byte) bool {
	if len(data) < 14 {
		return false
	}
	et := binary.BigEndian.Uint16(data[12:14])
	p := data[14:]
	var vlan uint16
	hasVLAN := false
	for tags := 0; et == uint16(layers.EthernetTypeDot1Q) || et == uint16(layers.EthernetTypeQinQ); tags++ {
		if tags == 2 || len(p) < 4 {
			return false
		}
		if !hasVLAN {
			hasVLAN, vlan = true, binary.BigEndian.Uint16(p)&0x0fff
		}
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	var l4 []byte
	var proto uint8
	switch layers.EthernetType(et) {
	case layers.EthernetTypeIPv4:
		if len(p) < 20 {
			return false
		}
		ihl := int(p[0] & 0x0f)
		length := int(binary.BigEndian.Uint16(p[2:4]))
		// Length 0 (TSO) and short lengths are gopacket's to handle.
		if length < 20 || ihl < 5 || ihl*4 > length {
			return false
		}
		if len(p) > length {
			p = p[:length] // Ethernet padding
		} else if ihl*4 > len(p) {
			return false
		}
		if ihl > 5 && !ip4OptionsOK(p[20:ihl*4]) {
			return false
		}
		ff := binary.BigEndian.Uint16(p[6:8])
		if ff&0x3fff != 0 { // more fragments or an offset
			return false
		}
		proto = p[9]
		if proto != 6 && proto != 17 {
			return false
		}
		ip := &d.ip4
		ip.Version = p[0] >> 4
		ip.IHL = uint8(ihl)
		ip.TOS = p[1]
		ip.Length = uint16(length)
		ip.Id = binary.BigEndian.Uint16(p[4:6])
		ip.Flags = layers.IPv4Flag(ff >> 13)
		ip.FragOffset = 0
		ip.TTL = p[8]
		ip.Protocol = layers.IPProtocol(proto)
		ip.Checksum = binary.BigEndian.Uint16(p[10:12])
		ip.SrcIP = p[12:16]
		ip.DstIP = p[16:20]
		ip.Contents = p[:ihl*4]
		ip.Payload = p[ihl*4:]
		l4 = ip.Payload
	case layers.EthernetTypeIPv6:
		if len(p) < 40 {
			return false
		}
		length := int(binary.BigEndian.Uint16(p[4:6]))
		proto = p[6]
		// Extension headers and jumbograms are gopacket's.
		if length == 0 || (proto != 6 && proto != 17) {
			return false
		}
		ip := &d.ip6
		ip.Version = p[0] >> 4
		ip.TrafficClass = uint8((binary.BigEndian.Uint16(p[0:2]) >> 4) & 0x00ff)
		ip.FlowLabel = binary.BigEndian.Uint32(p[0:4]) & 0x000fffff
		ip.Length = uint16(length)
		ip.NextHeader = layers.IPProtocol(proto)
		ip.HopLimit = p[7]
		ip.SrcIP = p[8:24]
		ip.DstIP = p[24:40]
		ip.HopByHop = nil
		ip.Contents = p[:40]
		ip.Payload = p[40:min(40+length, len(p))]
		l4 = ip.Payload
	default:
		return false
	}
	if proto == 6 {
		if len(l4) < 20 {
			return false
		}
		off := int(l4[12] >> 4)
		if off < 5 || off*4 > len(l4) {
			return false
		}
		t := &d.tcp
		t.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(l4[0:2]))
		t.DstPort = layers.TCPPort(binary.BigEndian.Uint16(l4[2:4]))
		// A port gopacket maps to a layer this decoder holds would make
		// it decode further (none today; kept honest for the future).
		if d.ports.follows(0, uint16(t.SrcPort), uint16(t.DstPort)) {
			return false
		}
		t.Seq = binary.BigEndian.Uint32(l4[4:8])
		t.Ack = binary.BigEndian.Uint32(l4[8:12])
		t.DataOffset = uint8(off)
		fl := l4[13]
		t.FIN = fl&0x01 != 0
		t.SYN = fl&0x02 != 0
		t.RST = fl&0x04 != 0
		t.PSH = fl&0x08 != 0
		t.ACK = fl&0x10 != 0
		t.URG = fl&0x20 != 0
		t.ECE = fl&0x40 != 0
		t.CWR = fl&0x80 != 0
		t.NS = l4[12]&0x01 != 0
		t.Window = binary.BigEndian.Uint16(l4[14:16])
		t.Checksum = binary.BigEndian.Uint16(l4[16:18])
		t.Urgent = binary.BigEndian.Uint16(l4[18:20])
		// Options are not parsed: the engine reads them raw from
		// Contents (tcpfp), never from t.Options.
		t.Options = t.Options[:0]
		t.Padding = t.Padding[:0]
		t.Contents = l4[:off*4]
		t.Payload = l4[off*4:]
	} else {
		if len(l4) < 8 {
			return false
		}
		ulen := int(binary.BigEndian.Uint16(l4[4:6]))
		if ulen != 0 && ulen < 8 {
			return false
		}
		u := &d.udp
		u.SrcPort = layers.UDPPort(binary.BigEndian.Uint16(l4[0:2]))
		u.DstPort = layers.UDPPort(binary.BigEndian.Uint16(l4[2:4]))
		u.Length = uint16(ulen)
		u.Checksum = binary.BigEndian.Uint16(l4[6:8])
		u.Contents = l4[:8]
		if ulen == 0 {
			u.Payload = l4[8:]
		} else {
			u.Payload = l4[8:min(ulen, len(l4))]
		}
		// VXLAN, Geneve and GTP-U ports: the tunnel's inner packet is
		// what the gopacket path decodes.
		if d.ports.follows(1, uint16(u.SrcPort), uint16(u.DstPort)) {
			return false
		}
	}
	d.eth.DstMAC = data[0:6]
	d.eth.SrcMAC = data[6:12]
	d.eth.EthernetType = layers.EthernetType(binary.BigEndian.Uint16(data[12:14]))
	d.eth.Length = 0
	d.eth.Contents = data[:14]
	d.eth.Payload = data[14:]
	d.has.eth = true
	d.has.vlan, d.vlan = hasVLAN, vlan
	if proto == 6 {
		d.has.tcp = true
	} else {
		d.has.udp = true
	}
	if et == uint16(layers.EthernetTypeIPv4) {
		d.has.ip4 = true
	} else {
		d.has.ip6 = true
	}
	return true
}

// portClasses says, per transport (0 TCP, 1 UDP) and port, what gopacket's
// NextLayerType makes of the port: portPayload (nothing: the other port is
// asked), portOther (a layer the decoder does not hold: decoding stops) or
// portFollow (a layer it holds, such as VXLAN: the packet is gopacket's).
// Asking gopacket per packet cost a third of the fast path.
type portClasses struct {
	class [2][65536]uint8
	// any says whether any port of the transport has class portFollow:
	// none of TCP's does today, and skipping the lookup saves a likely
	// cache miss (a 64 KiB table, random ephemeral ports) per packet.
	any [2]bool
}

const (
	portPayload = iota
	portOther
	portFollow
)

// sharedPorts is computed once (0.7 ms, 128 KiB): every decoder holds the
// same layers, and gopacket's port tables are fixed after init.
var (
	sharedPortsOnce sync.Once
	sharedPorts     *portClasses
)

func portClassesFor(c gopacket.DecodingLayerContainer) *portClasses {
	sharedPortsOnce.Do(func() { sharedPorts = newPortClasses(c) })
	return sharedPorts
}

func newPortClasses(c gopacket.DecodingLayerContainer) *portClasses {
	pc := new(portClasses)
	class := func(lt gopacket.LayerType) uint8 {
		if lt == gopacket.LayerTypePayload {
			return portPayload
		}
		// GUE's variant depends on the payload: leave its port to gopacket.
		if _, ok := c.Decoder(lt); ok || lt == layers.LayerTypeAGUEVar0 || lt == layers.LayerTypeAGUEVar1 {
			return portFollow
		}
		return portOther
	}
	for p := 0; p < 65536; p++ {
		pc.class[0][p] = class(layers.TCPPort(p).LayerType())
		pc.class[1][p] = class(layers.UDPPort(p).LayerType())
		for tr := range pc.any {
			pc.any[tr] = pc.any[tr] || pc.class[tr][p] == portFollow
		}
	}
	return pc
}

// follows reports whether gopacket would decode past the transport header:
// NextLayerType asks the destination port, then the source port.
func (pc *portClasses) follows(tr int, src, dst uint16) bool {
	if !pc.any[tr] {
		return false
	}
	c := pc.class[tr][dst]
	if c == portPayload {
		c = pc.class[tr][src]
	}
	return c == portFollow
}

// ip4OptionsOK reports whether gopacket's IPv4 option walk accepts opts.
func ip4OptionsOK(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // end of options
			return true
		case 1: // no-op
			opts = opts[1:]
		default:
			if len(opts) < 2 || int(opts[1]) > len(opts) || opts[1] < 2 {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}
