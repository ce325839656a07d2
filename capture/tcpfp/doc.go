// Package tcpfp fingerprints TCP SYNs (not SYN-ACKs) the way p0f v3 does,
// and builds the JA4T-style raw field list (window, option kinds, MSS,
// window scale) that public fingerprint lists use.
//
// It owns the TCP SYN shape: IP version, observed and guessed initial TTL,
// IPv4 option length, MSS, window and scale, option layout and quirks in
// p0f's names, payload class, and the p0f-syntax signature string
// "ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass". The signature uses
// the guessed initial TTL (p0f.fp syntax), not p0f's observed "ttl+distance"
// of raw_sig, so it can be matched against p0f.fp entries directly.
//
// It imports only capture/observe and the standard library. Fingerprint
// does not allocate except for the result: one string holding the
// signature (Options is a substring of it) and JA4T, and the quirk slice.
//
// Errors: ErrTruncated means a header is shorter than it says it is (or
// than the fixed minimum); ErrMalformed means a header field is impossible
// (wrong IP version, TCP data offset below 20); ErrNotSYN means the
// segment is not a SYN without ACK. Malformed TCP options are not an
// error: they are recorded as the p0f quirk "bad", as p0f does.
package tcpfp
