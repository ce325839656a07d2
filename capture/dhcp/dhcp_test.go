package dhcp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
	"github.com/orchard-nsm/orchard/capture/observe"
)

var v4Captures = []string{
	"ja4/pcap/dhcp.pcapng",
	"suricata-verify/dhcp-eve-extended/input.pcap",
	"suricata-verify/dhcp-eve-extended-option-60/input.pcap",
}

// TestV4Tshark compares every DHCPv4 message of the corpus with tshark.
// tshark lists the END option in dhcp.option.type (as a trailing 0); we
// do not put END or PAD in OptionOrder.
func TestV4Tshark(t *testing.T) {
	bin := corpustest.Tshark(t)
	n := 0
	for _, rel := range v4Captures {
		path := corpustest.Path(t, rel)
		t.Run(filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel), func(t *testing.T) {
			rows := tsharkRows(t, bin, path, "dhcp", "dhcp.option.dhcp", "dhcp.hw.mac_addr",
				"dhcp.option.hostname", "dhcp.option.vendor_class_id", "dhcp.option.request_list_item",
				"dhcp.option.type", "dhcp.option.requested_ip_address", "dhcp.option.dhcp_server_id",
				"dhcp.option.ip_address_lease_time", "dhcp.option.dhcp_max_message_size")
			for _, dg := range corpustest.UDP(t, path) {
				if !isV4(dg) {
					continue
				}
				row, ok := rows[dg.Frame]
				if !ok {
					t.Errorf("frame %d: tshark saw no DHCP", dg.Frame)
					continue
				}
				d, err := ParseV4(dg.Payload)
				if err != nil {
					t.Fatalf("frame %d: %v", dg.Frame, err)
				}
				n++
				mt, _ := strconv.Atoi(row[0])
				check(t, dg.Frame, "type", d.MessageType, typeName(v4Types[:], mt))
				check(t, dg.Frame, "mac", d.ClientMAC.String(), strings.Split(row[1], ",")[0])
				check(t, dg.Frame, "hostname", d.Hostname, row[2])
				check(t, dg.Frame, "vendor class", d.VendorClass, row[3])
				check(t, dg.Frame, "params", joinInts(d.ParamList), row[4])
				check(t, dg.Frame, "option order", joinInts(d.OptionOrder), strings.TrimSuffix(strings.TrimSuffix(row[5], ",0"), ",255"))
				check(t, dg.Frame, "requested ip", addrOrEmpty(d.RequestedIP), row[6])
				check(t, dg.Frame, "server id", addrOrEmpty(d.ServerID), row[7])
				lease := ""
				if d.LeaseTime != 0 {
					lease = strconv.Itoa(int(d.LeaseTime))
				}
				check(t, dg.Frame, "lease", lease, row[8])
				mms := ""
				if d.MaxMsgSize != 0 {
					mms = strconv.Itoa(int(d.MaxMsgSize))
				}
				check(t, dg.Frame, "max message size", mms, row[9])
			}
		})
	}
	if n == 0 {
		t.Fatal("no DHCPv4 message compared")
	}
	t.Logf("%d DHCPv4 messages equal tshark", n)
}

func check(t *testing.T, frame int, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("frame %d %s: %q, tshark %q", frame, what, got, want)
	}
}

func joinInts[T uint8 | uint16](v []T) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

func addrOrEmpty(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// TestSuricataExpectations asserts the values suricata-verify's test.yaml
// files expect for dhcp-eve-extended and dhcp-eve-extended-option-60.
func TestSuricataExpectations(t *testing.T) {
	msgs := map[int]*observe.DHCP{}
	for _, dg := range corpustest.UDP(t, corpustest.Path(t, "suricata-verify/dhcp-eve-extended/input.pcap")) {
		d, err := ParseV4(dg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		msgs[dg.Frame] = d
	}
	mac := "00:11:32:17:49:f0"
	req, ack := msgs[1], msgs[2]
	if req == nil || ack == nil {
		t.Fatalf("want frames 1 and 2, got %v", msgs)
	}
	if req.MessageType != "request" || req.ClientMAC.String() != mac || req.AssignedIP.IsValid() {
		t.Errorf("request: %+v", req)
	}
	// suricata logs client_id 00:11:32:17:49:f0: option 61 is hardware type 1 + MAC.
	if hex.EncodeToString(req.ClientID) != "01001132174"+"9f0" {
		t.Errorf("client id %x", req.ClientID)
	}
	// suricata: hostname "nas1\u0000"; we trim the NUL and say so.
	if req.Hostname != "nas1" || !slices.Contains(req.Oddities, "hostname-trailing-nul") {
		t.Errorf("hostname %q oddities %q", req.Hostname, req.Oddities)
	}
	// suricata names the params it knows, in order: subnet_mask, router, domain, dns_server.
	if !isSubsequence(req.ParamList, []uint8{1, 3, 15, 6}) {
		t.Errorf("params %v", req.ParamList)
	}
	if ack.MessageType != "ack" || ack.AssignedIP != netip.MustParseAddr("10.16.1.4") || ack.LeaseTime != 3600 ||
		ack.ClientMAC.String() != mac || ack.Hostname != "nas1" {
		t.Errorf("ack: %+v", ack)
	}

	dgs := corpustest.UDP(t, corpustest.Path(t, "suricata-verify/dhcp-eve-extended-option-60/input.pcap"))
	if len(dgs) != 1 {
		t.Fatalf("%d datagrams", len(dgs))
	}
	d, err := ParseV4(dgs[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageType != "request" || d.VendorClass != "MSFT 5.0" || !isSubsequence(d.ParamList, []uint8{1, 15, 3, 6}) {
		t.Errorf("option-60 request: %+v", d)
	}
}

func isSubsequence(have, want []uint8) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestV6Corpus(t *testing.T) {
	bin := corpustest.Tshark(t)
	path := corpustest.Path(t, "ja4/pcap/dhcpv6.pcap")
	rows := tsharkRows(t, bin, path, "dhcpv6", "dhcpv6.msgtype", "dhcpv6.requested_option_code", "dhcpv6.duid.bytes")
	var types []string
	for _, dg := range corpustest.UDP(t, path) {
		if !isV6(dg) {
			continue
		}
		d, err := ParseV6(dg.Payload)
		if err != nil {
			t.Fatalf("frame %d: %v", dg.Frame, err)
		}
		row := rows[dg.Frame]
		mt, _ := strconv.Atoi(row[0])
		check(t, dg.Frame, "type", d.MessageType, typeName(v6Types[:], mt))
		check(t, dg.Frame, "oro", joinInts(d.ParamList16), row[1])
		check(t, dg.Frame, "client duid", hex.EncodeToString(d.ClientID), strings.Split(row[2], ",")[0])
		if d.ClientMAC.String() != "08:00:27:fe:8f:95" {
			t.Errorf("frame %d: client MAC %v from DUID-LLT", dg.Frame, d.ClientMAC)
		}
		types = append(types, d.MessageType)
	}
	if want := []string{"solicit", "advertise", "request", "reply", "release", "reply"}; !slices.Equal(types, want) {
		t.Errorf("types %q, want %q", types, want)
	}
}

// TestFuzzCapture feeds nDPI's fuzzed DHCP capture: no panic, errors named.
func TestFuzzCapture(t *testing.T) {
	n, errs := 0, 0
	for _, dg := range corpustest.UDP(t, corpustest.Path(t, "ndpi/pcap/dhcp-fuzz.pcapng")) {
		if !isV4(dg) {
			continue
		}
		n++
		d, err := ParseV4(dg.Payload)
		if err != nil {
			errs++
			var oe *OptionError
			if errors.As(err, &oe) {
				if oe.Code != 60 || oe.Offset != 261 || d.MessageType != "type-106" || d.Hostname != "MK03862" {
					t.Errorf("frame %d: %v, partial %+v", dg.Frame, err, d)
				}
				t.Logf("frame %d: %v (decoded before it: type %q host %q)", dg.Frame, err, d.MessageType, d.Hostname)
			} else if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotDHCP) {
				t.Errorf("frame %d: unnamed error %v", dg.Frame, err)
			}
			continue
		}
		t.Logf("frame %d: %+v", dg.Frame, d)
	}
	if n == 0 {
		t.Fatal("no DHCP datagram in dhcp-fuzz.pcapng")
	}
	t.Logf("dhcp-fuzz: %d messages, %d errors", n, errs)
	// tshark too reports this one message as malformed: option 60 claims
	// 49 bytes where fewer remain.
	if n != 1 || errs != 1 {
		t.Errorf("want the 1 message to fail, got %d messages %d errors", n, errs)
	}
}

// v4Msg builds a DHCPv4 message with the given options (code, value).
func v4Msg(op byte, typ byte, opts ...[]byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = op, 1, 6
	copy(b[16:], []byte{192, 0, 2, 50})
	copy(b[28:], []byte{0xa4, 0x83, 0xe7, 1, 2, 3})
	copy(b[236:], magicCookie[:])
	b = append(b, 53, 1, typ)
	for _, o := range opts {
		b = append(b, o...)
	}
	return b
}

func TestV4Hand(t *testing.T) {
	fqdn := []byte{81, 0, 0x05, 0, 0, 6, 'i', 'P', 'h', 'o', 'n', 'e', 4, 'c', 'o', 'r', 'p', 0}
	fqdn[1] = byte(len(fqdn) - 2)
	b := v4Msg(1, 3,
		[]byte{61, 7, 1, 0xa4, 0x83, 0xe7, 1, 2, 3},
		[]byte{57, 2, 0x05, 0xdc},
		[]byte{50, 4, 192, 0, 2, 50},
		[]byte{55, 4, 1, 121, 3, 6},
		[]byte{0, 0}, // pads
		fqdn,
		[]byte{60, 3, 'a', 'b', 'c'},
		[]byte{60, 1, 'x'}, // duplicate
	) // no END
	d, err := ParseV4(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageType != "request" || d.ClientMAC.String() != "a4:83:e7:01:02:03" || d.MaxMsgSize != 1500 ||
		d.RequestedIP != netip.MustParseAddr("192.0.2.50") || d.Hostname != "iPhone.corp" || d.VendorClass != "abc" ||
		d.AssignedIP.IsValid() {
		t.Errorf("%+v", d)
	}
	if !slices.Equal(d.ParamList, []uint8{1, 121, 3, 6}) || !slices.Equal(d.OptionOrder, []uint16{53, 61, 57, 50, 55, 81, 60}) {
		t.Errorf("params %v order %v", d.ParamList, d.OptionOrder)
	}
	if !slices.Equal(d.Oddities, []string{"duplicate-option-60", "no-end-option"}) {
		t.Errorf("oddities %q", d.Oddities)
	}
	// An offer carries yiaddr; a bad fixed length is an oddity, not an error.
	o, err := ParseV4(v4Msg(2, 2, []byte{51, 3, 0, 0, 1}, []byte{255, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	if o.AssignedIP != netip.MustParseAddr("192.0.2.50") || o.LeaseTime != 0 || !slices.Equal(o.Oddities, []string{"bad-length-option-51"}) {
		t.Errorf("offer %+v", o)
	}
	// An option running past the end names its code and offset.
	bad := v4Msg(1, 1, []byte{12, 9, 'a'})
	d, err = ParseV4(bad)
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Code != 12 || oe.Offset != 243 || !errors.Is(err, ErrMalformed) || d == nil || d.MessageType != "discover" {
		t.Errorf("overrun: %v %+v", err, oe)
	}
	if _, err := ParseV4(make([]byte, 300)); !errors.Is(err, ErrNotDHCP) {
		t.Errorf("no cookie: %v", err)
	}
}

// v6Opt encodes one DHCPv6 option.
func v6Opt(code uint16, v ...byte) []byte {
	return append([]byte{byte(code >> 8), byte(code), byte(len(v) >> 8), byte(len(v))}, v...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func v6Reply() []byte {
	addr := netip.MustParseAddr("2001:db8::77").As16()
	iaaddr := v6Opt(opt6IAAddr, cat(addr[:], []byte{0, 0, 0x0e, 0x10, 0, 0, 0x1c, 0x20})...)
	return cat([]byte{7, 1, 2, 3},
		v6Opt(opt6ClientID, 0, 3, 0, 1, 0xa4, 0x83, 0xe7, 1, 2, 3), // DUID-LL
		v6Opt(opt6IANA, cat([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, iaaddr)...),
		v6Opt(opt6FQDN, 0, 6, 'i', 'p', 'h', 'o', 'n', 'e', 0),
		v6Opt(opt6VendorClass, 0, 0, 0x01, 0x37, 0, 3, 'a', 'p', 'l', 0, 1, 'x'),
		v6Opt(opt6ORO, 0, 23, 0, 24),
	)
}

func TestV6Hand(t *testing.T) {
	d, err := ParseV6(v6Reply())
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageType != "reply" || d.ClientMAC.String() != "a4:83:e7:01:02:03" || d.AssignedIP != netip.MustParseAddr("2001:db8::77") ||
		d.LeaseTime != 7200 || d.Hostname != "iphone" || d.VendorClass != "apl,x" || !slices.Equal(d.ParamList16, []uint16{23, 24}) ||
		!slices.Equal(d.OptionOrder, []uint16{1, 3, 39, 16, 6}) {
		t.Errorf("%+v", d)
	}
	// The same message relayed twice.
	inner := v6Reply()
	relay := func(msg []byte) []byte {
		return cat([]byte{12, 0}, make([]byte, 32), v6Opt(18, 1, 2), v6Opt(opt6RelayMsg, msg...))
	}
	r, err := ParseV6(relay(relay(inner)))
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageType != "reply" || r.Hostname != "iphone" || !slices.Equal(r.Oddities, []string{"relayed"}) {
		t.Errorf("relayed: %+v", r)
	}
	// Overrun names code and offset.
	bad := cat([]byte{1, 0, 0, 0}, v6Opt(opt6ClientID, 1, 2), []byte{0, 6, 0, 9, 1})
	_, err = ParseV6(bad)
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Code != 6 || oe.Offset != 10 || !oe.V6 {
		t.Errorf("overrun: %v", err)
	}
}

// TestPrefixes: every truncated prefix of valid messages is an error or,
// where a prefix ends exactly on an option boundary, a result that says
// the END option is missing (v4). Never a panic.
func TestPrefixes(t *testing.T) {
	full := v4Msg(1, 3, []byte{12, 4, 'h', 'o', 's', 't'}, []byte{55, 2, 1, 3}, []byte{255})
	if _, err := ParseV4(full); err != nil {
		t.Fatal(err)
	}
	for n := range len(full) {
		d, err := ParseV4(full[:n])
		if err == nil {
			if n < 240 || !slices.Contains(d.Oddities, "no-end-option") {
				t.Fatalf("v4 prefix %d accepted silently: %+v", n, d)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("v4 prefix %d: %v", n, err)
		}
	}
	full = v6Reply()
	bounds := map[int]bool{}
	for off := 4; off < len(full); {
		bounds[off] = true
		off += 4 + int(full[off+2])<<8 + int(full[off+3])
	}
	for n := range len(full) {
		_, err := ParseV6(full[:n])
		if err == nil {
			// DHCPv6 has no END option: a cut on an option boundary is
			// indistinguishable from a shorter message.
			if !bounds[n] {
				t.Fatalf("v6 prefix %d accepted", n)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("v6 prefix %d: %v", n, err)
		}
	}
}

func FuzzParseV4(f *testing.F) {
	f.Add(v4Msg(1, 3, []byte{12, 4, 'h', 'o', 's', 't'}, []byte{81, 5, 4, 0, 0, 1, 'a'}, []byte{255}))
	f.Add(v4Msg(2, 5, []byte{52, 1, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseV4(b)
		if err == nil && d == nil {
			t.Fatal("nil, nil")
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotDHCP) {
			t.Fatalf("unnamed error %v", err)
		}
	})
}

func FuzzParseV6(f *testing.F) {
	f.Add(v6Reply())
	f.Add(cat([]byte{12, 0}, make([]byte, 32), v6Opt(opt6RelayMsg, v6Reply()...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseV6(b)
		if err == nil && d == nil {
			t.Fatal("nil, nil")
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotDHCP) {
			t.Fatalf("unnamed error %v", err)
		}
	})
}

func BenchmarkParseV4(b *testing.B) {
	msg := v4Msg(1, 3, []byte{61, 7, 1, 0xa4, 0x83, 0xe7, 1, 2, 3}, []byte{12, 6, 'i', 'P', 'h', 'o', 'n', 'e'},
		[]byte{55, 9, 1, 121, 3, 6, 15, 108, 114, 119, 252}, []byte{57, 2, 5, 0xdc}, []byte{255})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := ParseV4(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseV6(b *testing.B) {
	msg := v6Reply()
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := ParseV6(msg); err != nil {
			b.Fatal(err)
		}
	}
}
