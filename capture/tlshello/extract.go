package tlshello

import "errors"

// Sentinel errors; see the package documentation for what each means.
var (
	ErrTruncated      = errors.New("tlshello: truncated")
	ErrNotHandshake   = errors.New("tlshello: not a handshake record")
	ErrNotClientHello = errors.New("tlshello: not a ClientHello")
	ErrNeedMore       = errors.New("tlshello: need more stream bytes")
	ErrNotTLS         = errors.New("tlshello: not TLS records")
	ErrTooLarge       = errors.New("tlshello: handshake message too large")
)

const (
	recordHeaderLen    = 5
	handshakeHeaderLen = 4

	contentTypeChangeCipherSpec = 20
	contentTypeAlert            = 21
	contentTypeHandshake        = 22
	contentTypeApplicationData  = 23

	typeClientHello = 1

	// maxRecordLen is the largest record length accepted: 2^14 plaintext
	// plus the 2048 bytes RFC 5246 allows a ciphertext to grow. Anything
	// larger is not a TLS record.
	maxRecordLen = 1<<14 + 2048
)

// MaxHandshakeSize bounds the handshake message ExtractHandshake assembles.
// Real ClientHellos are under 2 KB even with post-quantum key shares; 64 KiB
// leaves room for padding and odd clients while bounding memory per flow.
const MaxHandshakeSize = 64 << 10

// LooksLikeTLS reports whether b starts like a TLS handshake record (content
// type 22, version 0x03xx).
func LooksLikeTLS(b []byte) bool {
	return len(b) >= 3 && b[0] == contentTypeHandshake && b[1] == 3
}

// recordHeader checks the 5-byte record header at b[0:5] and returns the
// content type and the record length.
func recordHeader(b []byte) (typ byte, length int, err error) {
	typ = b[0]
	switch typ {
	case contentTypeChangeCipherSpec, contentTypeAlert, contentTypeHandshake, contentTypeApplicationData:
	default:
		return 0, 0, ErrNotTLS
	}
	if b[1] != 3 || b[2] > 4 {
		return 0, 0, ErrNotTLS
	}
	length = int(b[3])<<8 | int(b[4])
	if length == 0 || length > maxRecordLen {
		return 0, 0, ErrNotTLS
	}
	return typ, length, nil
}

// prefixIsTLS reports whether a stream shorter than a record header could
// still be the start of a TLS record, so the caller should wait for more.
func prefixIsTLS(b []byte) bool {
	if len(b) >= 1 {
		switch b[0] {
		case contentTypeChangeCipherSpec, contentTypeAlert, contentTypeHandshake, contentTypeApplicationData:
		default:
			return false
		}
	}
	if len(b) >= 2 && b[1] != 3 {
		return false
	}
	if len(b) >= 3 && b[2] > 4 {
		return false
	}
	return true
}

// ExtractHandshake finds the first handshake message in a client's TCP byte
// stream of TLS records (it may span several records); returns ErrNeedMore if
// more stream bytes are needed, ErrNotTLS if the stream is not TLS records.
// The returned slice is dst[:n] (dst reused, grown if needed), or a subslice
// of stream when the message sits in one record (no copy).
//
// The message is returned as soon as its bytes are present, even if the
// record carrying its end is not complete yet. Bytes after it are ignored.
func ExtractHandshake(stream, dst []byte) (msg []byte, err error) {
	if len(stream) < recordHeaderLen {
		if prefixIsTLS(stream) {
			return nil, ErrNeedMore
		}
		return nil, ErrNotTLS
	}
	typ, recLen, err := recordHeader(stream)
	if err != nil {
		return nil, err
	}
	if typ != contentTypeHandshake {
		return nil, ErrNotHandshake
	}
	avail := min(recLen, len(stream)-recordHeaderLen)
	first := stream[recordHeaderLen : recordHeaderLen+avail]
	if len(first) >= handshakeHeaderLen {
		n := handshakeHeaderLen + (int(first[1])<<16 | int(first[2])<<8 | int(first[3]))
		if n > MaxHandshakeSize {
			return nil, ErrTooLarge
		}
		if n <= recLen {
			// Fast path: the whole message is inside the first record.
			if n <= len(first) {
				return first[:n], nil
			}
			return nil, ErrNeedMore
		}
	}

	// Slow path: the message (or even its header) continues in later
	// records. Copy fragments into dst until the declared length is there.
	msg = dst[:0]
	need := -1 // total message length, once the header is known
	rest := stream
	for {
		if len(rest) < recordHeaderLen {
			if prefixIsTLS(rest) {
				return nil, ErrNeedMore
			}
			return nil, ErrNotTLS
		}
		typ, recLen, err := recordHeader(rest)
		if err != nil {
			return nil, err
		}
		if typ != contentTypeHandshake {
			// An alert or CCS in the middle of a handshake message is not
			// a valid flight.
			return nil, ErrNotHandshake
		}
		frag := rest[recordHeaderLen:]
		complete := len(frag) >= recLen
		if complete {
			frag = frag[:recLen]
		}
		if need < 0 && len(msg)+len(frag) >= handshakeHeaderLen {
			var hdr [handshakeHeaderLen]byte
			k := copy(hdr[:], msg)
			copy(hdr[k:], frag)
			need = handshakeHeaderLen + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
			if need > MaxHandshakeSize {
				return nil, ErrTooLarge
			}
			if cap(msg) < need {
				grown := make([]byte, len(msg), need)
				copy(grown, msg)
				msg = grown
			}
		}
		if need >= 0 && len(msg)+len(frag) >= need {
			return append(msg, frag[:need-len(msg)]...), nil
		}
		if !complete {
			return nil, ErrNeedMore
		}
		msg = append(msg, frag...)
		rest = rest[recordHeaderLen+recLen:]
	}
}
