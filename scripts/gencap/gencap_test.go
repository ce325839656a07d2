package gencap

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// tally is what a decode of a whole capture found.
type tally struct {
	packets, bulk, hellos, dns, syns, appleSYNs int
	tlsPorts                                    map[uint16]int
	helloLens                                   []int
	srcIPs                                      map[string]bool
	dhcp                                        map[string]*layers.DHCPv4 // last DHCP request per client MAC
	synTo                                       map[string]map[string]bool
	quic                                        []gopacket.Packet
}

// decodeAll decodes every packet with gopacket, failing the test on a
// decode error or a checksum mismatch, and counts what the tests assert.
func decodeAll(t *testing.T, data []byte) *tally {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tl := &tally{tlsPorts: map[uint16]int{}, srcIPs: map[string]bool{}, dhcp: map[string]*layers.DHCPv4{}, synTo: map[string]map[string]bool{}}
	for {
		b, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tl.packets++
		p := gopacket.NewPacket(b, layers.LinkTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("packet %d: decode error: %v", tl.packets, el.Error())
		}
		if nl := p.NetworkLayer(); nl != nil {
			for _, l := range p.Layers() {
				if c, ok := l.(interface {
					SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
				}); ok {
					c.SetNetworkLayerForChecksum(nl)
				}
			}
		}
		if err, bad := p.VerifyChecksums(); err != nil || len(bad) > 0 {
			t.Fatalf("packet %d: checksums: %v %v", tl.packets, err, bad)
		}
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			pl := tcp.Payload
			if len(pl) >= 1000 {
				tl.bulk++
			}
			if tcp.SYN && !tcp.ACK {
				tl.syns++
				src := p.NetworkLayer().NetworkFlow().Src().String()
				tl.srcIPs[src] = true
				dst := p.NetworkLayer().NetworkFlow().Dst().String()
				if tl.synTo[eth.SrcMAC.String()] == nil {
					tl.synTo[eth.SrcMAC.String()] = map[string]bool{}
				}
				tl.synTo[eth.SrcMAC.String()][dst+":"+tcp.DstPort.String()] = true
				if isAppleSYN(p, tcp) {
					tl.appleSYNs++
				}
			}
			if len(pl) >= 6 && pl[0] == 22 && pl[1] == 3 && pl[5] == 1 {
				tl.hellos++
				tl.tlsPorts[uint16(tcp.DstPort)]++
				tl.helloLens = append(tl.helloLens, 5+int(binary.BigEndian.Uint16(pl[3:])))
			}
		}
		if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			if udp.SrcPort == 53 || udp.DstPort == 53 {
				tl.dns++
			}
			if udp.DstPort == 443 && len(udp.Payload) == 1200 && udp.Payload[0]&0xf0 == 0xc0 {
				tl.quic = append(tl.quic, p)
			}
		}
		if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok && d.Operation == layers.DHCPOpRequest {
			tl.dhcp[d.ClientHWAddr.String()] = d
		}
	}
	return tl
}

func isAppleSYN(p gopacket.Packet, tcp *layers.TCP) bool {
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || ip.TTL != 64 || ip.Flags&layers.IPv4DontFragment == 0 || tcp.Window != 65535 || !tcp.ECE || !tcp.CWR {
		return false
	}
	var kinds []layers.TCPOptionKind
	for _, o := range tcp.Options {
		kinds = append(kinds, o.OptionType)
	}
	want := []layers.TCPOptionKind{2, 1, 3, 1, 1, 8, 4, 0}
	return len(kinds) >= len(want) && slices.Equal(kinds[:len(want)], want)
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func officeBytes(t *testing.T, seed uint64) ([]byte, *Labels) {
	t.Helper()
	var buf bytes.Buffer
	lb, err := Office(&buf, OfficeOptions{Hosts: 60, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), lb
}

func TestDeterministic(t *testing.T) {
	gens := map[string]func(w io.Writer) error{
		"office": func(w io.Writer) error { _, err := Office(w, OfficeOptions{Hosts: 50, Seed: 7}); return err },
		"bench": func(w io.Writer) error {
			_, err := Bench(w, BenchOptions{Packets: 30000, Mix: "office", Seed: 7})
			return err
		},
		"handshake": func(w io.Writer) error {
			_, err := Bench(w, BenchOptions{Packets: 30000, Mix: "handshake", Seed: 7})
			return err
		},
		"flood":  func(w io.Writer) error { _, err := Flood(w, 5000, 7); return err },
		"sample": func(w io.Writer) error { _, err := Sample(w); return err },
	}
	for name, gen := range gens {
		var a, b bytes.Buffer
		if err := gen(&a); err != nil {
			t.Fatal(name, err)
		}
		if err := gen(&b); err != nil {
			t.Fatal(name, err)
		}
		if sum(a.Bytes()) != sum(b.Bytes()) {
			t.Errorf("%s: two runs differ", name)
		}
	}
	var c bytes.Buffer
	if _, err := Office(&c, OfficeOptions{Hosts: 50, Seed: 8}); err != nil {
		t.Fatal(err)
	}
	var d bytes.Buffer
	Office(&d, OfficeOptions{Hosts: 50, Seed: 7})
	if sum(c.Bytes()) == sum(d.Bytes()) {
		t.Error("different seeds gave the same capture")
	}
}

func TestBenchOfficeMix(t *testing.T) {
	var buf bytes.Buffer
	st, err := Bench(&buf, BenchOptions{Packets: 200000, Mix: "office", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tl := decodeAll(t, buf.Bytes())
	if tl.packets != 200000 || st.Packets != 200000 {
		t.Fatalf("packets: decoded %d, reported %d", tl.packets, st.Packets)
	}
	if r := float64(tl.bulk) / float64(tl.packets); r < 0.80 {
		t.Errorf("bulk payload share %.3f < 0.80", r)
	}
	for _, port := range []uint16{443, 993, 465} {
		if tl.tlsPorts[port] == 0 {
			t.Errorf("no ClientHello to port %d", port)
		}
	}
	if tl.dns == 0 || tl.syns == 0 || tl.hellos != st.ClientHellos {
		t.Errorf("dns %d syns %d hellos %d (generator says %d)", tl.dns, tl.syns, tl.hellos, st.ClientHellos)
	}
}

func TestBenchHandshakeMix(t *testing.T) {
	var buf bytes.Buffer
	st, err := Bench(&buf, BenchOptions{Packets: 100000, Mix: "handshake", Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tl := decodeAll(t, buf.Bytes())
	r := float64(tl.hellos) / float64(tl.packets)
	if r < 0.145 || r > 0.155 {
		t.Errorf("ClientHello share %.4f, want 0.15", r)
	}
	pq := 0
	for _, l := range tl.helloLens {
		if l >= 1500 && l <= 1850 {
			pq++
		}
	}
	if pq*4 < tl.hellos || st.TwoSegHellos < pq*9/10 {
		t.Errorf("post-quantum hellos %d of %d, two-segment %d", pq, tl.hellos, st.TwoSegHellos)
	}
}

func TestOfficeLabelsAndContent(t *testing.T) {
	data, lb := officeBytes(t, 11)
	tl := decodeAll(t, data)
	if lb.Packets != tl.packets || len(lb.Hosts) < 50 {
		t.Fatalf("packets %d/%d, hosts %d", lb.Packets, tl.packets, len(lb.Hosts))
	}
	plat := map[string]int{}
	var privIPhones, relay, appleMail, appleNoMail, browseOnly, icloudWin, appleWeb int
	for _, h := range lb.Hosts {
		plat[h.Platform]++
		switch {
		case h.Platform == PlatformIOS && h.PrivateMAC:
			privIPhones++
		}
		if h.PrivateRelay {
			relay++
		}
		if h.Apple && h.ReadsMail {
			appleMail++
		}
		if h.Apple && !h.ReadsMail {
			appleNoMail++
		}
		if h.OnlyBrowses {
			browseOnly++
		}
		if h.ICloudWindows {
			icloudWin++
		}
		if h.BrowsesApple {
			appleWeb++
		}
		if h.Apple != strings.HasPrefix(h.Platform, "apple-") {
			t.Errorf("%s: apple flag disagrees with platform %s", h.ID, h.Platform)
		}
		// Ground truth must match the wire: mail readers connect to a
		// mail address, the others never do.
		mailDsts := 0
		for dst := range tl.synTo[h.MAC] {
			if bytes.HasPrefix([]byte(dst), []byte(lb.Mail.Address+":")) || isAny(dst, lb.Mail.ActiveSyncIPs) {
				mailDsts++
			}
		}
		if h.ReadsMail != (mailDsts > 0) {
			t.Errorf("%s: reads_mail=%v but %d SYNs to mail servers", h.ID, h.ReadsMail, mailDsts)
		}
		d := tl.dhcp[h.MAC]
		if d == nil {
			t.Errorf("%s: no DHCP request", h.ID)
			continue
		}
		prl, vendor := dhcpOpts(d)
		if h.Apple {
			if len(vendor) != 0 || !(bytes.HasPrefix(prl, []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46})) {
				t.Errorf("%s: Apple DHCP prl %v vendor %q", h.ID, prl, vendor)
			}
		} else if h.Platform == PlatformWindows && string(vendor) != "MSFT 5.0" {
			t.Errorf("%s: Windows vendor class %q", h.ID, vendor)
		}
	}
	for _, p := range []string{PlatformIOS, PlatformIPadOS, PlatformMacOS, PlatformWindows, PlatformAndroid, PlatformLinux} {
		if plat[p] == 0 {
			t.Errorf("no %s host", p)
		}
	}
	if privIPhones == 0 || relay == 0 || appleMail == 0 || appleNoMail == 0 || browseOnly != 1 || icloudWin == 0 || appleWeb == 0 {
		t.Errorf("roles: private iPhones %d relay %d apple mail %d/%d browse-only %d icloud-win %d apple.com %d",
			privIPhones, relay, appleMail, appleNoMail, browseOnly, icloudWin, appleWeb)
	}
	if tl.appleSYNs == 0 || len(tl.quic) == 0 {
		t.Errorf("apple SYNs %d, QUIC initials %d", tl.appleSYNs, len(tl.quic))
	}
	// The moved address: a Mac that does not read mail, then a PC that does.
	owners := map[string][]HostLabel{}
	for _, h := range lb.Hosts {
		for _, a := range h.IPs {
			if a.Source == "dhcp" {
				owners[a.IP] = append(owners[a.IP], h)
			}
		}
	}
	moved := 0
	for ip, hs := range owners {
		if len(hs) < 2 {
			continue
		}
		moved++
		mac, pc := hs[0], hs[1]
		if mac.Platform != PlatformMacOS || mac.ReadsMail || pc.Platform != PlatformWindows || !pc.ReadsMail {
			t.Errorf("%s: moved from %s (%s mail=%v) to %s (%s mail=%v)", ip, mac.ID, mac.Platform, mac.ReadsMail, pc.ID, pc.Platform, pc.ReadsMail)
		}
		if !mac.IPs[0].To.Before(pc.IPs[0].From) {
			t.Errorf("%s: intervals overlap: %v..%v and %v..", ip, mac.IPs[0].From, mac.IPs[0].To, pc.IPs[0].From)
		}
	}
	if moved != 1 {
		t.Errorf("%d moved addresses, want 1", moved)
	}
}

func isAny(dst string, ips []string) bool {
	for _, ip := range ips {
		if bytes.HasPrefix([]byte(dst), []byte(ip+":")) {
			return true
		}
	}
	return false
}

func dhcpOpts(d *layers.DHCPv4) (prl, vendor []byte) {
	for _, o := range d.Options {
		switch o.Type {
		case layers.DHCPOptParamsRequest:
			prl = o.Data
		case layers.DHCPOptClassID:
			vendor = o.Data
		}
	}
	return prl, vendor
}

func TestSampleSmall(t *testing.T) {
	var buf bytes.Buffer
	lb, err := Sample(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tl := decodeAll(t, buf.Bytes())
	if tl.packets > 10000 || tl.packets < 500 {
		t.Errorf("sample has %d packets", tl.packets)
	}
	ipad := lb.Host(SampleAllowlistedMAC)
	if ipad == nil || !ipad.Apple || !ipad.ReadsMail || !ipad.Allowlisted {
		t.Errorf("allowlisted iPad label: %+v", ipad)
	}
	readers := 0
	for _, h := range lb.Hosts {
		if h.ReadsMail {
			readers++
		}
	}
	if len(lb.Hosts) != 6 || readers != 5 {
		t.Errorf("hosts %d, mail readers %d", len(lb.Hosts), readers)
	}
}

func TestFloodDistinctSources(t *testing.T) {
	var buf bytes.Buffer
	const n = 20000
	lb, err := Flood(&buf, n, 9)
	if err != nil {
		t.Fatal(err)
	}
	tl := decodeAll(t, buf.Bytes())
	if len(tl.srcIPs) < n {
		t.Errorf("%d distinct SYN sources, want ≥ %d", len(tl.srcIPs), n)
	}
	if tl.packets <= n || len(lb.Hosts) != 1 || !lb.Hosts[0].ReadsMail || tl.hellos == 0 {
		t.Errorf("no session after the flood: %d packets, %d hellos", tl.packets, tl.hellos)
	}
}
