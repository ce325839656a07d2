// Package quic turns QUIC client Initial packets into the TLS ClientHello
// they carry, so that capture can fingerprint QUIC handshakes like TLS ones.
//
// It owns long-header parsing (RFC 9000 §17.2), coalesced-packet walking,
// Initial key derivation and header-protection removal (RFC 9001 §5 for
// QUIC v1 and draft-29, RFC 9369 for QUIC v2), AES-128-GCM packet
// decryption, the frames an Initial may carry, and bounded reassembly of the
// CRYPTO stream across Initial packets. A Tracker keeps per-connection state
// keyed by the client's original Destination Connection ID, derives a
// connection's keys once and reuses them, and is bounded by an LRU table with
// idle expiry. It never decrypts anything but Initials, whose keys are public
// by design.
//
// Server Initials are told apart without decrypting them: an Initial whose
// DCID is a tracked client's SCID, whose DCID is shorter than 8 bytes, or
// that is coalesced with a Handshake packet of a connection not tracked, is
// not tried as a client's; callers that know the UDP ports pass
// DirectionFromPorts (443 or 8443 to an ephemeral port is the server).
// A client's later Initials, sent to the server's chosen CID, are matched
// by the client's SCID and opened with the original keys; an Initial with a
// token and a new DCID is first tried as the connection that follows a
// Retry. Known connections cost no allocation per packet; a new one costs
// the key derivation (HKDF, AES and GCM setup), once.
//
// It imports only the standard library (crypto/aes, crypto/cipher,
// crypto/hkdf, crypto/sha256) and the observation types of capture/observe.
// A Tracker is not safe for concurrent use: run one per worker.
//
// Errors. Datagram returns an error when no Initial packet of the datagram
// could be attributed to a client connection and processed; each sentinel
// names a Reason, and every skipped packet is counted in Stats.Skipped by
// Reason whether or not it decided the returned error:
//
//   - ErrTruncated: a length field points past the end of the datagram.
//   - ErrMalformed: a field is impossible (connection ID over 20 bytes,
//     a varint that does not fit, a CRYPTO frame past its packet).
//   - ErrShortHeader, ErrVersionNegotiation, ErrRetry, ErrNotInitial: a
//     packet that is not a client Initial; normal traffic, counted.
//   - ErrUnsupportedVersion: a long header of a version whose Initial
//     protection is unknown (gQUIC, other drafts, greased versions).
//   - ErrServerInitial: an Initial recognised as sent by the server (its
//     DCID is a client's SCID, the caller's port hint says so, or its DCID is
//     shorter than the 8 bytes a client's first Initial must use).
//   - ErrNotFirstFlight: an Initial of an unknown connection coalesced with a
//     Handshake packet: the server's first flight or the client's second,
//     neither decryptable with keys derived from its DCID.
//   - ErrDCIDMismatch: a coalesced packet whose DCID differs from the
//     first packet's; ignored as RFC 9000 §12.2 advises.
//   - ErrDecrypt: header protection or AEAD authentication failed. A
//     failed first packet leaves no state behind.
//   - ErrAfterComplete: an Initial of a connection whose ClientHello was
//     already delivered or abandoned; a cheap no-op, nothing is decrypted.
//   - ErrConnectionClose: the client closed the connection in an Initial.
//   - ErrUnexpectedFrame: a frame type an Initial may not carry; the rest of
//     that packet is ignored.
//   - ErrTooLarge: the CRYPTO stream exceeds MaxClientHello.
//   - ErrNotClientHello: the CRYPTO stream does not start with a ClientHello.
package quic
