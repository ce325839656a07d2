package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// AppendJA3String appends the JA3 string as tshark and Salesforce compute it:
// SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats, in
// decimal, '-' joined, GREASE values removed from every list.
func (h *ClientHello) AppendJA3String(dst []byte) []byte {
	dst, _, _ = h.appendJA3Parts(dst)
	return dst
}

// appendJA3Parts is AppendJA3String that also returns where the extension
// list starts and ends in dst: a hello of the same stack in another
// extension order (see fpCache.shapes) shares everything around it.
func (h *ClientHello) appendJA3Parts(dst []byte) (_ []byte, extStart, extEnd int) {
	dst = appendU16(dst, h.LegacyVersion)
	dst = append(dst, ',')
	dst = appendDecimalList(dst, h.CipherSuites)
	dst = append(dst, ',')
	extStart = len(dst)
	dst = appendDecimalList(dst, h.Extensions)
	extEnd = len(dst)
	dst = append(dst, ',')
	dst = appendDecimalList(dst, h.SupportedGroups)
	dst = append(dst, ',')
	for i, f := range h.ECPointFormats {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = appendU16(dst, uint16(f))
	}
	return dst, extStart, extEnd
}

func appendDecimalList(dst []byte, list []uint16) []byte {
	first := true
	for _, v := range list {
		if isGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = appendU16(dst, v)
	}
	return dst
}

// appendU16 appends v in decimal: strconv.AppendUint's general path was a
// tenth of Fill on hellos whose JA3 must be rebuilt.
func appendU16(dst []byte, v uint16) []byte {
	switch {
	case v < 10:
		return append(dst, byte('0'+v))
	case v < 100:
		return append(dst, byte('0'+v/10), byte('0'+v%10))
	case v < 1000:
		return append(dst, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
	case v < 10000:
		return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	return append(dst, byte('0'+v/10000), byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// AppendJA3 appends the JA3 fingerprint: the lower-case hex MD5 of the JA3
// string.
func (h *ClientHello) AppendJA3(dst []byte) []byte {
	var buf [1024]byte
	return appendMD5Hex(dst, h.AppendJA3String(buf[:0]))
}

func appendMD5Hex(dst, b []byte) []byte {
	const hexd = "0123456789abcdef"
	sum := md5.Sum(b)
	// Fixed sizes, no bounds checks: a third of hex.AppendEncode's
	// instructions, once per permuted hello.
	var t [32]byte
	for i, v := range sum {
		t[2*i], t[2*i+1] = hexd[v>>4], hexd[v&0x0f]
	}
	return append(dst, t[:]...)
}

// JA3 returns the JA3 string and its MD5 in hex.
func (h *ClientHello) JA3() (str, md5hex string) {
	var buf [1024]byte
	b := h.AppendJA3String(buf[:0])
	n := len(b)
	sum := md5.Sum(b)
	b = hex.AppendEncode(b, sum[:])
	all := string(b) // one allocation for both results
	return all[:n], all[n:]
}

// JA4 returns the JA4 fingerprint and its raw (unhashed, sorted) form JA4_r.
// transport is 't' for TLS over TCP, 'q' for QUIC, 'd' for DTLS.
func (h *ClientHello) JA4(transport byte) (ja4, ja4r string) {
	var buf [2048]byte
	b := h.AppendJA4R(buf[:0], transport)
	n := len(b)
	b = appendJA4FromRaw(b, b[:n])
	all := string(b) // one allocation for both results
	return all[n:], all[:n]
}

// AppendJA4 appends the JA4 fingerprint.
func (h *ClientHello) AppendJA4(dst []byte, transport byte) []byte {
	var buf [2048]byte
	return appendJA4FromRaw(dst, h.AppendJA4R(buf[:0], transport))
}

// appendJA4FromRaw turns a JA4_r string (a_ciphers_exts[_sigs]) into JA4 by
// hashing the cipher part and the extension-plus-signature part.
func appendJA4FromRaw(dst, raw []byte) []byte {
	const aLen = 10 // "t13d1516h2"
	ciphers := raw[aLen+1:]
	i := slices.Index(ciphers, '_')
	rest := ciphers[i+1:]
	ciphers = ciphers[:i]
	dst = append(dst, raw[:aLen+1]...)
	dst = appendHash12(dst, ciphers)
	dst = append(dst, '_')
	return appendHash12(dst, rest)
}

// appendHash12 appends the first 12 hex digits of SHA-256(b), or twelve
// zeros for an empty list, as the JA4 spec asks.
func appendHash12(dst, b []byte) []byte {
	if len(b) == 0 {
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:6])
}

// AppendJA4R appends the raw JA4 fingerprint (JA4_r): the JA4_a part, the
// sorted cipher list, and the sorted extension list without SNI and ALPN
// followed by '_' and the signature algorithms in wire order (no '_' when
// there are none). GREASE values are left out everywhere.
func (h *ClientHello) AppendJA4R(dst []byte, transport byte) []byte {
	dst = append(dst, transport)
	dst = append(dst, h.ja4Version()...)
	if h.HasExtension(extServerName) {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendCount(dst, h.CipherSuites)
	dst = appendCount(dst, h.Extensions)
	dst = h.appendALPNChars(dst)
	dst = append(dst, '_')

	// Sort copies on the stack; fall back to the heap only for absurd lists.
	var stack [128]uint16
	sorted := stack[:0]
	for _, c := range h.CipherSuites {
		if !isGREASE(c) {
			sorted = append(sorted, c)
		}
	}
	slices.Sort(sorted)
	dst = appendHexList(dst, sorted)
	dst = append(dst, '_')

	sorted = stack[:0]
	for _, e := range h.Extensions {
		if !isGREASE(e) && e != extServerName && e != extALPN {
			sorted = append(sorted, e)
		}
	}
	slices.Sort(sorted)
	dst = appendHexList(dst, sorted)

	sigs := false
	for _, s := range h.SignatureAlgorithms {
		if isGREASE(s) {
			continue
		}
		if !sigs {
			dst = append(dst, '_')
			sigs = true
		} else {
			dst = append(dst, ',')
		}
		dst = appendHex16(dst, s)
	}
	return dst
}

// ja4Version is the two-character JA4 version: the highest non-GREASE
// supported_versions value if that extension was sent, else the legacy
// version.
func (h *ClientHello) ja4Version() string {
	v := h.LegacyVersion
	if h.HasExtension(extSupportedVersions) {
		// Highest value wins, except that DTLS numbers count down
		// (1.3 = 0xfefc < 1.2 = 0xfefd): a list of only DTLS versions
		// yields its lowest value.
		var maxTLS, minDTLS uint16
		var anyTLS, anyDTLS bool
		for _, sv := range h.SupportedVersions {
			switch {
			case isGREASE(sv):
			case sv>>8 == 0xfe:
				if !anyDTLS || sv < minDTLS {
					minDTLS, anyDTLS = sv, true
				}
			default:
				if !anyTLS || sv > maxTLS {
					maxTLS, anyTLS = sv, true
				}
			}
		}
		switch {
		case anyTLS:
			v = maxTLS
		case anyDTLS:
			v = minDTLS
		}
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// appendCount appends the two-digit count of non-GREASE values, capped at 99.
func appendCount(dst []byte, list []uint16) []byte {
	n := 0
	for _, v := range list {
		if !isGREASE(v) {
			n++
		}
	}
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendALPNChars appends the JA4 ALPN characters: the first and last
// character of the first ALPN value, "00" without one. A byte outside ASCII
// becomes '9', as FoxIO's reference tools (Rust, Python, Wireshark) compute
// it; other non-alphanumeric ASCII ends use the spec's hex rule (first hex
// digit of the first byte, last hex digit of the last byte). The spec text
// prefers the hex rule for non-ASCII too (FoxIO-LLC/ja4#178), but every
// published reference output and fingerprint database uses '9', and orchard
// must agree with the fingerprints users compare against.
func (h *ClientHello) appendALPNChars(dst []byte) []byte {
	if len(h.ALPN) == 0 || len(h.ALPN[0]) == 0 {
		return append(dst, '0', '0')
	}
	a := h.ALPN[0]
	first, last := a[0], a[len(a)-1]
	if first >= 0x80 || last >= 0x80 {
		return append(dst, alpnChar(first), alpnChar(last))
	}
	if isAlnum(first) && isAlnum(last) {
		return append(dst, first, last)
	}
	const digits = "0123456789abcdef"
	return append(dst, digits[first>>4], digits[last&0x0f])
}

func alpnChar(c byte) byte {
	if c >= 0x80 {
		return '9'
	}
	return c
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func appendHexList(dst []byte, list []uint16) []byte {
	for i, v := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHex16(dst, v)
	}
	return dst
}

func appendHex16(dst []byte, v uint16) []byte {
	const digits = "0123456789abcdef"
	return append(dst, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
}
