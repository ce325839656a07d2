package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// requireRoot skips a test that needs root, except in CI, where the lab must run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the end-to-end lab needs root (network namespaces, raw sockets, real servers); CI runs as root, so this is a failure")
	}
	t.Skip("the end-to-end lab needs root (network namespaces, raw sockets, real servers); run as root: sudo go test ./scripts/lab")
}

// One lab run per test binary, shared by TestLab and TestLabAlerts.
var (
	labOnce sync.Once
	labRes  *Result
	labErr  error
	labDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if labDir != "" && code == 0 {
		os.RemoveAll(labDir)
	} else if labDir != "" {
		fmt.Fprintf(os.Stderr, "lab run kept in %s\n", labDir)
	}
	os.Exit(code)
}

func runLab(t *testing.T) *Result {
	t.Helper()
	requireRoot(t)
	labOnce.Do(func() {
		labDir, labErr = os.MkdirTemp("", "orchard-lab-")
		if labErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		defer cancel()
		labRes, labErr = Run(ctx, labDir, Options{})
	})
	if labErr != nil {
		t.Fatalf("lab run failed: %v", labErr)
	}
	return labRes
}

func TestLab(t *testing.T) {
	res := runLab(t)
	t.Logf("lab ran in %v; pcap %s", res.Elapsed.Round(time.Millisecond), res.PCAP)
	m := res.Manifest

	// Every profile ran, succeeded, and got a lease in the LAN.
	lan := netip.MustParsePrefix(m.LAN)
	clients := map[string]Client{}
	for _, c := range m.Clients {
		clients[c.Profile] = c
		if !c.OK {
			t.Errorf("client %s failed: %+v", c.Profile, c.Steps)
		}
		ip, err := netip.ParseAddr(c.IP)
		if err != nil || !lan.Contains(ip) {
			t.Errorf("client %s: leased address %q not in %v", c.Profile, c.IP, lan)
		}
		if want := c.Profile == "apple-mail"; c.ExpectedAlert != want {
			t.Errorf("client %s: expected_alert %v, want %v", c.Profile, c.ExpectedAlert, want)
		}
	}
	for _, p := range Profiles {
		if _, ok := clients[p]; !ok {
			t.Fatalf("manifest lacks client %s: %+v", p, m.Clients)
		}
	}
	if c := clients["apple-allowed"]; c.MAC != AllowedMAC || !c.Allowlisted {
		t.Errorf("apple-allowed: MAC %s allowlisted %v, want %s true", c.MAC, c.Allowlisted, AllowedMAC)
	}

	pc := readCapture(t, res.PCAP)
	t.Logf("capture: %d packets, %d DHCP, %d TCP streams", pc.packets, len(pc.dhcp), len(pc.streams))

	// DHCP: an ACK to each client's MAC with its leased address; the
	// platforms' requests carry their option lists.
	for _, c := range m.Clients {
		if !pc.hasDHCP(c.MAC, 5, c.IP) {
			t.Errorf("no DHCPACK to %s (%s) for %s", c.MAC, c.Profile, c.IP)
		}
	}
	iosList := []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}
	for _, p := range []string{"apple-mail", "apple-browse", "apple-allowed"} {
		req, ok := pc.dhcpFrom(clients[p].MAC, 3)
		if !ok {
			t.Errorf("%s: no DHCPREQUEST", p)
			continue
		}
		if got := req.opts[55]; !bytes.Equal(got, iosList) {
			t.Errorf("%s: option 55 %v, want iOS order %v", p, got, iosList)
		}
		if got := req.opts[57]; !bytes.Equal(got, []byte{0x05, 0xdc}) {
			t.Errorf("%s: option 57 %x, want 05dc", p, got)
		}
		if _, ok := req.opts[60]; ok {
			t.Errorf("%s: sends option 60; iOS does not", p)
		}
		if !strings.HasPrefix(string(req.opts[12]), "Lab-iPhone") {
			t.Errorf("%s: option 12 %q", p, req.opts[12])
		}
		if mac := clients[p].MAC; !isLocallyAdministered(mac) {
			t.Errorf("%s: MAC %s is not locally administered", p, mac)
		}
	}
	if req, ok := pc.dhcpFrom(clients["pc-mail"].MAC, 3); !ok || string(req.opts[60]) != "MSFT 5.0" {
		t.Errorf("pc-mail: DHCPREQUEST option 60 %q, want MSFT 5.0", req.opts[60])
	}

	// DNS: Apple background names and the mail server from apple-mail,
	// Microsoft's probe name from the PC.
	for _, n := range []string{"captive.apple.com", "1-courier.push.apple.com", "gateway.icloud.com", "doh.dns.apple.com", MailServerName} {
		if !slices.Contains(pc.dnsQueries[clients["apple-mail"].IP], n) {
			t.Errorf("apple-mail: no DNS query for %s", n)
		}
	}
	if !slices.Contains(pc.dnsQueries[clients["pc-mail"].IP], "www.msftconnecttest.com") {
		t.Errorf("pc-mail: no DNS query for www.msftconnecttest.com")
	}
	if slices.Contains(pc.dnsQueries[clients["apple-browse"].IP], MailServerName) {
		t.Errorf("apple-browse looked up %s; it must not touch mail", MailServerName)
	}

	// mDNS announcement with the device model.
	if !pc.mdnsContains(clients["apple-mail"].IP, "model=iPhone14,2") {
		t.Errorf("apple-mail: no mDNS announcement with model=iPhone14,2")
	}
	// Captive-portal probe with Apple's User-Agent.
	if !pc.streamContains(clients["apple-mail"].IP, WebServerIP, 80, "User-Agent: CaptiveNetworkSupport-481.0.1 wispr") {
		t.Errorf("apple-mail: no captive-portal probe with CaptiveNetworkSupport UA")
	}

	// TLS ClientHellos from apple-mail: implicit TLS on 993, and after
	// STARTTLS on 587 and 143; all with the parrot's GREASE and the mail SNI.
	am := clients["apple-mail"].IP
	for _, tc := range []struct {
		port     uint16
		starttls bool
	}{{993, false}, {587, true}, {143, true}} {
		hello, err := pc.clientHello(am, MailServerIP, tc.port, tc.starttls)
		if err != nil {
			t.Errorf("apple-mail → %d: %v", tc.port, err)
			continue
		}
		if !bytes.Contains(hello, []byte(MailServerName)) {
			t.Errorf("apple-mail → %d: ClientHello without SNI %s", tc.port, MailServerName)
		}
		if !helloHasGREASE(hello) {
			t.Errorf("apple-mail → %d: ClientHello has no GREASE cipher first; not the iOS parrot", tc.port)
		}
	}
	// pc-mail uses Go's crypto/tls: no GREASE.
	if hello, err := pc.clientHello(clients["pc-mail"].IP, MailServerIP, 993, false); err != nil {
		t.Errorf("pc-mail → 993: %v", err)
	} else if helloHasGREASE(hello) {
		t.Errorf("pc-mail → 993: GREASE in a crypto/tls ClientHello")
	}

	// SYN shape: Apple stacks set ECE+CWR, the PC does not.
	if s, ok := pc.synTo(am, 993); !ok || !s.ECE || !s.CWR {
		t.Errorf("apple-mail SYN to 993: %+v found=%v, want ECE+CWR", s, ok)
	}
	if s, ok := pc.synTo(clients["pc-mail"].IP, 993); !ok || s.ECE || s.CWR {
		t.Errorf("pc-mail SYN to 993: %+v found=%v, want no ECE/CWR", s, ok)
	}

	// Who contacted the mail server: every mail profile, and not apple-browse.
	for _, c := range m.Clients {
		contacted := pc.contacted[c.IP][MailServerIP]
		if contacted != c.ReadsMail {
			t.Errorf("%s contacted the mail server: %v, want %v", c.Profile, contacted, c.ReadsMail)
		}
	}

	// Server side: dovecot logged the IMAP logins, postfix the SASL submission.
	dovecot := readFile(t, filepath.Join(res.Logs, "dovecot.log"))
	for _, p := range []string{"apple-mail", "pc-mail", "linux-mail", "apple-allowed"} {
		if !strings.Contains(dovecot, "Login: user=<alice>, method=PLAIN, rip="+clients[p].IP+",") {
			t.Errorf("dovecot.log: no successful login from %s (%s)", p, clients[p].IP)
		}
	}
	if strings.Contains(dovecot, "rip="+clients["apple-browse"].IP+",") {
		t.Errorf("dovecot.log mentions apple-browse's address")
	}
	postfix := readFile(t, filepath.Join(res.Logs, "postfix.log"))
	if !strings.Contains(postfix, "client=unknown["+am+"], sasl_method=PLAIN, sasl_username=alice") {
		t.Errorf("postfix.log: no authenticated submission from apple-mail (%s)", am)
	}
	if res.Elapsed > 2*time.Minute {
		t.Logf("warning: lab took %v (target < 2m)", res.Elapsed)
	}
}

// TestLabAlerts runs orchard analyze with the lab config on the lab capture:
// exactly one alert, for apple-mail and the lab mail server; none for the
// browsing iPhone, the allowlisted iPhone, or the non-Apple clients.
func TestLabAlerts(t *testing.T) {
	requireRoot(t)
	src, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(src, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "agent", "cmd", "orchard")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("agent/cmd/orchard missing: %v", err)
		}
		t.Skipf("agent/cmd/orchard not present yet: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "orchard")
	build := exec.Command("go", "build", "-o", bin, "./agent/cmd/orchard")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./agent/cmd/orchard: %v\n%s", err, out)
	}
	res := runLab(t)

	cmd := exec.Command(bin, "analyze", "-c", filepath.Join(src, "orchard-lab.yaml"), res.PCAP)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("orchard analyze: %v\n%s", err, stderr.String())
	}
	t.Logf("orchard analyze: %s", strings.TrimSpace(stderr.String()))

	type alert struct {
		Event struct {
			Kind string `json:"kind"`
		} `json:"event"`
		Rule struct {
			ID string `json:"id"`
		} `json:"rule"`
		Host struct {
			MAC string   `json:"mac"`
			IP  []string `json:"ip"`
		} `json:"host"`
		Orchard struct {
			Mail struct {
				Name    string `json:"name"`
				Address string `json:"address"`
			} `json:"mail"`
		} `json:"orchard"`
	}
	type key struct{ mac, server string }
	got := map[key]int{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var a alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("orchard analyze printed a non-JSON line: %q", sc.Text())
		}
		if a.Event.Kind != "alert" {
			continue
		}
		if a.Rule.ID != "orchard.apple-device-work-mail" {
			t.Errorf("alert with rule %q", a.Rule.ID)
		}
		got[key{strings.ToLower(a.Host.MAC), a.Orchard.Mail.Address}]++
	}
	want := map[key]int{}
	for _, c := range res.Manifest.Clients {
		if c.ExpectedAlert {
			want[key{c.MAC, MailServerIP}] = 1
		}
	}
	if len(want) != 1 {
		t.Fatalf("manifest expects %d alerts, want exactly 1 (apple-mail)", len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("alerts for %v: %d, want %d (all alerts: %v)", k, got[k], n, got)
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			t.Errorf("unexpected alert for %v (x%d)", k, n)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func isLocallyAdministered(mac string) bool {
	var b0 byte
	if _, err := fmt.Sscanf(mac, "%02x:", &b0); err != nil {
		return false
	}
	return b0&0x02 != 0 && b0&0x01 == 0
}

// capture is what the test needs from the pcap.
type capture struct {
	packets    int
	dhcp       []dhcpMsg
	dnsQueries map[string][]string // source IP -> names asked
	mdns       []udpMsg
	syns       []syn
	streams    map[flowKey]*stream // client->server payload, in sequence order
	contacted  map[string]map[string]bool
}

type dhcpMsg struct {
	msgType byte
	chaddr  string
	yiaddr  string
	opts    map[byte][]byte
}

type udpMsg struct {
	src     string
	payload []byte
}

type syn struct {
	Src, Dst string
	DPort    uint16
	ECE, CWR bool
}

type flowKey struct {
	src, dst string
	sport    uint16
	dport    uint16
}

type stream struct {
	next uint32
	data []byte
}

func readCapture(t *testing.T, path string) *capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcap %s: %v", path, err)
	}
	c := &capture{dnsQueries: map[string][]string{}, streams: map[flowKey]*stream{}, contacted: map[string]map[string]bool{}}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("pcap %s: packet %d: %v", path, c.packets+1, err)
		}
		c.packets++
		c.add(gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default))
	}
	if c.packets == 0 {
		t.Fatalf("pcap %s is empty", path)
	}
	return c
}

func (c *capture) add(pkt gopacket.Packet) {
	ip4, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip4 == nil {
		return
	}
	src, dst := ip4.SrcIP.String(), ip4.DstIP.String()
	if c.contacted[src] == nil {
		c.contacted[src] = map[string]bool{}
	}
	c.contacted[src][dst] = true

	if d, ok := pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok {
		m := dhcpMsg{chaddr: d.ClientHWAddr.String(), yiaddr: d.YourClientIP.String(), opts: map[byte][]byte{}}
		for _, o := range d.Options {
			m.opts[byte(o.Type)] = o.Data
			if o.Type == layers.DHCPOptMessageType && len(o.Data) == 1 {
				m.msgType = o.Data[0]
			}
		}
		c.dhcp = append(c.dhcp, m)
		return
	}
	if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		switch {
		case udp.DstPort == 5353:
			c.mdns = append(c.mdns, udpMsg{src: src, payload: slices.Clone(udp.Payload)})
		case udp.DstPort == 53:
			if d, ok := pkt.Layer(layers.LayerTypeDNS).(*layers.DNS); ok && !d.QR {
				for _, q := range d.Questions {
					c.dnsQueries[src] = append(c.dnsQueries[src], string(q.Name))
				}
			}
		}
		return
	}
	tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		return
	}
	if tcp.SYN && !tcp.ACK {
		c.syns = append(c.syns, syn{Src: src, Dst: dst, DPort: uint16(tcp.DstPort), ECE: tcp.ECE, CWR: tcp.CWR})
	}
	k := flowKey{src, dst, uint16(tcp.SrcPort), uint16(tcp.DstPort)}
	s := c.streams[k]
	if s == nil {
		s = &stream{}
		c.streams[k] = s
		if tcp.SYN {
			s.next = tcp.Seq + 1
		} else {
			s.next = tcp.Seq
		}
	}
	if tcp.SYN || len(tcp.Payload) == 0 {
		return
	}
	// Append in order; skip retransmissions (the lab has no loss, so no gap
	// handling beyond taking what comes).
	if int32(tcp.Seq-s.next) < 0 {
		return
	}
	s.data = append(s.data, tcp.Payload...)
	s.next = tcp.Seq + uint32(len(tcp.Payload))
}

func (c *capture) hasDHCP(mac string, msgType byte, yiaddr string) bool {
	for _, m := range c.dhcp {
		if m.chaddr == mac && m.msgType == msgType && m.yiaddr == yiaddr {
			return true
		}
	}
	return false
}

func (c *capture) dhcpFrom(mac string, msgType byte) (dhcpMsg, bool) {
	for _, m := range c.dhcp {
		if m.chaddr == mac && m.msgType == msgType {
			return m, true
		}
	}
	return dhcpMsg{opts: map[byte][]byte{}}, false
}

func (c *capture) mdnsContains(src, s string) bool {
	for _, m := range c.mdns {
		if m.src == src && bytes.Contains(m.payload, []byte(s)) {
			return true
		}
	}
	return false
}

func (c *capture) streamContains(src, dst string, dport uint16, s string) bool {
	for k, st := range c.streams {
		if k.src == src && k.dst == dst && k.dport == dport && bytes.Contains(st.data, []byte(s)) {
			return true
		}
	}
	return false
}

func (c *capture) synTo(src string, dport uint16) (syn, bool) {
	for _, s := range c.syns {
		if s.Src == src && s.DPort == dport {
			return s, true
		}
	}
	return syn{}, false
}

// clientHello returns the first TLS ClientHello record the client sent to
// dst:dport: at the start of the stream, or right after its STARTTLS command.
func (c *capture) clientHello(src, dst string, dport uint16, starttls bool) ([]byte, error) {
	for k, st := range c.streams {
		if k.src != src || k.dst != dst || k.dport != dport {
			continue
		}
		b := st.data
		if starttls {
			i := bytes.Index(b, []byte("STARTTLS\r\n"))
			if i < 0 {
				continue
			}
			b = b[i+len("STARTTLS\r\n"):]
		}
		if len(b) < 9 || b[0] != 0x16 || b[1] != 0x03 || b[5] != 0x01 {
			continue
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < 5+n {
			return nil, fmt.Errorf("ClientHello record truncated (%d of %d bytes)", len(b)-5, n)
		}
		return b[:5+n], nil
	}
	return nil, fmt.Errorf("no ClientHello from %s to %s:%d (starttls=%v)", src, dst, dport, starttls)
}

// helloHasGREASE reports whether the first cipher suite is a GREASE value,
// as in Apple's (and Chrome's) ClientHellos and not in Go's.
func helloHasGREASE(rec []byte) bool {
	// record header 5, handshake header 4, version 2, random 32
	const off = 5 + 4 + 2 + 32
	if len(rec) < off+1 {
		return false
	}
	sid := int(rec[off])
	p := off + 1 + sid
	if len(rec) < p+4 {
		return false
	}
	first := binary.BigEndian.Uint16(rec[p+2:])
	return first&0x0f0f == 0x0a0a && first>>8 == first&0xff
}
