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

// Fill writes everything into dst (copies, no aliasing of packet buffers),
// including JA3 and JA4 computed with the given transport byte. It keeps
// dst.Prologue and, for transport 'q', the QUIC packet facts in dst.QUIC
// (Version, DCID, SCID, Packets) that the QUIC decoder sets; it fills
// dst.QUIC.TransportParameters, creating dst.QUIC if needed. For other
// transports dst.QUIC is left as it is.
func (h *ClientHello) Fill(dst *observe.ClientHello, transport byte) {
	dst.ServerName = h.ServerName // strings are immutable: sharing is no aliasing
	dst.ALPN = slices.Clone(h.ALPN)
	dst.Version = h.LegacyVersion
	// One backing array for the five lists and one string for the four
	// fingerprints: a ClientHello observation costs a handful of
	// allocations, not a dozen.
	n := len(h.SupportedVersions) + len(h.CipherSuites) + len(h.Extensions) + len(h.SupportedGroups) + len(h.SignatureAlgorithms)
	backing := make([]uint16, 0, n)
	carve := func(v []uint16) []uint16 {
		start := len(backing)
		backing = append(backing, v...)
		return backing[start:len(backing):len(backing)]
	}
	dst.SupportedVersions = carve(h.SupportedVersions)
	dst.CipherSuites = carve(h.CipherSuites)
	dst.Extensions = carve(h.Extensions)
	dst.SupportedGroups = carve(h.SupportedGroups)
	dst.SignatureAlgorithms = carve(h.SignatureAlgorithms)

	var buf [1024]byte
	b := h.AppendJA3String(buf[:0])
	i1 := len(b)
	b = h.AppendJA3(b)
	i2 := len(b)
	b = h.AppendJA4(b, transport)
	i3 := len(b)
	b = h.AppendJA4R(b, transport)
	all := string(b)
	dst.JA3String, dst.JA3, dst.JA4, dst.JA4R = all[:i1], all[i1:i2], all[i2:i3], all[i3:]
	dst.Oddities = slices.Clone(h.Oddities)
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
