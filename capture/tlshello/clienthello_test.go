package tlshello

import (
	"bytes"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
)

func mustParse(t testing.TB, msg []byte) *ClientHello {
	t.Helper()
	var h ClientHello
	if err := h.Unmarshal(msg); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	return &h
}

func TestGoClientTLS13(t *testing.T) {
	stream := goClientStream(t, &tls.Config{
		ServerName: "mail.corp.example",
		NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12,
	})
	if !LooksLikeTLS(stream) {
		t.Fatalf("LooksLikeTLS(%x) = false", stream[:5])
	}
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := mustParse(t, msg)
	if h.ServerName != "mail.corp.example" {
		t.Errorf("ServerName = %q", h.ServerName)
	}
	if !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) {
		t.Errorf("ALPN = %q", h.ALPN)
	}
	if h.LegacyVersion != tls.VersionTLS12 {
		t.Errorf("LegacyVersion = %#x", h.LegacyVersion)
	}
	if !slices.Equal(h.SupportedVersions, []uint16{tls.VersionTLS13, tls.VersionTLS12}) {
		t.Errorf("SupportedVersions = %#x", h.SupportedVersions)
	}
	if len(h.SessionID) != 32 || len(h.Random) != 32 {
		t.Errorf("SessionID %d bytes, Random %d bytes", len(h.SessionID), len(h.Random))
	}
	for _, c := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256} {
		if !slices.Contains(h.CipherSuites, c) {
			t.Errorf("CipherSuites %#x lack %#x", h.CipherSuites, c)
		}
	}
	for _, e := range []uint16{extServerName, extALPN, extSupportedVersions, extSupportedGroups, extSignatureAlgorithms, 51} {
		if !h.HasExtension(e) {
			t.Errorf("Extensions %v lack %d", h.Extensions, e)
		}
	}
	if !slices.Contains(h.SupportedGroups, uint16(tls.X25519)) || !slices.Contains(h.SignatureAlgorithms, uint16(tls.ECDSAWithP256AndSHA256)) {
		t.Errorf("groups %v sigalgs %#x", h.SupportedGroups, h.SignatureAlgorithms)
	}
	if len(h.Oddities) != 0 {
		t.Errorf("Oddities = %q", h.Oddities)
	}
	ja4, ja4r := h.JA4('t')
	// Go sends no GREASE; count what it sent to check the JA4_a part.
	wantA := "t13d" + twoDigits(len(h.CipherSuites)) + twoDigits(len(h.Extensions)) + "h2"
	if !strings.HasPrefix(ja4, wantA+"_") || !strings.HasPrefix(ja4r, wantA+"_") || len(ja4) != 36 {
		t.Errorf("JA4 = %q, JA4_r = %q, want prefix %q", ja4, ja4r, wantA)
	}
	str, _ := h.JA3()
	if !strings.HasPrefix(str, "771,") {
		t.Errorf("JA3 string %q", str)
	}
}

func TestGoClientTLS12Only(t *testing.T) {
	suites := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
	stream := goClientStream(t, &tls.Config{
		InsecureSkipVerify: true, // no ServerName: JA4 must say "i"
		MaxVersion:         tls.VersionTLS12,
		CipherSuites:       suites,
	})
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := mustParse(t, msg)
	if h.ServerName != "" || h.HasExtension(extServerName) {
		t.Errorf("unexpected SNI %q", h.ServerName)
	}
	got := slices.Clone(h.CipherSuites)
	slices.Sort(got)
	want := slices.Clone(suites)
	slices.Sort(want)
	// Go may add the renegotiation SCSV; the configured suites must be there.
	for _, s := range want {
		if !slices.Contains(got, s) {
			t.Errorf("CipherSuites %#x lack %#x", got, s)
		}
	}
	ja4, _ := h.JA4('t')
	if !strings.HasPrefix(ja4, "t12i") || ja4[8:10] != "00" {
		t.Errorf("JA4 = %q, want t12i....00", ja4)
	}
}

func twoDigits(n int) string {
	n = min(n, 99)
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

func TestJA4SpecExample(t *testing.T) {
	h := mustParse(t, specHello(true))
	ja4, ja4r := h.JA4('t')
	if want := "t13d1516h2_8daaf6152771_e5627efa2ab1"; ja4 != want {
		t.Errorf("JA4 = %q, want %q", ja4, want)
	}
	if want := "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"; ja4r != want {
		t.Errorf("JA4_r = %q\nwant    %q", ja4r, want)
	}
	if got := string(h.AppendJA4(nil, 'q')); got != "q13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("AppendJA4(q) = %q", got)
	}
	// GREASE is kept in the raw fields.
	if h.CipherSuites[0] != 0x2a2a || h.Extensions[0] != 0x3a3a || h.SupportedVersions[0] != 0x0a0a {
		t.Errorf("GREASE dropped from raw fields: %#x %#x %#x", h.CipherSuites[0], h.Extensions[0], h.SupportedVersions[0])
	}

	// The spec's no-signature-algorithms example: no trailing '_'.
	h = mustParse(t, specHello(false))
	ja4, ja4r = h.JA4('t')
	if !strings.HasSuffix(ja4, "_6d807ffa2a79") || !strings.HasSuffix(ja4r, "_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01") {
		t.Errorf("JA4 without sigalgs = %q / %q", ja4, ja4r)
	}
}

func TestJA3(t *testing.T) {
	h := mustParse(t, specHello(true))
	str, sum := h.JA3()
	want := "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0"
	if str != want {
		t.Errorf("JA3 string\n got %q\nwant %q", str, want)
	}
	if len(sum) != 32 || string(h.AppendJA3(nil)) != sum {
		t.Errorf("JA3 md5 %q vs AppendJA3 %q", sum, h.AppendJA3(nil))
	}
	// No extensions at all: empty trailing fields, as Salesforce's ja3.py.
	h = mustParse(t, buildHello(hello{version: 0x0301, ciphers: []uint16{47, 53}, noExtBlock: true}))
	if str, _ := h.JA3(); str != "769,47-53,,," {
		t.Errorf("JA3 string without extensions %q", str)
	}
}

func TestJA4Edges(t *testing.T) {
	sv := func(vs ...uint16) ext { return ext{extSupportedVersions, u16ListBody(1, vs...)} }
	alpn := func(p ...byte) ext { return ext{extALPN, alpnBody(p)} }
	many := make([]uint16, 120)
	for i := range many {
		many[i] = uint16(0x1000 + i)
	}
	tests := []struct {
		name    string
		h       hello
		wantJA4 string // checked as a prefix when it ends in '_'
	}{
		{"empty everything", hello{version: 0x0303, noExtBlock: true}, "t12i000000_000000000000_000000000000"},
		{"only SNI and ALPN: empty ext hash", hello{version: 0x0303, ciphers: []uint16{0x1301}, exts: []ext{{0, sniBody("a.b")}, alpn('h', '2')}}, "t12d0102h2_"},
		{"legacy TLS 1.0", hello{version: 0x0301, ciphers: []uint16{47}}, "t10i0100"},
		{"SSL 3.0", hello{version: 0x0300, ciphers: []uint16{47}}, "ts3i0100"},
		{"unknown legacy version", hello{version: 0x0305, ciphers: []uint16{47}}, "t00i0100"},
		{"supported_versions beats legacy", hello{version: 0x0303, exts: []ext{sv(0xfafa, 0x0304, 0x0303)}}, "t13i0001"},
		{"supported_versions only GREASE: legacy", hello{version: 0x0303, exts: []ext{sv(0xfafa)}}, "t12i0001"},
		{"supported_versions draft is highest: unknown", hello{version: 0x0303, exts: []ext{sv(0x7f1c, 0x0304)}}, "t00i0001"},
		{"DTLS 1.3 and 1.2", hello{version: 0xfefd, exts: []ext{sv(0xfefc, 0xfefd)}}, "td3i0001"},
		{"99 cap", hello{version: 0x0303, ciphers: many}, "t12i9900"},
		{"ALPN single char", hello{version: 0x0303, exts: []ext{alpn('a')}}, "t12i0001aa"},
		{"ALPN empty first value", hello{version: 0x0303, exts: []ext{{extALPN, alpnBody([]byte{}, []byte("h2"))}}}, "t12i000100"},
		{"ALPN empty list", hello{version: 0x0303, exts: []ext{{extALPN, alpnBody()}}}, "t12i000100"},
		{"ALPN 0xAB", hello{version: 0x0303, exts: []ext{alpn(0xab)}}, "t12i000199"},
		{"ALPN 0xAB 0xCD", hello{version: 0x0303, exts: []ext{alpn(0xab, 0xcd)}}, "t12i000199"}, // reference tools: non-ASCII becomes 9 (the spec hex rule would give ad)
		{"ALPN 0x30 0xAB", hello{version: 0x0303, exts: []ext{alpn(0x30, 0xab)}}, "t12i000109"},
		{"ALPN 0x30 0x31 0xAB 0xCD", hello{version: 0x0303, exts: []ext{alpn(0x30, 0x31, 0xab, 0xcd)}}, "t12i000109"},
		{"ALPN 0x30 0xAB 0xCD 0x31", hello{version: 0x0303, exts: []ext{alpn(0x30, 0xab, 0xcd, 0x31)}}, "t12i000101"},
		{"ALPN 0xBA 0xAD (tls-non-ascii-alpn)", hello{version: 0x0303, exts: []ext{alpn(0xba, 0xad)}}, "t12i000199"},
		{"ALPN underscore", hello{version: 0x0303, exts: []ext{alpn('_', 'x')}}, "t12i000158"},
		{"GREASE sigalg dropped", hello{version: 0x0303, exts: []ext{{extSignatureAlgorithms, u16ListBody(2, 0x0a0a, 0x0403)}}},
			"t12i000100_000000000000_" + hash12String("000d_0403")},
		{"SNI extension without names still d", hello{version: 0x0303, exts: []ext{{0, nil}}}, "t12d0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustParse(t, buildHello(tt.h))
			ja4, ja4r := h.JA4('t')
			if !strings.HasPrefix(ja4, tt.wantJA4) {
				t.Errorf("JA4 = %q (raw %q), want %q", ja4, ja4r, tt.wantJA4)
			}
			if ja4[:10] != ja4r[:10] {
				t.Errorf("JA4_a differs: %q vs %q", ja4, ja4r)
			}
		})
	}
}

func hash12String(s string) string { return string(appendHash12(nil, []byte(s))) }

// highExts returns empty extensions of the given types.
func highExts(types ...uint16) []ext {
	var e []ext
	for _, t := range types {
		e = append(e, ext{typ: t})
	}
	return e
}

func TestOddities(t *testing.T) {
	tests := []struct {
		name string
		h    hello
		want []string
	}{
		{"duplicate low extension", hello{version: 0x0303, exts: []ext{{extALPN, alpnBody([]byte("h2"))}, {extALPN, alpnBody([]byte("x"))}}}, []string{OddDuplicateExtension}},
		{"duplicate high extension", hello{version: 0x0303, exts: []ext{{0xff01, []byte{0}}, {0x4469, nil}, {0xff01, []byte{0}}}}, []string{OddDuplicateExtension}},
		// More than 8 high types: the sorted check.
		{"duplicate among many high extensions", hello{version: 0x0303, exts: highExts(0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x103)}, []string{OddDuplicateExtension}},
		{"many high extensions", hello{version: 0x0303, exts: highExts(0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109)}, nil},
		{"few high extensions", hello{version: 0x0303, exts: highExts(0xff01, 0x4469, 0xfe0d, 0x44cd)}, nil},
		{"trailing dot", hello{version: 0x0303, exts: []ext{{0, sniBody("mail.corp.example.")}}}, []string{OddSNITrailingDot}},
		{"two host names", hello{version: 0x0303, exts: []ext{{0, sniBody("a.example", "b.example")}}}, []string{OddSNIMultipleNames}},
		{"unknown versions", hello{version: 0x0305, exts: []ext{{extSupportedVersions, u16ListBody(1, 0x7f1c)}}}, []string{OddUnknownLegacyVersion, OddUnknownSupportedVersion}},
		{"trailing data after extensions", hello{version: 0x0303, exts: []ext{{0x17, nil}}, trailer: []byte{1, 2, 3}}, []string{OddTrailingDataAfterExts}},
		{"no null compression", hello{version: 0x0303, compression: []byte{1}, noExtBlock: true}, []string{OddNoNullCompression}},
		{"malformed alpn", hello{version: 0x0303, exts: []ext{{extALPN, []byte{0, 5, 9}}}}, []string{OddMalformedALPN}},
		{"malformed groups", hello{version: 0x0303, exts: []ext{{extSupportedGroups, []byte{0, 3, 0, 29, 0}}}}, []string{OddMalformedSupportedGroups}},
		{"psk not last", hello{version: 0x0303, exts: []ext{{extPreSharedKey, nil}, {0x17, nil}}}, []string{OddPreSharedKeyNotLast}},
		{"long session id", hello{version: 0x0303, sessionID: make([]byte, 40), noExtBlock: true}, []string{OddLongSessionID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustParse(t, buildHello(tt.h))
			if !slices.Equal(h.Oddities, tt.want) {
				t.Errorf("Oddities = %q, want %q", h.Oddities, tt.want)
			}
		})
	}

	// The first of duplicate extensions is the one parsed.
	h := mustParse(t, buildHello(hello{version: 0x0303, exts: []ext{{extALPN, alpnBody([]byte("h2"))}, {extALPN, alpnBody([]byte("x"))}}}))
	if !slices.Equal(h.ALPN, []string{"h2"}) || !slices.Equal(h.Extensions, []uint16{16, 16}) {
		t.Errorf("ALPN %q Extensions %v", h.ALPN, h.Extensions)
	}
	// The trailing dot is kept in ServerName.
	h = mustParse(t, buildHello(hello{version: 0x0303, exts: []ext{{0, sniBody("mail.corp.example.")}}}))
	if h.ServerName != "mail.corp.example." {
		t.Errorf("ServerName %q", h.ServerName)
	}

	// Bytes after the declared message length.
	msg := append(buildHello(hello{version: 0x0303, noExtBlock: true}), 0xde, 0xad)
	h = mustParse(t, msg)
	if !slices.Equal(h.Oddities, []string{OddTrailingDataAfterMessage}) {
		t.Errorf("Oddities = %q", h.Oddities)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good := specHello(true)
	notCH := slices.Clone(good)
	notCH[0] = 2
	badExtLen := buildHello(hello{version: 0x0303, exts: []ext{{0x17, []byte{1, 2, 3, 4}}}})
	// Make the one extension claim 200 bytes inside a correctly framed body.
	i := bytes.Index(badExtLen, []byte{0, 0x17, 0, 4})
	badExtLen[i+3] = 200
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"header only", good[:3], ErrTruncated},
		{"server hello", notCH, ErrNotClientHello},
		{"short body", good[:len(good)-1], ErrTruncated},
		{"extension longer than block", badExtLen, ErrTruncated},
	}
	for _, tt := range tests {
		var h ClientHello
		if err := h.Unmarshal(tt.msg); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestUnmarshalResets checks that nothing of a previous hello survives.
func TestUnmarshalResets(t *testing.T) {
	var h ClientHello
	if err := h.Unmarshal(specHello(true)); err != nil {
		t.Fatal(err)
	}
	if err := h.Unmarshal(buildHello(hello{version: 0x0301, ciphers: []uint16{47}, noExtBlock: true})); err != nil {
		t.Fatal(err)
	}
	if h.ServerName != "" || len(h.ALPN) != 0 || len(h.Extensions) != 0 || len(h.SupportedVersions) != 0 ||
		len(h.SignatureAlgorithms) != 0 || len(h.SupportedGroups) != 0 || len(h.ECPointFormats) != 0 ||
		h.QUICTransportParams != nil || len(h.Oddities) != 0 || !slices.Equal(h.CipherSuites, []uint16{47}) {
		t.Errorf("state left over: %+v", h)
	}
}

func TestUnmarshalNoAllocs(t *testing.T) {
	stream := goClientStream(t, &tls.Config{ServerName: "imap.corp.example", NextProtos: []string{"imap"}})
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string][]byte{"go": msg, "spec": specHello(true)} {
		var h ClientHello
		if err := h.Unmarshal(m); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := h.Unmarshal(m); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Unmarshal allocates %.1f times per repeat call", name, allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			var buf [256]byte
			_ = h.AppendJA4(buf[:0], 't')
			_ = h.AppendJA4R(buf[:0], 't')
			_ = h.AppendJA3(buf[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: Append fingerprints allocate %.1f times", name, allocs)
		}
	}
}

func TestFill(t *testing.T) {
	msg := specHello(true)
	var h ClientHello
	if err := h.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	var o observe.ClientHello
	o.Prologue = "smtp-starttls"
	h.Fill(&o, 't')
	ja4, ja4r := h.JA4('t')
	ja3s, ja3 := h.JA3()
	if o.ServerName != "example.com" || !slices.Equal(o.ALPN, []string{"h2", "http/1.1"}) || o.Version != 0x0303 ||
		o.JA4 != ja4 || o.JA4R != ja4r || o.JA3 != ja3 || o.JA3String != ja3s || o.Prologue != "smtp-starttls" || o.QUIC != nil {
		t.Errorf("Fill: %+v", o)
	}
	// Reusing the parser must not change what Fill wrote.
	if err := h.Unmarshal(buildHello(hello{version: 0x0301, ciphers: []uint16{1, 2, 3}, noExtBlock: true})); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.CipherSuites[:2], []uint16{0x2a2a, 0x1301}) || o.Extensions[0] != 0x3a3a || len(o.SignatureAlgorithms) != 8 {
		t.Errorf("Fill aliases the parser's slices: %+v", o)
	}

	// QUIC: transport parameters are decoded into the observation.
	params := []byte{0x01, 0x02, 0x67, 0x10, 0x0f, 0x00, 0x40, 0x05, 0x01, 0xaa} // max_idle_timeout=0x6710, initial_scid empty, 0x05 len 1
	qmsg := buildHello(hello{version: 0x0303, ciphers: []uint16{0x1301}, exts: []ext{
		{extSupportedVersions, u16ListBody(1, 0x0304)}, {extQUICTransportParams, params}}})
	if err := h.Unmarshal(qmsg); err != nil {
		t.Fatal(err)
	}
	o = observe.ClientHello{QUIC: &observe.QUICInfo{Version: 1}}
	h.Fill(&o, 'q')
	for i := range qmsg {
		qmsg[i] = 0xff // the packet buffer is reused
	}
	tp := o.QUIC.TransportParameters
	if o.QUIC.Version != 1 || len(tp) != 3 || tp[0].ID != 1 || !bytes.Equal(tp[0].Value, []byte{0x67, 0x10}) ||
		tp[1].ID != 0x0f || len(tp[1].Value) != 0 || tp[2].ID != 5 || !bytes.Equal(tp[2].Value, []byte{0xaa}) {
		t.Errorf("QUIC transport parameters: %+v", tp)
	}
	if !strings.HasPrefix(o.JA4, "q13i0102") {
		t.Errorf("QUIC JA4 %q", o.JA4)
	}
}
