package gencap

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	utls "github.com/refraction-networking/utls"
)

// helloKind names the TLS client a device runs; each maps to a uTLS parrot
// or to a spec written here for stacks uTLS does not ship.
type helloKind int

const (
	helloIOS       helloKind = iota // iOS/macOS system daemons (uTLS HelloIOS_14)
	helloSafari                     // Safari, Mail, CFNetwork apps (HelloSafari_16_0)
	helloChrome                     // HelloChrome_Auto (Chrome 133: X25519MLKEM768)
	helloEdge                       // HelloEdge_Auto
	helloFirefox                    // HelloFirefox_Auto
	helloOkHttp                     // HelloAndroid_11_OkHttp
	helloSChannel                   // Windows SChannel (iCloud for Windows services)
	helloAppleQUIC                  // Apple network.framework over QUIC (Private Relay)
)

var helloNames = [...]string{"ios", "safari", "chrome", "edge", "firefox", "okhttp", "schannel", "apple-quic"}

func (k helloKind) String() string { return helloNames[k] }

// ErrHello wraps a failure to build a ClientHello.
var ErrHello = errors.New("gencap: build ClientHello")

func specFor(k helloKind, r rng, quicSCID []byte) (utls.ClientHelloSpec, error) {
	s, err := parrotSpec(k, r, quicSCID)
	if err != nil {
		return s, err
	}
	fixECH(s.Extensions, r)
	if k == helloChrome {
		s.Extensions = reshuffle(s.Extensions, r)
	}
	return s, nil
}

// fixECH makes uTLS's GREASE ECH payload length (drawn from crypto/rand)
// a choice of the capture's seed.
func fixECH(exts []utls.TLSExtension, r rng) {
	for _, e := range exts {
		g, ok := e.(*utls.GREASEEncryptedClientHelloExtension)
		if !ok {
			continue
		}
		if len(g.CandidatePayloadLens) > 1 {
			g.CandidatePayloadLens = []uint16{pick(r, g.CandidatePayloadLens)}
		}
		if len(g.CandidateCipherSuites) > 1 {
			g.CandidateCipherSuites = []utls.HPKESymmetricCipherSuite{pick(r, g.CandidateCipherSuites)}
		}
	}
}

func parrotSpec(k helloKind, r rng, quicSCID []byte) (utls.ClientHelloSpec, error) {
	switch k {
	case helloIOS:
		return utls.UTLSIdToSpec(utls.HelloIOS_14)
	case helloSafari:
		return utls.UTLSIdToSpec(utls.HelloSafari_16_0)
	case helloChrome:
		return utls.UTLSIdToSpec(utls.HelloChrome_Auto)
	case helloEdge:
		return utls.UTLSIdToSpec(utls.HelloEdge_Auto)
	case helloFirefox:
		return utls.UTLSIdToSpec(utls.HelloFirefox_Auto)
	case helloOkHttp:
		return utls.UTLSIdToSpec(utls.HelloAndroid_11_OkHttp)
	case helloSChannel:
		return schannelSpec(), nil
	case helloAppleQUIC:
		return appleQUICSpec(quicSCID), nil
	}
	return utls.ClientHelloSpec{}, fmt.Errorf("%w: unknown kind %d", ErrHello, k)
}

// reshuffle undoes uTLS's crypto/rand extension shuffle (Chrome permutes
// its extensions per connection) and redoes it from the capture's seed:
// GREASE and padding keep their places, the rest are sorted by type and
// then permuted.
func reshuffle(exts []utls.TLSExtension, r rng) []utls.TLSExtension {
	var idx []int
	for i, e := range exts {
		switch e.(type) {
		case *utls.UtlsGREASEExtension, *utls.UtlsPaddingExtension, utls.PreSharedKeyExtension:
		default:
			idx = append(idx, i)
		}
	}
	movable := make([]utls.TLSExtension, len(idx))
	for j, i := range idx {
		movable[j] = exts[i]
	}
	slices.SortStableFunc(movable, func(a, b utls.TLSExtension) int { return int(extType(a)) - int(extType(b)) })
	r.Shuffle(len(movable), func(i, j int) { movable[i], movable[j] = movable[j], movable[i] })
	out := slices.Clone(exts)
	for j, i := range idx {
		out[i] = movable[j]
	}
	return out
}

func extType(e utls.TLSExtension) uint16 {
	b := make([]byte, e.Len())
	n, _ := e.Read(b)
	if n < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// schannelSpec approximates the Windows 11 SChannel ClientHello used by
// WinHTTP-based services such as iCloud for Windows: no GREASE, TLS 1.3 and
// 1.2, no post-quantum share.
func schannelSpec() utls.ClientHelloSpec {
	return utls.ClientHelloSpec{
		CipherSuites: []uint16{0x1302, 0x1301, 0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023,
			0xc028, 0xc027, 0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f},
		CompressionMethods: []byte{0},
		Extensions: []utls.TLSExtension{
			&utls.SNIExtension{},
			&utls.StatusRequestExtension{},
			&utls.SupportedCurvesExtension{Curves: []utls.CurveID{utls.X25519, utls.CurveP256, utls.CurveP384}},
			&utls.SupportedPointsExtension{SupportedPoints: []byte{0}},
			&utls.SignatureAlgorithmsExtension{SupportedSignatureAlgorithms: []utls.SignatureScheme{
				utls.PSSWithSHA256, utls.PSSWithSHA384, utls.PSSWithSHA512, utls.PKCS1WithSHA256,
				utls.PKCS1WithSHA384, utls.PKCS1WithSHA512, utls.ECDSAWithP256AndSHA256,
				utls.ECDSAWithP384AndSHA384, utls.ECDSAWithP521AndSHA512, utls.PKCS1WithSHA1, utls.ECDSAWithSHA1}},
			&utls.SessionTicketExtension{},
			&utls.ALPNExtension{AlpnProtocols: []string{"h2", "http/1.1"}},
			&utls.ExtendedMasterSecretExtension{},
			&utls.RenegotiationInfoExtension{Renegotiation: utls.RenegotiateOnceAsClient},
			&utls.SupportedVersionsExtension{Versions: []uint16{utls.VersionTLS13, utls.VersionTLS12}},
			&utls.PSKKeyExchangeModesExtension{Modes: []uint8{utls.PskModeDHE}},
			&utls.KeyShareExtension{KeyShares: []utls.KeyShare{{Group: utls.X25519}}},
		},
	}
}

// appleQUICSpec models the QUIC ClientHello of Apple's network.framework
// as iCloud Private Relay sends it to mask.icloud.com: TLS 1.3 only, h3,
// GREASE, quic_transport_parameters.
func appleQUICSpec(scid []byte) utls.ClientHelloSpec {
	return utls.ClientHelloSpec{
		TLSVersMin:         utls.VersionTLS13,
		TLSVersMax:         utls.VersionTLS13,
		CipherSuites:       []uint16{utls.GREASE_PLACEHOLDER, 0x1301, 0x1302, 0x1303},
		CompressionMethods: []byte{0},
		Extensions: []utls.TLSExtension{
			&utls.UtlsGREASEExtension{},
			&utls.SNIExtension{},
			&utls.SupportedCurvesExtension{Curves: []utls.CurveID{utls.GREASE_PLACEHOLDER, utls.X25519, utls.CurveP256, utls.CurveP384, utls.CurveP521}},
			&utls.ALPNExtension{AlpnProtocols: []string{"h3"}},
			&utls.SignatureAlgorithmsExtension{SupportedSignatureAlgorithms: []utls.SignatureScheme{
				utls.ECDSAWithP256AndSHA256, utls.PSSWithSHA256, utls.PKCS1WithSHA256, utls.ECDSAWithP384AndSHA384,
				utls.PSSWithSHA384, utls.PKCS1WithSHA384, utls.PSSWithSHA512, utls.PKCS1WithSHA512}},
			&utls.KeyShareExtension{KeyShares: []utls.KeyShare{{Group: utls.GREASE_PLACEHOLDER, Data: []byte{0}}, {Group: utls.X25519}}},
			&utls.PSKKeyExchangeModesExtension{Modes: []uint8{utls.PskModeDHE}},
			&utls.SupportedVersionsExtension{Versions: []uint16{utls.GREASE_PLACEHOLDER, utls.VersionTLS13}},
			&utls.QUICTransportParametersExtension{TransportParameters: utls.TransportParameters{
				utls.MaxIdleTimeout(30000),
				utls.MaxUDPPayloadSize(1452),
				utls.InitialMaxData(15728640),
				utls.InitialMaxStreamDataBidiLocal(2097152),
				utls.InitialMaxStreamDataBidiRemote(2097152),
				utls.InitialMaxStreamDataUni(2097152),
				utls.InitialMaxStreamsBidi(100),
				utls.InitialMaxStreamsUni(100),
				utls.MaxAckDelay(25),
				utls.ActiveConnectionIDLimit(4),
				utls.InitialSourceConnectionID(scid),
			}},
			&utls.UtlsGREASEExtension{},
		},
	}
}

// nullConn satisfies net.Conn for a UConn that never performs I/O: only
// the ClientHello is built.
type nullConn struct{}

func (nullConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (nullConn) Write(b []byte) (int, error)      { return len(b), nil }
func (nullConn) Close() error                     { return nil }
func (nullConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (nullConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (nullConn) SetDeadline(time.Time) error      { return nil }
func (nullConn) SetReadDeadline(time.Time) error  { return nil }
func (nullConn) SetWriteDeadline(time.Time) error { return nil }

// helloOpts adjusts a parrot for one connection.
type helloOpts struct {
	alpn    []string // replaces the parrot's ALPN list when non-nil; empty removes it
	quic    bool     // no legacy session ID (RFC 9001 §8.4)
	quicSCI []byte
}

// clientHello returns one ClientHello handshake message (no record header)
// built by uTLS for kind and sni, made deterministic: the client random,
// session ID, key shares and GREASE ECH payload come from r.
func clientHello(r rng, k helloKind, sni string, o helloOpts) ([]byte, error) {
	spec, err := specFor(k, r, o.quicSCI)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrHello, k, err)
	}
	if o.alpn != nil {
		var exts []utls.TLSExtension
		for _, e := range spec.Extensions {
			if a, ok := e.(*utls.ALPNExtension); ok {
				if len(o.alpn) == 0 {
					continue
				}
				a.AlpnProtocols = o.alpn
			}
			exts = append(exts, e)
		}
		spec.Extensions = exts
	}
	cfg := &utls.Config{ServerName: sni, Rand: r, InsecureSkipVerify: true}
	uc := utls.UClient(nullConn{}, cfg, utls.HelloCustom)
	if err := uc.ApplyPreset(&spec); err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrHello, k, err)
	}
	if err := uc.BuildHandshakeState(); err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrHello, k, err)
	}
	raw := slices.Clone(uc.HandshakeState.Hello.Raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w (%s): empty hello", ErrHello, k)
	}
	return patchHello(raw, r, o.quic)
}

// patchHello overwrites the fields uTLS fills from crypto/rand (which Go
// 1.26 no longer lets a caller seed) with values from r, and drops the
// session ID for QUIC. Key shares are real public keys derived from r.
func patchHello(h []byte, r rng, dropSID bool) ([]byte, error) {
	bad := fmt.Errorf("%w: malformed hello from uTLS", ErrHello)
	if len(h) < 39 || h[0] != 1 {
		return nil, bad
	}
	r.Read(h[6:38])
	p := 38
	sidLen := int(h[p])
	if p+1+sidLen > len(h) {
		return nil, bad
	}
	r.Read(h[p+1 : p+1+sidLen])
	if dropSID && sidLen > 0 {
		h = append(h[:p+1], h[p+1+sidLen:]...)
		h[p] = 0
		n := len(h) - 4
		h[1], h[2], h[3] = byte(n>>16), byte(n>>8), byte(n)
		sidLen = 0
	}
	p += 1 + sidLen
	if p+2 > len(h) {
		return nil, bad
	}
	p += 2 + int(binary.BigEndian.Uint16(h[p:]))
	if p+1 > len(h) {
		return nil, bad
	}
	p += 1 + int(h[p])
	if p+2 > len(h) {
		return nil, bad
	}
	end := p + 2 + int(binary.BigEndian.Uint16(h[p:]))
	p += 2
	if end > len(h) {
		return nil, bad
	}
	for p+4 <= end {
		typ := binary.BigEndian.Uint16(h[p:])
		l := int(binary.BigEndian.Uint16(h[p+2:]))
		body := h[p+4 : min(p+4+l, end)]
		switch typ {
		case 0x0033:
			patchKeyShares(body, r)
		case 0xfe0d:
			patchECH(body, r)
		}
		p += 4 + l
	}
	return h, nil
}

func patchKeyShares(b []byte, r rng) {
	if len(b) < 2 {
		return
	}
	p := 2
	for p+4 <= len(b) {
		g := binary.BigEndian.Uint16(b[p:])
		l := int(binary.BigEndian.Uint16(b[p+2:]))
		if p+4+l > len(b) {
			return
		}
		d := b[p+4 : p+4+l]
		switch {
		case g == 0x001d && l == 32:
			copy(d, x25519Pub(r))
		case g == 0x11ec && l == 1216:
			seed := r.bytes(64)
			dk, err := mlkem.NewDecapsulationKey768(seed)
			if err == nil {
				copy(d, dk.EncapsulationKey().Bytes())
				copy(d[1184:], x25519Pub(r))
			} else {
				r.Read(d)
			}
		case g == 0x0017 && l == 65:
			k, err := ecdh.P256().NewPrivateKey(r.bytes(32))
			if err == nil {
				copy(d, k.PublicKey().Bytes())
			}
		case l > 1:
			r.Read(d)
		}
		p += 4 + l
	}
}

func x25519Pub(r rng) []byte {
	k, err := ecdh.X25519().NewPrivateKey(r.bytes(32))
	if err != nil {
		return r.bytes(32)
	}
	return k.PublicKey().Bytes()
}

// patchECH rewrites a GREASE ECH outer extension's config id, enc and payload.
func patchECH(b []byte, r rng) {
	if len(b) < 8 || b[0] != 0 {
		return
	}
	b[5] = byte(r.Uint32())
	p := 6
	el := int(binary.BigEndian.Uint16(b[p:]))
	if p+2+el > len(b) {
		return
	}
	copy(b[p+2:p+2+el], x25519Pub(r)[:min(el, 32)])
	p += 2 + el
	if p+2 > len(b) {
		return
	}
	pl := int(binary.BigEndian.Uint16(b[p:]))
	if p+2+pl <= len(b) {
		r.Read(b[p+2 : p+2+pl])
	}
}

// tlsRecord wraps a handshake message in TLS records (version 0x0301 as
// clients use for the first ClientHello, 0x0303 otherwise).
func tlsRecord(typ byte, ver uint16, msg []byte) []byte {
	out := make([]byte, 0, len(msg)+5)
	for len(msg) > 0 || len(out) == 0 {
		n := min(len(msg), 16384)
		out = append(out, typ, byte(ver>>8), byte(ver), byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// serverFlight is a plausible TLS 1.3 server first flight: a ServerHello,
// a ChangeCipherSpec and encrypted handshake records of random bytes.
func serverFlight(r rng, sessionID []byte) []byte {
	sh := []byte{2, 0, 0, 0, 3, 3}
	sh = append(sh, r.bytes(32)...)
	sh = append(sh, byte(len(sessionID)))
	sh = append(sh, sessionID...)
	sh = append(sh, 0x13, 0x01, 0)
	ext := []byte{0, 0x2b, 0, 2, 3, 4, 0, 0x33, 0, 36, 0, 0x1d, 0, 32}
	ext = append(ext, x25519Pub(r)...)
	sh = binary.BigEndian.AppendUint16(sh, uint16(len(ext)))
	sh = append(sh, ext...)
	n := len(sh) - 4
	sh[1], sh[2], sh[3] = byte(n>>16), byte(n>>8), byte(n)
	out := tlsRecord(22, 0x0303, sh)
	out = append(out, 20, 3, 3, 0, 1, 1)
	out = append(out, appData(r, r.between(2500, 4500))...)
	return out
}

// helloSessionID extracts the legacy session ID so the server can echo it.
func helloSessionID(h []byte) []byte {
	if len(h) < 39 || 39+int(h[38]) > len(h) {
		return nil
	}
	return h[39 : 39+int(h[38])]
}

// appData returns n bytes of TLS application-data records with random
// content, as encrypted traffic looks on the wire.
func appData(r rng, n int) []byte {
	out := make([]byte, 0, n+64)
	for n > 0 {
		l := min(n, 16401)
		out = append(out, 23, 3, 3, byte(l>>8), byte(l))
		body := len(out)
		out = append(out, make([]byte, l)...)
		r.Read(out[body:])
		n -= l + 5
	}
	return out
}
