package quic

import "encoding/binary"

// maxCIDLen is the longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
const maxCIDLen = 20

// readVarint decodes a QUIC variable-length integer (RFC 9000 §16).
func readVarint(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, true
}

// longHeader is a parsed long-header packet; slices alias the datagram.
type longHeader struct {
	version  *versionInfo
	typ      packetType
	dcid     []byte
	scid     []byte
	token    []byte
	pnOffset int // offset of the (protected) packet number from the packet start
	end      int // packet length including header: where the next coalesced packet starts
}

// parseLong parses the long header at the start of b. On failure it returns
// the reason and whether the datagram can still be walked past this packet
// (only when the packet's own Length field was read: h.end > 0).
func parseLong(b []byte) (h longHeader, r Reason) {
	if len(b) < 6 {
		return h, ReasonTruncated
	}
	ver := binary.BigEndian.Uint32(b[1:5])
	if ver == 0 {
		return h, ReasonVersionNegotiation
	}
	h.version = lookupVersion(ver)
	if h.version == nil {
		// Without the version's rules the Length field cannot be trusted,
		// so nothing after this packet is walked.
		return h, ReasonUnsupportedVersion
	}
	h.typ = h.version.types[(b[0]>>4)&0x03]
	p := 5
	n := int(b[p])
	p++
	if n > maxCIDLen {
		return h, ReasonMalformed
	}
	if len(b) < p+n+1 {
		return h, ReasonTruncated
	}
	h.dcid = b[p : p+n]
	p += n
	n = int(b[p])
	p++
	if n > maxCIDLen {
		return h, ReasonMalformed
	}
	if len(b) < p+n {
		return h, ReasonTruncated
	}
	h.scid = b[p : p+n]
	p += n
	if h.typ == typeRetry {
		h.end = len(b) // a Retry has no Length: it fills the datagram
		return h, ReasonRetry
	}
	if h.typ == typeInitial {
		tl, m, ok := readVarint(b[p:])
		if !ok {
			return h, ReasonTruncated
		}
		p += m
		if tl > uint64(len(b)-p) {
			return h, ReasonTruncated
		}
		h.token = b[p : p+int(tl)]
		p += int(tl)
	}
	length, m, ok := readVarint(b[p:])
	if !ok {
		return h, ReasonTruncated
	}
	p += m
	if length > uint64(len(b)-p) {
		return h, ReasonTruncated
	}
	h.pnOffset = p
	h.end = p + int(length)
	if h.typ != typeInitial {
		return h, ReasonNotInitial
	}
	// Header protection samples 16 bytes starting 4 bytes past the packet
	// number's offset (RFC 9001 §5.4.2); a shorter packet cannot be opened.
	if int(length) < 4+16 {
		return h, ReasonMalformed
	}
	return h, ReasonNone
}

// LooksLikeInitial reports whether b starts like a client Initial of a
// supported version: long header, known version, Initial type, plausible
// connection-ID length. It reads at most 6 bytes and never allocates, for
// pre-filters that must drop bulk traffic cheaply.
func LooksLikeInitial(b []byte) bool {
	if len(b) < 6 || b[0]&0x80 == 0 {
		return false
	}
	v := lookupVersion(binary.BigEndian.Uint32(b[1:5]))
	return v != nil && v.types[(b[0]>>4)&0x03] == typeInitial && b[5] <= maxCIDLen
}
