// Package httpreq recognises a plain HTTP/1.x request head at the start of
// a client's TCP stream and extracts what orchard uses from it: method,
// target, version, Host and User-Agent.
//
// It owns only the request head; it does not parse bodies, responses,
// HTTP/2 or chunked encoding. It imports only capture/observe and the
// standard library. Parse allocates nothing except the strings it stores
// in the result (the method and version are constants).
//
// Errors, all sentinels:
//   - ErrNotHTTP: the bytes are not the start of an HTTP/1.0 or 1.1 request
//     (unknown method, bad request line, control bytes). Decided as early
//     as possible, usually from the first byte, so a caller can stop
//     buffering the stream.
//   - ErrNeedMore: so far the bytes are a valid beginning, but the head's
//     terminating empty line has not arrived; call again with more bytes.
//   - ErrTooLarge: no end of head within MaxHead bytes.
//
// Header lines without a colon and obsolete folded continuation lines are
// skipped, not rejected: a passive sensor reads what it can.
package httpreq
