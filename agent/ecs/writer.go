package ecs

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// obj appends one JSON object with nested objects, omitting empty values.
// Field order is the order of the calls, so output is stable for golden files.
type obj struct {
	b     []byte
	first [8]bool // per open object: no member written yet
	depth int     // open objects minus one
}

func begin(dst []byte) obj {
	o := obj{b: append(dst, '{')}
	o.first[0] = true
	return o
}

func (o *obj) push() {
	if o.depth < len(o.first)-1 {
		o.depth++
	}
	o.first[o.depth] = true
}

// key starts a member. k is one of this package's field names (a
// constant, never data), written as it is: TestKeysArePlainNames checks
// every key of every kind of line.
func (o *obj) key(k string) {
	if !o.first[o.depth] {
		o.b = append(o.b, ',')
	}
	o.first[o.depth] = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// open starts a nested object.
func (o *obj) open(k string) {
	o.key(k)
	o.b = append(o.b, '{')
	o.push()
}

func (o *obj) close() {
	o.b = append(o.b, '}')
	if o.depth > 0 {
		o.depth--
	}
}

// end closes every open object and returns the line (without newline).
func (o *obj) end() []byte {
	for o.depth > 0 {
		o.close()
	}
	return append(o.b, '}')
}

func (o *obj) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = appendString(o.b, v)
}

// mac writes a MAC as observe.MAC.String does; the zero MAC is omitted.
func (o *obj) mac(k string, m observe.MAC) {
	if m.IsZero() {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = m.AppendText(o.b)
	o.b = append(o.b, '"')
}

func (o *obj) strAlways(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *obj) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *obj) uintNZ(k string, v uint64) {
	if v != 0 {
		o.uint(k, v)
	}
}

func (o *obj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *obj) float(k string, v float64) {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
}

func (o *obj) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *obj) time(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = appendRFC3339Nano(o.b, t)
	o.b = append(o.b, '"')
}

// appendRFC3339Nano appends t in UTC as time.RFC3339Nano does, for years
// 0 to 9999 without time.Format's layout walk (every line has a
// timestamp: a fifth of the cost of writing a short event); other years
// go through time.Format.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	const (
		minSec = -62167219200 // 0000-01-01T00:00:00Z
		maxSec = 253402300799 // 9999-12-31T23:59:59Z
	)
	sec := t.Unix()
	if sec < minSec || sec > maxSec {
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	days := (sec - minSec) / 86400 // from 0000-01-01: not negative
	sod := int(sec - minSec - days*86400)
	// Civil date from a day count (H. Hinnant's algorithm), with years
	// starting on March 1st so that leap days come last.
	z := days - 60 // from 0000-03-01 (0000 is a leap year)
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
		y++
	}
	var f [30]byte // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
	put2(&f, 0, int(y/100))
	put2(&f, 2, int(y%100))
	f[4] = '-'
	put2(&f, 5, int(m))
	f[7] = '-'
	put2(&f, 8, int(d))
	f[10] = 'T'
	put2(&f, 11, sod/3600)
	f[13] = ':'
	put2(&f, 14, sod/60%60)
	f[16] = ':'
	put2(&f, 17, sod%60)
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		f[19] = '.'
		f[20] = byte('0' + ns/1e8)
		r := ns % 1e8
		put2(&f, 21, r/1e6)
		put2(&f, 23, r/1e4%100)
		put2(&f, 25, r/100%100)
		put2(&f, 27, r%100)
		n = 29
		for f[n-1] == '0' {
			n--
		}
	}
	f[n] = 'Z'
	return append(b, f[:n+1]...)
}

// digits2 is "00" to "99".
const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v (0..99) as two digits at f[i:i+2].
func put2(f *[30]byte, i, v int) {
	f[i], f[i+1] = digits2[2*v], digits2[2*v+1]
}

func (o *obj) addr(k string, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = a.AppendTo(o.b)
	o.b = append(o.b, '"')
}

func (o *obj) strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

func (o *obj) hex(k string, v []byte) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = hex.AppendEncode(o.b, v)
	o.b = append(o.b, '"')
}

func (o *obj) uints(k string, v []uint64) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, n := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = strconv.AppendUint(o.b, n, 10)
	}
	o.b = append(o.b, ']')
}

// arr starts a list member; items are written with item/endItem.
func (o *obj) arr(k string) {
	o.key(k)
	o.b = append(o.b, '[')
}

func (o *obj) item(i int) {
	if i > 0 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '{')
	o.push()
}

func (o *obj) endItem() { o.close() }

func (o *obj) endArr() { o.b = append(o.b, ']') }

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD:
// names on the wire are attacker-controlled bytes. Runs of bytes that need
// no escape (nearly all of them) are found by safeRun and appended in one
// copy.
func appendString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	start, i := 0, 0
	for {
		i = safeRun(s, i)
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Control characters, DEL, and '<', '>', '&' (safe to
				// embed in HTML views).
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexd[r&0xf])
		default:
			i += size // valid UTF-8 stays in the run
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// safeRun returns the index of the first byte of s at or after i that is
// not jsonSafe (len(s) if none). A function of its own, not inlined: inside
// appendString the scan kept its index on the stack, 14 instructions a
// byte; here it stays in registers.
//
//go:noinline
func safeRun(s string, i int) int {
	t := &jsonSafe
	for ; i+4 <= len(s); i += 4 {
		q := s[i : i+4]
		if !t[q[0]] {
			return i
		}
		if !t[q[1]] {
			return i + 1
		}
		if !t[q[2]] {
			return i + 2
		}
		if !t[q[3]] {
			return i + 3
		}
	}
	for ; i < len(s); i++ {
		if !t[s[i]] {
			return i
		}
	}
	return i
}

// jsonSafe marks the bytes appendString copies as they are: printable
// ASCII but '"', '\\', '<', '>' and '&'. Bytes from 0x80 are not: they
// start UTF-8 sequences, checked by appendString.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
