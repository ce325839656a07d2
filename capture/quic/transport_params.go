package quic

import "github.com/orchard-nsm/orchard/capture/observe"

// ParseTransportParameters parses the body of a quic_transport_parameters
// TLS extension (RFC 9000 §18; draft-29's codepoint 0xffa5 has the same
// layout) and appends its entries to dst in wire order, GREASE included.
// Values alias b: copy them before b is reused. On a truncated entry it
// returns what was parsed before it and ErrTruncated.
func ParseTransportParameters(b []byte, dst []observe.QUICTransportParameter) ([]observe.QUICTransportParameter, error) {
	for len(b) > 0 {
		id, n, ok := readVarint(b)
		if !ok {
			return dst, ErrTruncated
		}
		b = b[n:]
		l, n, ok := readVarint(b)
		if !ok || l > uint64(len(b)-n) {
			return dst, ErrTruncated
		}
		b = b[n:]
		dst = append(dst, observe.QUICTransportParameter{ID: id, Value: b[:l:l]})
		b = b[l:]
	}
	return dst, nil
}
