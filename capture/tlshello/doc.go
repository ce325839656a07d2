// Package tlshello owns the TLS ClientHello: finding the first handshake
// message in a client's TCP byte stream of TLS records (ExtractHandshake),
// parsing a ClientHello leniently into raw fields (ClientHello.Unmarshal), and
// the JA3 and JA4 fingerprints computed from it. QUIC and DTLS carriers hand
// their reassembled handshake message to the same parser and pass their
// transport letter ('q', 'd') to JA4.
//
// It imports only capture/observe (for the types Fill writes),
// golang.org/x/crypto/cryptobyte (QUIC transport parameters) and the
// standard library. The ClientHello itself is read with a small local
// reader of the same semantics, whose methods inline (reader.go).
//
// The parser is built for a passive sensor: anything a real client might send,
// however odd (duplicate extensions, a trailing-dot SNI, unknown versions,
// bytes after the extensions), is parsed and noted in ClientHello.Oddities
// rather than rejected. Only input that cannot be framed is an error:
//
//   - ErrNeedMore: the stream is TLS so far but the handshake message is not
//     complete yet; call again with more bytes.
//   - ErrNotTLS: the bytes are not TLS records (another protocol, an
//     SSLv2-compatible hello, a record version outside 0x0300..0x0304, or an
//     impossible record length).
//   - ErrNotHandshake: TLS records, but not of the handshake content type.
//   - ErrTooLarge: the handshake message is longer than MaxHandshakeSize.
//   - ErrTruncated: a handshake message or one of its length-prefixed fields
//     ends before its declared length.
//   - ErrNotClientHello: a complete handshake message of another type.
//
// Unmarshal reuses the ClientHello's slices and does not allocate on repeat
// calls with same-shaped input; its []byte fields (Random, SessionID,
// Compression, QUICTransportParams) alias the message passed in. Fill copies
// everything out for an observation that outlives the packet buffers.
package tlshello
