package dnsmsg

// DNS over TCP prefixes every message with its length as two bytes, big
// endian (RFC 1035 §4.2.2); one segment may carry several messages, or a
// message may span segments.

// NextTCP takes the first complete length-prefixed message off stream.
// msg aliases stream (no copy) and excludes the prefix; rest is what follows
// it. ok is false when stream does not yet hold a complete message: then
// rest is stream unchanged, to be kept until more bytes arrive. A zero
// length prefix yields an empty msg (Parse reports it as ErrTruncated),
// so a bad stream is visible rather than silently skipped.
func NextTCP(stream []byte) (msg, rest []byte, ok bool) {
	if len(stream) < 2 {
		return nil, stream, false
	}
	n := int(stream[0])<<8 | int(stream[1])
	if len(stream)-2 < n {
		return nil, stream, false
	}
	return stream[2 : 2+n : 2+n], stream[2+n:], true
}

// SplitTCP returns every complete message in stream, in order, and the
// incomplete remainder. The messages alias stream. It allocates the slice
// of messages; loop over NextTCP on hot paths.
func SplitTCP(stream []byte) (msgs [][]byte, rest []byte) {
	rest = stream
	for {
		m, r, ok := NextTCP(rest)
		if !ok {
			return msgs, rest
		}
		msgs = append(msgs, m)
		rest = r
	}
}
