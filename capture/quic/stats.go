package quic

import "errors"

// Reason says why a packet was skipped or what ended its processing.
type Reason uint8

// Reasons, in Stats.Skipped order.
const (
	ReasonNone               Reason = iota
	ReasonTruncated                 // a length points past the datagram
	ReasonMalformed                 // an impossible field
	ReasonShortHeader               // 1-RTT packet
	ReasonVersionNegotiation        // version 0
	ReasonRetry                     // Retry packet
	ReasonNotInitial                // Handshake or 0-RTT long-header packet
	ReasonUnsupportedVersion        // long header of an unknown version
	ReasonDCIDMismatch              // coalesced packet with another DCID than the first (RFC 9000 §12.2)
	ReasonServerInitial             // Initial sent by the server
	ReasonNotFirstFlight            // unknown connection's Initial coalesced with a Handshake packet
	ReasonDecrypt                   // header protection or AEAD failed
	ReasonUnexpectedFrame           // frame type not allowed in an Initial
	ReasonConnectionClose           // CONNECTION_CLOSE frame: rest of the packet ignored
	ReasonTooLarge                  // CRYPTO stream beyond MaxClientHello
	ReasonNotClientHello            // CRYPTO stream does not start with a ClientHello
	ReasonAfterComplete             // Initial of a connection whose ClientHello was already delivered or abandoned
	NumReasons
)

var reasonNames = [NumReasons]string{
	"none", "truncated", "malformed", "short-header", "version-negotiation", "retry",
	"not-initial", "unsupported-version", "dcid-mismatch", "server-initial",
	"not-first-flight", "decrypt", "unexpected-frame", "connection-close",
	"too-large", "not-client-hello", "after-complete",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Sentinel errors returned by Datagram; see the package documentation.
var (
	ErrTruncated          = errors.New("quic: truncated")
	ErrMalformed          = errors.New("quic: malformed")
	ErrShortHeader        = errors.New("quic: short header packet")
	ErrVersionNegotiation = errors.New("quic: version negotiation packet")
	ErrRetry              = errors.New("quic: retry packet")
	ErrNotInitial         = errors.New("quic: not an initial packet")
	ErrUnsupportedVersion = errors.New("quic: unsupported version")
	ErrDCIDMismatch       = errors.New("quic: coalesced packet with a different destination connection id")
	ErrServerInitial      = errors.New("quic: server initial")
	ErrNotFirstFlight     = errors.New("quic: initial of an unknown connection past its first flight")
	ErrDecrypt            = errors.New("quic: decryption failed")
	ErrUnexpectedFrame    = errors.New("quic: unexpected frame in initial")
	ErrConnectionClose    = errors.New("quic: connection close")
	ErrTooLarge           = errors.New("quic: crypto stream too large")
	ErrNotClientHello     = errors.New("quic: crypto stream is not a client hello")
	ErrAfterComplete      = errors.New("quic: client hello already delivered")
)

var reasonErrs = [NumReasons]error{
	nil, ErrTruncated, ErrMalformed, ErrShortHeader, ErrVersionNegotiation, ErrRetry,
	ErrNotInitial, ErrUnsupportedVersion, ErrDCIDMismatch, ErrServerInitial,
	ErrNotFirstFlight, ErrDecrypt, ErrUnexpectedFrame, ErrConnectionClose,
	ErrTooLarge, ErrNotClientHello, ErrAfterComplete,
}

// Err returns the sentinel error of r, nil for ReasonNone.
func (r Reason) Err() error {
	if r < NumReasons {
		return reasonErrs[r]
	}
	return ErrMalformed
}

// Stats are a Tracker's counters since it was made. They only grow.
type Stats struct {
	Datagrams    uint64 // calls to Datagram
	Packets      uint64 // QUIC packets seen (coalesced ones counted each)
	Initials     uint64 // Initial packets of a supported version
	Decrypted    uint64 // Initial packets opened
	ClientHellos uint64 // ClientHellos delivered
	Connections  uint64 // client connections tracked
	Evictions    uint64 // connections dropped because the table was full
	Expired      uint64 // connections dropped by Expire after their idle time
	Incomplete   uint64 // evicted or expired connections that never delivered a ClientHello
	// Skipped counts packets by the Reason they were skipped or their
	// processing stopped; index with a Reason.
	Skipped [NumReasons]uint64
}
