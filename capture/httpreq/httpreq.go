package httpreq

import (
	"bytes"
	"errors"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Sentinel errors; Parse returns them unwrapped, so == works as well as
// errors.Is.
var (
	ErrNotHTTP  = errors.New("httpreq: not an HTTP/1.x request")
	ErrNeedMore = errors.New("httpreq: incomplete request head")
	ErrTooLarge = errors.New("httpreq: request head larger than MaxHead")
)

// MaxHead bounds the request head (request line and headers with the final
// empty line). Real clients stay far below; a longer head is junk or abuse.
const MaxHead = 8 << 10

// methods are the request methods recognised: RFC 9110's, PATCH, and the
// WebDAV/CalDAV/CardDAV ones (Apple Calendar and Contacts speak these).
var methods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
	"SEARCH", "REPORT", "MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND",
	"MKACTIVITY", "CHECKOUT", "MERGE", "PURGE",
}

const maxMethodLen = len("MKACTIVITY")

const (
	version10 = "HTTP/1.0"
	version11 = "HTTP/1.1"
)

// Parse decodes the request head at the start of b into dst. dst is reset
// first; it is filled only when Parse returns nil.
func Parse(b []byte, dst *observe.HTTPRequest) error {
	*dst = observe.HTTPRequest{}
	full := len(b) >= MaxHead
	if full {
		b = b[:MaxHead]
	}
	// more is the answer when the bytes run out while still valid.
	more := ErrNeedMore
	if full {
		more = ErrTooLarge
	}

	// Method, decided from the first bytes.
	sp := bytes.IndexByte(b[:min(len(b), maxMethodLen+1)], ' ')
	if sp < 0 {
		if len(b) <= maxMethodLen && methodPrefix(b) {
			return more
		}
		return ErrNotHTTP
	}
	method := lookupMethod(b[:sp])
	if method == "" {
		return ErrNotHTTP
	}

	// Target and version. The version is the last word of the line:
	// targets with raw spaces are invalid but real (attack tools send
	// them), and a sensor should still see the request, as tshark does.
	i := sp + 1
	for i < len(b) && b[i] != '\n' {
		if c := b[i]; (c < ' ' && c != '\t' && c != '\r') || c == 0x7f {
			return ErrNotHTTP // control bytes: binary, not a request line
		}
		i++
	}
	if i == len(b) {
		return more
	}
	line := b[sp+1 : i]
	i++
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	last := bytes.LastIndexByte(line, ' ')
	if last <= 0 || bytes.IndexByte(line, '\r') >= 0 {
		return ErrNotHTTP
	}
	target := line[:last]
	var version string
	switch string(line[last+1:]) {
	case version11:
		version = version11
	case version10:
		version = version10
	default:
		return ErrNotHTTP
	}

	// Header lines up to the empty line.
	var host, ua []byte
	var hostSeen, uaSeen bool
	for {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return more
		}
		line := b[i : i+nl]
		i += nl + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obsolete line folding: not worth following
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := trimOWS(line[:colon])
		value := trimOWS(line[colon+1:])
		switch {
		case !hostSeen && asciiEqualFold(name, "host"):
			host, hostSeen = value, true
		case !uaSeen && asciiEqualFold(name, "user-agent"):
			ua, uaSeen = value, true
		}
	}

	dst.Method = method
	dst.Target = string(target)
	dst.Version = version
	if len(host) > 0 {
		dst.Host = string(host)
	}
	if len(ua) > 0 {
		dst.UserAgent = string(ua)
	}
	return nil
}

// lookupMethod returns the constant for a known method, "" otherwise.
// Methods are case-sensitive (RFC 9110 §9.1).
func lookupMethod(m []byte) string {
	for _, k := range methods {
		if string(m) == k { // no allocation: the compiler compares in place
			return k
		}
	}
	return ""
}

func methodPrefix(b []byte) bool {
	for _, k := range methods {
		if len(b) <= len(k) && k[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
