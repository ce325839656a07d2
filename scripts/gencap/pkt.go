package gencap

import (
	"encoding/binary"
	"net/netip"
)

// MAC is an Ethernet address.
type MAC [6]byte

// String formats the address as lowercase colon-separated hex.
func (m MAC) String() string {
	const hx = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hx[x>>4], hx[x&15])
	}
	return string(b)
}

// LocallyAdministered reports whether the U/L bit is set (private, randomised MACs).
func (m MAC) LocallyAdministered() bool { return m[0]&0x02 != 0 }

var broadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// multicastMAC maps an IPv4 or IPv6 multicast group to its Ethernet address.
func multicastMAC(a netip.Addr) MAC {
	if a.Is4() {
		b := a.As4()
		return MAC{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
	}
	b := a.As16()
	return MAC{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

const (
	protoICMPv6 = 58
	protoTCP    = 6
	protoUDP    = 17
)

// TCP flag bits as they sit in byte 13 of the header.
const (
	flFIN = 0x01
	flSYN = 0x02
	flRST = 0x04
	flPSH = 0x08
	flACK = 0x10
	flECE = 0x40
	flCWR = 0x80
)

// ipHdr holds what varies per packet at the IP layer.
type ipHdr struct {
	src, dst netip.Addr
	ttl      uint8
	df       bool
	id       uint16
	tos      uint8
}

func csumAdd(sum uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

// csumAddFast sums 8 bytes at a time; it is what the bench path uses for
// full-size payloads. The result equals csumAdd before folding.
func csumAddFast(sum uint32, b []byte) uint32 {
	var s uint64 = uint64(sum)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v >> 48
		s += (v >> 32) & 0xffff
		s += (v >> 16) & 0xffff
		s += v & 0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>32 != 0 {
		s = (s & 0xffffffff) + (s >> 32)
	}
	return uint32(s&0xffff) + uint32(s>>16)
}

func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func pseudoSum(src, dst netip.Addr, proto uint8, l4len int) uint32 {
	var sum uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = csumAdd(sum, s[:])
		sum = csumAdd(sum, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = csumAdd(sum, s[:])
		sum = csumAdd(sum, d[:])
	}
	sum += uint32(proto) + uint32(l4len)&0xffff + uint32(l4len)>>16
	return sum
}

// appendEth appends an Ethernet II header.
func appendEth(b []byte, dst, src MAC, etherType uint16) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	return binary.BigEndian.AppendUint16(b, etherType)
}

// appendFrame appends Ethernet + IP + the transport header l4 + payload and
// fills the IP and transport checksums. csumOff is the offset of the
// checksum field inside l4 (TCP 16, UDP 6, ICMPv6 2).
func appendFrame(b []byte, dstMAC, srcMAC MAC, ip ipHdr, proto uint8, l4 []byte, payload []byte, csumOff int) []byte {
	return appendFrameSum(b, dstMAC, srcMAC, ip, proto, l4, payload, csumAddFast(0, payload), csumOff)
}

// appendFrameSum is appendFrame with the payload's (unfolded) checksum sum
// supplied by the caller; payload must then start at an even offset of the
// transport segment, which holds because headers have even length.
func appendFrameSum(b []byte, dstMAC, srcMAC MAC, ip ipHdr, proto uint8, l4 []byte, payload []byte, psum uint32, csumOff int) []byte {
	l4len := len(l4) + len(payload)
	if ip.src.Is4() {
		b = appendEth(b, dstMAC, srcMAC, 0x0800)
		h := len(b)
		var flags uint16
		if ip.df {
			flags = 0x4000
		}
		b = append(b, 0x45, ip.tos)
		b = binary.BigEndian.AppendUint16(b, uint16(20+l4len))
		b = binary.BigEndian.AppendUint16(b, ip.id)
		b = binary.BigEndian.AppendUint16(b, flags)
		b = append(b, ip.ttl, proto, 0, 0)
		s, d := ip.src.As4(), ip.dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[h+10:], csumFold(csumAdd(0, b[h:h+20])))
	} else {
		b = appendEth(b, dstMAC, srcMAC, 0x86dd)
		b = append(b, 0x60|ip.tos>>4, ip.tos<<4, byte(ip.id>>8), byte(ip.id)) // flow label from id
		b = binary.BigEndian.AppendUint16(b, uint16(l4len))
		b = append(b, proto, ip.ttl)
		s, d := ip.src.As16(), ip.dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	l4start := len(b)
	b = append(b, l4...)
	b = append(b, payload...)
	sum := pseudoSum(ip.src, ip.dst, proto, l4len)
	sum = csumAdd(sum, b[l4start:l4start+len(l4)])
	c := csumFold(sum + psum&0xffff + psum>>16)
	if c == 0 && proto == protoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[l4start+csumOff:], c)
	return b
}

// tcpHeader returns a TCP header with options (already padded to 4 bytes).
func tcpHeader(sport, dport uint16, seq, ack uint32, flags uint8, window uint16, opts []byte) []byte {
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], window)
	return append(h, opts...)
}

func udpHeader(sport, dport uint16, payloadLen int) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+payloadLen))
	return h
}

// arpFrame builds an ARP request (op 1) or reply (op 2).
func arpFrame(op uint16, dstMAC, srcMAC MAC, senderMAC MAC, senderIP netip.Addr, targetMAC MAC, targetIP netip.Addr) []byte {
	b := make([]byte, 0, 60)
	b = appendEth(b, dstMAC, srcMAC, 0x0806)
	b = append(b, 0, 1, 8, 0, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	s, t := senderIP.As4(), targetIP.As4()
	b = append(b, senderMAC[:]...)
	b = append(b, s[:]...)
	b = append(b, targetMAC[:]...)
	b = append(b, t[:]...)
	for len(b) < 60 { // Ethernet minimum frame without FCS
		b = append(b, 0)
	}
	return b
}
