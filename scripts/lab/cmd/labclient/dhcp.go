package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// dhcpProfile is what a platform's DHCP client puts in DISCOVER and REQUEST:
// the option-55 list in the platform's order, the vendor class (option 60,
// empty for none), the host name (option 12), max message size (option 57,
// 0 for none) and the IP TTL its stack uses for the broadcast.
type dhcpProfile struct {
	ParamList   []byte
	VendorClass string
	Hostname    string
	MaxSize     uint16
	LeaseTime   uint32 // option 51 asked for; 0 for none
	TTL         uint8
	ClientID    bool // option 61: type 1 + MAC
}

// lease is what the ACK gave us.
type lease struct {
	Addr   netip.Prefix
	Server netip.Addr
	Router netip.Addr
	DNS    []netip.Addr
	Routes []staticRoute // option 121
}

type staticRoute struct {
	Dst netip.Prefix
	Via netip.Addr
}

const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6
)

var errNoLease = errors.New("dhcp: no lease")

// runDHCP does DISCOVER/OFFER/REQUEST/ACK on ifname over an AF_PACKET socket,
// so it works before the interface has an address and the replies (unicast
// to the offered address or broadcast) reach us either way.
func runDHCP(ctx context.Context, ifname string, p dhcpProfile) (lease, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return lease{}, fmt.Errorf("dhcp: %w", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return lease{}, fmt.Errorf("dhcp: packet socket: %w", err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return lease{}, fmt.Errorf("dhcp: bind: %w", err)
	}
	tv := unix.NsecToTimeval(int64(300 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return lease{}, fmt.Errorf("dhcp: timeout: %w", err)
	}
	var xb [4]byte
	if _, err := rand.Read(xb[:]); err != nil {
		return lease{}, err
	}
	xid := binary.BigEndian.Uint32(xb[:])
	start := time.Now()

	var offer *dhcpReply
	for attempt := 0; attempt < 4 && offer == nil; attempt++ {
		secs := uint16(time.Since(start) / time.Second)
		if err := sendDHCP(fd, ifi, p, xid, secs, dhcpDiscover, netip.Addr{}, netip.Addr{}); err != nil {
			return lease{}, err
		}
		offer, err = recvDHCP(ctx, fd, xid, dhcpOffer, 2*time.Second)
		if err != nil && !errors.Is(err, errNoLease) {
			return lease{}, err
		}
	}
	if offer == nil {
		return lease{}, fmt.Errorf("%w: no OFFER after 4 DISCOVERs", errNoLease)
	}
	for attempt := 0; attempt < 3; attempt++ {
		secs := uint16(time.Since(start) / time.Second)
		if err := sendDHCP(fd, ifi, p, xid, secs, dhcpRequest, offer.yiaddr, offer.server); err != nil {
			return lease{}, err
		}
		ack, err := recvDHCP(ctx, fd, xid, dhcpAck, 2*time.Second)
		if errors.Is(err, errNoLease) {
			continue
		}
		if err != nil {
			return lease{}, err
		}
		return ack.lease()
	}
	return lease{}, fmt.Errorf("%w: no ACK after 3 REQUESTs", errNoLease)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// buildBOOTP encodes a client message the way the platforms do: options in
// the platform's order, padded to the 300-byte BOOTP minimum.
func buildBOOTP(mac net.HardwareAddr, p dhcpProfile, xid uint32, secs uint16, msgType byte, reqIP, server netip.Addr) []byte {
	b := make([]byte, 240, 400)
	b[0] = 1 // BOOTREQUEST
	b[1] = 1 // Ethernet
	b[2] = 6
	binary.BigEndian.PutUint32(b[4:], xid)
	binary.BigEndian.PutUint16(b[8:], secs)
	copy(b[28:], mac)
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	opt := func(code byte, data []byte) {
		b = append(b, code, byte(len(data)))
		b = append(b, data...)
	}
	opt(53, []byte{msgType})
	opt(55, p.ParamList)
	if p.MaxSize != 0 {
		opt(57, binary.BigEndian.AppendUint16(nil, p.MaxSize))
	}
	if p.ClientID {
		opt(61, append([]byte{1}, mac...))
	}
	if reqIP.IsValid() {
		a := reqIP.As4()
		opt(50, a[:])
	}
	if p.LeaseTime != 0 {
		opt(51, binary.BigEndian.AppendUint32(nil, p.LeaseTime))
	}
	if server.IsValid() {
		a := server.As4()
		opt(54, a[:])
	}
	if p.VendorClass != "" {
		opt(60, []byte(p.VendorClass))
	}
	if p.Hostname != "" {
		opt(12, []byte(p.Hostname))
	}
	b = append(b, 255)
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

func sendDHCP(fd int, ifi *net.Interface, p dhcpProfile, xid uint32, secs uint16, msgType byte, reqIP, server netip.Addr) error {
	payload := buildBOOTP(ifi.HardwareAddr, p, xid, secs, msgType, reqIP, server)
	eth := &layers.Ethernet{SrcMAC: ifi.HardwareAddr, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
	ttl := p.TTL
	if ttl == 0 {
		ttl = 64
	}
	ip := &layers.IPv4{Version: 4, TTL: ttl, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IPv4zero.To4(), DstIP: net.IPv4bcast.To4()}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("dhcp: serialize: %w", err)
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index, Halen: 6}
	copy(to.Addr[:], layers.EthernetBroadcast)
	if err := unix.Sendto(fd, buf.Bytes(), 0, to); err != nil {
		return fmt.Errorf("dhcp: send: %w", err)
	}
	return nil
}

type dhcpReply struct {
	msgType byte
	yiaddr  netip.Addr
	server  netip.Addr
	opts    map[byte][]byte
}

// recvDHCP waits up to wait for a reply of the wanted type with our xid.
func recvDHCP(ctx context.Context, fd int, xid uint32, want byte, wait time.Duration) (*dhcpReply, error) {
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dhcp: recv: %w", err)
		}
		pkt := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.NoCopy)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || udp.SrcPort != 67 || udp.DstPort != 68 {
			continue
		}
		r, err := parseBOOTP(udp.Payload, xid)
		if err != nil {
			continue
		}
		if r.msgType == dhcpNak {
			return nil, fmt.Errorf("dhcp: NAK from %v", r.server)
		}
		if r.msgType == want {
			return r, nil
		}
	}
	return nil, errNoLease
}

func parseBOOTP(b []byte, xid uint32) (*dhcpReply, error) {
	if len(b) < 240 || b[0] != 2 || binary.BigEndian.Uint32(b[4:]) != xid ||
		binary.BigEndian.Uint32(b[236:]) != 0x63825363 {
		return nil, errors.New("not our reply")
	}
	r := &dhcpReply{yiaddr: netip.AddrFrom4([4]byte(b[16:20])), opts: map[byte][]byte{}}
	o := b[240:]
	for len(o) > 0 {
		code := o[0]
		if code == 255 {
			break
		}
		if code == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			return nil, errors.New("truncated option")
		}
		r.opts[code] = o[2 : 2+int(o[1])]
		o = o[2+int(o[1]):]
	}
	if t := r.opts[53]; len(t) == 1 {
		r.msgType = t[0]
	}
	if s := r.opts[54]; len(s) == 4 {
		r.server = netip.AddrFrom4([4]byte(s))
	}
	return r, nil
}

func (r *dhcpReply) lease() (lease, error) {
	mask := r.opts[1]
	if len(mask) != 4 {
		return lease{}, errors.New("dhcp: ACK without subnet mask")
	}
	bits, _ := net.IPMask(mask).Size()
	l := lease{Addr: netip.PrefixFrom(r.yiaddr, bits), Server: r.server}
	if rt := r.opts[3]; len(rt) >= 4 {
		l.Router = netip.AddrFrom4([4]byte(rt[:4]))
	}
	for d := r.opts[6]; len(d) >= 4; d = d[4:] {
		l.DNS = append(l.DNS, netip.AddrFrom4([4]byte(d[:4])))
	}
	// RFC 3442 classless static routes: width, significant octets, router.
	for c := r.opts[121]; len(c) > 0; {
		width := int(c[0])
		sig := (width + 7) / 8
		if width > 32 || len(c) < 1+sig+4 {
			return lease{}, errors.New("dhcp: bad option 121")
		}
		var dst [4]byte
		copy(dst[:], c[1:1+sig])
		via := netip.AddrFrom4([4]byte(c[1+sig : 1+sig+4]))
		l.Routes = append(l.Routes, staticRoute{Dst: netip.PrefixFrom(netip.AddrFrom4(dst), width), Via: via})
		c = c[1+sig+4:]
	}
	return l, nil
}
