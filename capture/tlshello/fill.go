package tlshello

import (
	"slices"

	"github.com/orchard-nsm/orchard/capture/observe"
	"golang.org/x/crypto/cryptobyte"
)

// OddMalformedQUICTransportParams is added by Fill when the
// quic_transport_parameters body does not split into (id, length, value)
// entries.
const OddMalformedQUICTransportParams = "malformed-quic-transport-parameters"

// Fill writes everything into dst (nothing aliases packet buffers),
// including JA3 and JA4 computed with the given transport byte. It keeps
// dst.Prologue and, for transport 'q', the QUIC packet facts in dst.QUIC
// (Version, DCID, SCID, Packets) that the QUIC decoder sets; it fills
// dst.QUIC.TransportParameters, creating dst.QUIC if needed. For other
// transports dst.QUIC is left as it is.
//
// The fingerprints and lists are memoised per ClientHello by the exact
// fields they derive from, so a stack seen before costs no formatting,
// hashing or copying: dst shares the strings and the ALPN, version,
// cipher, extension, group and signature slices with earlier observations
// of the same stack (the lists only when their GREASE values are the same
// too). A stack seen before with its extensions in another order (Chrome
// permutes them per connection) shares JA4 and JA4_r, and gets its own
// JA3 and lists. Those slices are read-only; a consumer must copy
// before changing one (their capacity is capped, so an append copies).
// Oddities and QUIC transport parameters are dst's own.
func (h *ClientHello) Fill(dst *observe.ClientHello, transport byte) {
	h.fill(dst, transport, false)
}

// FillBorrowed is Fill for a consumer that is done with dst before the
// next Fill or FillBorrowed on h (capture.Config.ReuseObservations): the
// five uint16 lists are backed by a buffer of h's that the next call
// overwrites, instead of a new allocation each for those that cannot be
// shared with the cache (another GREASE draw or extension order than the
// cached stack's: most Chrome hellos). Everything else is as Fill leaves
// it.
func (h *ClientHello) FillBorrowed(dst *observe.ClientHello, transport byte) {
	h.fill(dst, transport, true)
}

func (h *ClientHello) fill(dst *observe.ClientHello, transport byte, borrow bool) {
	dst.ServerName = h.ServerName // strings are immutable: sharing is no aliasing
	dst.Version = h.LegacyVersion
	e := h.fingerprints(transport)
	dst.ALPN = e.alpn
	dst.SupportedVersions, dst.CipherSuites, dst.Extensions, dst.SupportedGroups, dst.SignatureAlgorithms = h.lists(e, borrow)
	dst.JA3String, dst.JA3, dst.JA4, dst.JA4R = e.ja3String, e.ja3, e.ja4, e.ja4r
	dst.Oddities = nil
	if len(h.Oddities) > 0 {
		dst.Oddities = slices.Clone(h.Oddities)
	}
	if transport == 'q' {
		if dst.QUIC == nil {
			dst.QUIC = &observe.QUICInfo{}
		}
		var ok bool
		dst.QUIC.TransportParameters, ok = ParseQUICTransportParameters(nil, h.QUICTransportParams)
		if !ok {
			dst.Oddities = append(dst.Oddities, OddMalformedQUICTransportParams)
		}
	}
}

// ParseQUICTransportParameters appends the entries of a raw
// quic_transport_parameters body (RFC 9000 section 18: varint id, varint
// length, value) to dst, copying each value. ok is false if the body does
// not parse to its end; the entries before the fault are still appended.
func ParseQUICTransportParameters(dst []observe.QUICTransportParameter, raw []byte) (_ []observe.QUICTransportParameter, ok bool) {
	s := cryptobyte.String(raw)
	for !s.Empty() {
		var id, n uint64
		if !readVarint(&s, &id) || !readVarint(&s, &n) || uint64(len(s)) < n {
			return dst, false
		}
		var v []byte
		s.ReadBytes(&v, int(n))
		dst = append(dst, observe.QUICTransportParameter{ID: id, Value: append([]byte(nil), v...)})
	}
	return dst, true
}

// readVarint reads a QUIC variable-length integer (RFC 9000 section 16).
func readVarint(s *cryptobyte.String, v *uint64) bool {
	if len(*s) == 0 {
		return false
	}
	n := 1 << ((*s)[0] >> 6)
	if len(*s) < n {
		return false
	}
	x := uint64((*s)[0] & 0x3f)
	for i := 1; i < n; i++ {
		x = x<<8 | uint64((*s)[i])
	}
	*s = (*s)[n:]
	*v = x
	return true
}
