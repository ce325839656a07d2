package tlshello

import (
	"slices"
)

// Extension type codes the parser looks into.
const (
	extServerName          uint16 = 0
	extSupportedGroups     uint16 = 10
	extECPointFormats      uint16 = 11
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extPadding             uint16 = 21
	extPreSharedKey        uint16 = 41
	extSupportedVersions   uint16 = 43
	extQUICTransportParams uint16 = 57
	// extQUICTransportParamsDraft is the codepoint QUIC drafts (and some
	// current stacks, for compatibility) used before 57 was assigned.
	extQUICTransportParamsDraft uint16 = 0xffa5
)

// Oddities recorded by Unmarshal. They are constants so that recording one
// never allocates.
const (
	OddDuplicateExtension        = "duplicate-extension"
	OddSNITrailingDot            = "sni-trailing-dot"
	OddSNIEmpty                  = "sni-empty"
	OddSNINotHostName            = "sni-name-type-not-host-name"
	OddSNIMultipleNames          = "sni-multiple-names"
	OddUnknownLegacyVersion      = "unknown-legacy-version"
	OddUnknownSupportedVersion   = "unknown-supported-version"
	OddTrailingDataAfterExts     = "trailing-data-after-extensions"
	OddTrailingDataInExtensions  = "trailing-data-in-extensions"
	OddTrailingDataAfterMessage  = "trailing-data-after-handshake"
	OddOddCipherSuitesLength     = "odd-cipher-suites-length"
	OddNoNullCompression         = "no-null-compression"
	OddLongSessionID             = "session-id-longer-than-32"
	OddEmptyALPNProtocol         = "alpn-empty-protocol"
	OddPreSharedKeyNotLast       = "pre-shared-key-not-last"
	OddMalformedServerName       = "malformed-server-name"
	OddMalformedALPN             = "malformed-alpn"
	OddMalformedSupportedVers    = "malformed-supported-versions"
	OddMalformedSupportedGroups  = "malformed-supported-groups"
	OddMalformedECPointFormats   = "malformed-ec-point-formats"
	OddMalformedSignatureAlgs    = "malformed-signature-algorithms"
	OddBothQUICTransportParamExt = "quic-transport-parameters-twice"
)

// maxInterned bounds the per-ClientHello cache of SNI and ALPN strings.
const maxInterned = 512

// ClientHello is a parsed TLS ClientHello. Lists keep the wire order and
// GREASE values; the fingerprint methods drop GREASE where the methods say so.
//
// A ClientHello is meant to be reused: one per worker, Unmarshal called for
// every message. The []byte fields alias the message given to Unmarshal.
type ClientHello struct {
	LegacyVersion uint16
	Random        []byte // 32 bytes, aliases the message
	SessionID     []byte // aliases the message
	CipherSuites  []uint16
	Compression   []byte // aliases the message

	// Extensions are the extension type codes in wire order, GREASE and
	// duplicates kept.
	Extensions []uint16

	// ServerName is the first host_name of the server_name extension, as
	// sent (a trailing dot is kept and noted in Oddities).
	ServerName          string
	ALPN                []string
	SupportedVersions   []uint16
	SupportedGroups     []uint16
	ECPointFormats      []uint8
	SignatureAlgorithms []uint16
	// QUICTransportParams is the raw body of quic_transport_parameters
	// (extension 57, or the draft codepoint 0xffa5 when 57 is absent);
	// aliases the message.
	QUICTransportParams []byte

	// Oddities are lenient-parse notes (the Odd* constants), each at most
	// once, in the order found.
	Oddities []string

	scratch []uint16 // reused for the duplicate-extension check

	// interned maps SNI and ALPN byte strings to strings already made, so
	// that repeat names cost no allocation.
	interned map[string]string

	// fp memoises Fill's fingerprints and lists by stack (fpcache.go).
	fp *fpCache
}

// intern returns b as a string, reusing an earlier string with the same bytes.
func (h *ClientHello) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := h.interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if h.interned == nil {
		h.interned = make(map[string]string)
	} else if len(h.interned) >= maxInterned {
		clear(h.interned)
	}
	s := string(b)
	h.interned[s] = s
	return s
}

func (h *ClientHello) odd(s string) {
	if !slices.Contains(h.Oddities, s) {
		h.Oddities = append(h.Oddities, s)
	}
}

// reset empties h, keeping the capacity of its slices and the string cache.
func (h *ClientHello) reset() {
	*h = ClientHello{
		CipherSuites:        h.CipherSuites[:0],
		Extensions:          h.Extensions[:0],
		ALPN:                h.ALPN[:0],
		SupportedVersions:   h.SupportedVersions[:0],
		SupportedGroups:     h.SupportedGroups[:0],
		ECPointFormats:      h.ECPointFormats[:0],
		SignatureAlgorithms: h.SignatureAlgorithms[:0],
		Oddities:            h.Oddities[:0],
		scratch:             h.scratch[:0],
		interned:            h.interned,
		fp:                  h.fp,
	}
}

// HasExtension reports whether extension typ was sent.
func (h *ClientHello) HasExtension(typ uint16) bool {
	return slices.Contains(h.Extensions, typ)
}

// Unmarshal parses one handshake message (4-byte header type 1 + uint24
// length, then body). It resets h completely first and reuses h's slices'
// capacity (no allocation on repeat calls where possible).
//
// Bytes after the declared message length, and inside the body after the
// extensions, are noted as oddities, not errors. A body or field shorter than
// its declared length is ErrTruncated.
func (h *ClientHello) Unmarshal(msg []byte) error {
	h.reset()
	if len(msg) < handshakeHeaderLen {
		return ErrTruncated
	}
	if msg[0] != typeClientHello {
		return ErrNotClientHello
	}
	n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if len(msg)-handshakeHeaderLen < n {
		return ErrTruncated
	}
	if len(msg)-handshakeHeaderLen > n {
		h.odd(OddTrailingDataAfterMessage)
	}
	s := reader(msg[handshakeHeaderLen : handshakeHeaderLen+n])

	var random, sessionID, ciphers, compression reader
	if !s.u16(&h.LegacyVersion) ||
		!s.bytes((*[]byte)(&random), 32) ||
		!s.prefixed8(&sessionID) ||
		!s.prefixed16(&ciphers) ||
		!s.prefixed8(&compression) {
		return ErrTruncated
	}
	h.Random, h.SessionID, h.Compression = random, sessionID, compression
	if !knownVersion(h.LegacyVersion) {
		h.odd(OddUnknownLegacyVersion)
	}
	if len(sessionID) > 32 {
		h.odd(OddLongSessionID)
	}
	if len(ciphers)%2 != 0 {
		h.odd(OddOddCipherSuitesLength)
	}
	h.CipherSuites = appendUint16s(h.CipherSuites, ciphers)
	if !slices.Contains(h.Compression, 0) {
		h.odd(OddNoNullCompression)
	}

	if s.empty() {
		// SSL 3.0 and early TLS clients may omit the extensions block.
		return nil
	}
	var exts reader
	if !s.prefixed16(&exts) {
		return ErrTruncated
	}
	if !s.empty() {
		h.odd(OddTrailingDataAfterExts)
	}
	var seenLow uint64
	highCount := 0
	seenQUIC57 := false
	for !exts.empty() {
		var typ uint16
		var body reader
		if len(exts) < 4 {
			// 1..3 stray bytes cannot be an extension: lenient.
			h.odd(OddTrailingDataInExtensions)
			break
		}
		if !exts.u16(&typ) || !exts.prefixed16(&body) {
			// A whole extension header whose body runs past the block.
			return ErrTruncated
		}
		if len(h.Extensions) > 0 && h.Extensions[len(h.Extensions)-1] == extPreSharedKey {
			h.odd(OddPreSharedKeyNotLast)
		}
		h.Extensions = append(h.Extensions, typ)
		// Only the first occurrence of an extension is parsed. Types below
		// 64 (all the parsed ones but 0xffa5) are checked with a bit mask;
		// the rest after the loop, by sorting, so that a hostile hello with
		// thousands of extensions costs O(n log n), not O(n²).
		if typ < 64 {
			if seenLow&(1<<typ) != 0 {
				h.odd(OddDuplicateExtension)
				continue
			}
			seenLow |= 1 << typ
		} else {
			highCount++
		}
		switch typ {
		case extServerName:
			h.parseServerName(body)
		case extALPN:
			h.parseALPN(body)
		case extSupportedVersions:
			var list reader
			if !body.prefixed8(&list) || !body.empty() || len(list)%2 != 0 {
				h.odd(OddMalformedSupportedVers)
			}
			h.SupportedVersions = appendUint16s(h.SupportedVersions, list)
			for _, v := range h.SupportedVersions {
				if !isGREASE(v) && !knownVersion(v) {
					h.odd(OddUnknownSupportedVersion)
					break
				}
			}
		case extSupportedGroups:
			var list reader
			if !body.prefixed16(&list) || !body.empty() || len(list)%2 != 0 {
				h.odd(OddMalformedSupportedGroups)
			}
			h.SupportedGroups = appendUint16s(h.SupportedGroups, list)
		case extECPointFormats:
			var list reader
			if !body.prefixed8(&list) || !body.empty() {
				h.odd(OddMalformedECPointFormats)
			}
			h.ECPointFormats = append(h.ECPointFormats, list...)
		case extSignatureAlgorithms:
			var list reader
			if !body.prefixed16(&list) || !body.empty() || len(list)%2 != 0 {
				h.odd(OddMalformedSignatureAlgs)
			}
			h.SignatureAlgorithms = appendUint16s(h.SignatureAlgorithms, list)
		case extQUICTransportParams:
			h.QUICTransportParams = body
			seenQUIC57 = true
		case extQUICTransportParamsDraft:
			if h.QUICTransportParams == nil {
				h.QUICTransportParams = body
			}
		}
	}
	if highCount > 1 {
		h.scratch = h.scratch[:0]
		for _, t := range h.Extensions {
			if t >= 64 {
				h.scratch = append(h.scratch, t)
			}
		}
		slices.Sort(h.scratch)
		for i := 1; i < len(h.scratch); i++ {
			if h.scratch[i] == h.scratch[i-1] {
				h.odd(OddDuplicateExtension)
				break
			}
		}
	}
	if seenQUIC57 && slices.Contains(h.Extensions, extQUICTransportParamsDraft) {
		// Both codepoints: 57 wins, as in stacks that send the draft one
		// only for compatibility.
		h.odd(OddBothQUICTransportParamExt)
	}
	return nil
}

// appendUint16s appends the big-endian uint16s of b (an odd last byte is
// dropped; the caller notes it).
func appendUint16s(dst []uint16, b []byte) []uint16 {
	for i := 1; i < len(b); i += 2 {
		dst = append(dst, uint16(b[i-1])<<8|uint16(b[i]))
	}
	return dst
}

func (h *ClientHello) parseServerName(body reader) {
	var list reader
	if !body.prefixed16(&list) || !body.empty() {
		h.odd(OddMalformedServerName)
		// An empty body is what servers send; from a client it still says
		// "SNI present" for JA4, which looks at the extension type only.
		return
	}
	found := false
	for !list.empty() {
		var nameType uint8
		var name reader
		if !list.u8(&nameType) || !list.prefixed16(&name) {
			h.odd(OddMalformedServerName)
			return
		}
		if nameType != 0 {
			h.odd(OddSNINotHostName)
			continue
		}
		if found {
			h.odd(OddSNIMultipleNames)
			continue
		}
		found = true
		if len(name) == 0 {
			h.odd(OddSNIEmpty)
			continue
		}
		if name[len(name)-1] == '.' {
			h.odd(OddSNITrailingDot)
		}
		h.ServerName = h.intern(name)
	}
}

func (h *ClientHello) parseALPN(body reader) {
	var list reader
	if !body.prefixed16(&list) || !body.empty() {
		h.odd(OddMalformedALPN)
		return
	}
	for !list.empty() {
		var proto reader
		if !list.prefixed8(&proto) {
			h.odd(OddMalformedALPN)
			return
		}
		if len(proto) == 0 {
			h.odd(OddEmptyALPNProtocol)
		}
		h.ALPN = append(h.ALPN, h.intern(proto))
	}
}

// isGREASE reports whether v is one of the RFC 8701 GREASE values
// (0x?a?a with both bytes equal).
func isGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// knownVersion reports whether v is an SSL, TLS or DTLS version JA4 names.
func knownVersion(v uint16) bool {
	switch v {
	case 0x0304, 0x0303, 0x0302, 0x0301, 0x0300, 0x0002, 0xfeff, 0xfefd, 0xfefc:
		return true
	}
	return false
}
