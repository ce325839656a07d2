package gencap

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// dhcpStyle is one client implementation's DHCPv4 behaviour.
type dhcpStyle struct {
	prl          []byte // option 55, in the client's order
	discoverOpts []byte // option codes in the order the client writes them
	requestOpts  []byte
	vendorClass  string
	maxSize      uint16
	leaseAsk     uint32
	ttl          uint8
	broadcast    bool
}

// Option lists and option orders. Apple's order (53,55,57,61,[50,54,]51?,12)
// follows the satori iOS/iPadOS rows; satori has no rows for iOS 14+, whose
// parameter request list added 108 (IPv6-only preferred) and 114 (captive
// portal URI) — those lists follow fingerbank's current Apple entries.
var (
	dhcpIOS = dhcpStyle{
		prl:          []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46},
		discoverOpts: []byte{53, 55, 57, 61, 51, 12},
		requestOpts:  []byte{53, 55, 57, 61, 50, 54, 12},
		maxSize:      1500, leaseAsk: 7776000, ttl: 255,
	}
	dhcpMacOS = dhcpStyle{
		prl:          []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46, 101},
		discoverOpts: []byte{53, 55, 57, 61, 51, 12},
		requestOpts:  []byte{53, 55, 57, 61, 50, 54, 12},
		maxSize:      1500, leaseAsk: 7776000, ttl: 255,
	}
	dhcpWindows = dhcpStyle{
		prl:          []byte{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252},
		discoverOpts: []byte{53, 61, 50, 12, 60, 55},
		requestOpts:  []byte{53, 61, 50, 54, 12, 81, 60, 55},
		vendorClass:  "MSFT 5.0", ttl: 128,
	}
	dhcpAndroid = dhcpStyle{
		prl:          []byte{1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108},
		discoverOpts: []byte{53, 61, 57, 60, 12, 55},
		requestOpts:  []byte{53, 61, 50, 54, 57, 60, 12, 55},
		vendorClass:  "android-dhcp-14", maxSize: 1500, ttl: 64,
	}
	dhcpLinux = dhcpStyle{
		prl:          []byte{1, 2, 6, 12, 15, 26, 28, 121, 3, 33, 40, 41, 42, 119, 249, 252, 17},
		discoverOpts: []byte{53, 61, 55, 57, 12},
		requestOpts:  []byte{53, 61, 55, 57, 50, 54, 12},
		maxSize:      576, ttl: 64,
	}
)

const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpRelease  = 7
)

// dhcpMsg encodes a BOOTP/DHCP message.
func dhcpMsg(op byte, xid uint32, secs uint16, bcast bool, ciaddr, yiaddr, siaddr netip.Addr, chaddr MAC, opts []byte) []byte {
	b := make([]byte, 236, 236+4+len(opts)+8)
	b[0], b[1], b[2] = op, 1, 6
	binary.BigEndian.PutUint32(b[4:], xid)
	binary.BigEndian.PutUint16(b[8:], secs)
	if bcast {
		b[10] = 0x80
	}
	put := func(off int, a netip.Addr) {
		if a.IsValid() {
			x := a.As4()
			copy(b[off:], x[:])
		}
	}
	put(12, ciaddr)
	put(16, yiaddr)
	put(20, siaddr)
	copy(b[28:], chaddr[:])
	b = append(b, 99, 130, 83, 99)
	b = append(b, opts...)
	b = append(b, 255)
	for len(b) < 300 { // BOOTP minimum
		b = append(b, 0)
	}
	return b
}

func opt(b []byte, code byte, v []byte) []byte {
	b = append(b, code, byte(len(v)))
	return append(b, v...)
}

func a4(a netip.Addr) []byte { x := a.As4(); return x[:] }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func clientID(m MAC) []byte { return append([]byte{1}, m[:]...) }

// clientOptions writes the options of a DISCOVER or REQUEST in style order.
func (s *dhcpStyle) clientOptions(msgType byte, m MAC, hostname string, req, server netip.Addr) []byte {
	order := s.discoverOpts
	if msgType == dhcpRequest {
		order = s.requestOpts
	}
	var b []byte
	for _, code := range order {
		switch code {
		case 53:
			b = opt(b, 53, []byte{msgType})
		case 55:
			b = opt(b, 55, s.prl)
		case 57:
			b = opt(b, 57, []byte{byte(s.maxSize >> 8), byte(s.maxSize)})
		case 61:
			b = opt(b, 61, clientID(m))
		case 51:
			if s.leaseAsk != 0 {
				b = opt(b, 51, u32(s.leaseAsk))
			}
		case 12:
			if hostname != "" {
				b = opt(b, 12, []byte(hostname))
			}
		case 50:
			if req.IsValid() {
				b = opt(b, 50, a4(req))
			}
		case 54:
			if server.IsValid() {
				b = opt(b, 54, a4(server))
			}
		case 60:
			if s.vendorClass != "" {
				b = opt(b, 60, []byte(s.vendorClass))
			}
		case 81:
			if hostname != "" {
				b = opt(b, 81, append([]byte{0, 0, 0}, hostname...))
			}
		}
	}
	return b
}

// dhcpExchange runs DISCOVER, OFFER, REQUEST, ACK for h and binds addr.
func (w *world) dhcpExchange(t time.Time, n *node, s *dhcpStyle, hostname string, addr netip.Addr, lease time.Duration) time.Time {
	xid := w.r.Uint32()
	zero := netip.IPv4Unspecified()
	bcast := netip.MustParseAddr("255.255.255.255")
	send := func(t time.Time, fromClient bool, payload []byte) {
		if fromClient {
			ip := ipHdr{src: zero, dst: bcast, ttl: s.ttl, id: n.nextID(w.r)}
			w.emit(t, appendFrame(nil, broadcastMAC, n.mac, ip, protoUDP, udpHeader(68, 67, len(payload)), payload, 6))
			return
		}
		ip := ipHdr{src: w.gwIP, dst: bcast, ttl: 64, id: uint16(w.r.Uint32())}
		w.emit(t, appendFrame(nil, broadcastMAC, w.gwMAC, ip, protoUDP, udpHeader(67, 68, len(payload)), payload, 6))
	}
	serverOpts := func(typ byte) []byte {
		var b []byte
		b = opt(b, 53, []byte{typ})
		b = opt(b, 54, a4(w.gwIP))
		b = opt(b, 51, u32(uint32(lease/time.Second)))
		b = opt(b, 58, u32(uint32(lease/2/time.Second)))
		b = opt(b, 59, u32(uint32(lease*7/8/time.Second)))
		b = opt(b, 1, []byte{255, 255, 252, 0})
		b = opt(b, 28, []byte{10, 20, 3, 255})
		b = opt(b, 3, a4(w.gwIP))
		b = opt(b, 6, a4(w.gwIP))
		b = opt(b, 15, []byte("office.corp.example"))
		return b
	}
	send(t, true, dhcpMsg(1, xid, 0, s.broadcast, netip.Addr{}, netip.Addr{}, netip.Addr{}, n.mac, s.clientOptions(dhcpDiscover, n.mac, hostname, netip.Addr{}, netip.Addr{})))
	t = t.Add(w.r.dur(2*time.Millisecond, 30*time.Millisecond))
	send(t, false, dhcpMsg(2, xid, 0, s.broadcast, netip.Addr{}, addr, w.gwIP, n.mac, serverOpts(dhcpOffer)))
	t = t.Add(w.r.dur(2*time.Millisecond, 20*time.Millisecond))
	send(t, true, dhcpMsg(1, xid, 1, s.broadcast, netip.Addr{}, netip.Addr{}, netip.Addr{}, n.mac, s.clientOptions(dhcpRequest, n.mac, hostname, addr, w.gwIP)))
	t = t.Add(w.r.dur(2*time.Millisecond, 20*time.Millisecond))
	send(t, false, dhcpMsg(2, xid, 1, s.broadcast, netip.Addr{}, addr, w.gwIP, n.mac, serverOpts(dhcpAck)))
	return t.Add(w.r.dur(5*time.Millisecond, 50*time.Millisecond))
}

// dhcpRelease is sent by a client leaving the network (unicast to the server).
func (w *world) dhcpRelease(t time.Time, n *node, addr netip.Addr) {
	var b []byte
	b = opt(b, 53, []byte{dhcpRelease})
	b = opt(b, 61, clientID(n.mac))
	b = opt(b, 54, a4(w.gwIP))
	payload := dhcpMsg(1, w.r.Uint32(), 0, false, addr, netip.Addr{}, netip.Addr{}, n.mac, b)
	ip := ipHdr{src: addr, dst: w.gwIP, ttl: n.st.ttl, id: n.nextID(w.r)}
	w.emit(t, appendFrame(nil, w.gwMAC, n.mac, ip, protoUDP, udpHeader(68, 67, len(payload)), payload, 6))
}
