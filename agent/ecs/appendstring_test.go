package ecs

import (
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// appendStringRef is the byte-at-a-time escaper appendString replaced; the
// fast one must give the same bytes.
func appendStringRef(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			case c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexd[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

var appendStringSeeds = []string{"", "mail.corp.example", `a"b\c`, "tab\there\nnl\r", "<script>&", "\x00\x1f\x7f",
	"naïve ☃ 𝄞", "\u2028\u2029", "\xff\xfe", "a\xe2\x80", "\xef\xbf\xbd literal", "trailing\xc3"}

func TestAppendStringSameAsReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := append([]string(nil), appendStringSeeds...)
	alphabet := []string{"a", "Z", "0", ".", `"`, `\`, "<", ">", "&", "\n", "\x01", "\x7f", "é", "☃", "\u2028", "\xff", "\xe2\x80", "𝄞"}
	for range 5000 {
		var s string
		for range r.IntN(12) {
			s += alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, s)
	}
	// Long runs of safe bytes with one byte of every kind at every
	// position.
	safe := "abcdefghijklmnopqrstuvwxyz0123456789.-_,:/ ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	specials := []string{`"`, `\`, "<", ">", "&", "\x00", "\x1f", " ", "\x7f", "\x80", "é", "\u2028", "\xff", "!", "=", "?", "@", "[", "^", "`", "{", "~"}
	for _, sp := range specials {
		for n := range 40 {
			for pos := 0; pos <= n; pos++ {
				var run []byte
				for k := range n {
					run = append(run, safe[(k*7+pos)%len(safe)])
				}
				inputs = append(inputs, string(run[:pos])+sp+string(run[pos:]))
			}
		}
	}
	for _, s := range inputs {
		if got, want := string(appendString([]byte("x"), s)), string(appendStringRef([]byte("x"), s)); got != want {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range appendStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), string(appendStringRef(nil, s)); got != want {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"ja4-sni", "t13d1516h2_8daaf6152771_e5627efa2ab1,outlook.office365.com"},
		{"ja4r", "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601"},
		{"short", "h2"},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				buf = appendString(buf[:0], c.s)
			}
		})
	}
}

// TestAppendRFC3339Nano: the hand-written formatter gives what
// time.RFC3339Nano gives, for random instants over the years 0-9999 (any
// location, whole seconds and trailing zeros in the fraction), the edges of
// days, months, leap years and the supported range, and years beyond it.
func TestAppendRFC3339Nano(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const minSec, maxSec = -62167219200, 253402300799
	locs := []*time.Location{time.UTC, time.FixedZone("x", -7*3600-1800), time.FixedZone("y", 14*3600)}
	var ts []time.Time
	for _, y := range []int{0, 1, 4, 99, 100, 400, 1582, 1600, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 2400, 9999} {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {2, 29}, {3, 1}, {12, 31}} {
			for _, ns := range []int{0, 1, 10, 100000, 120000000, 999999999} {
				ts = append(ts, time.Date(y, time.Month(md[0]), md[1], 23, 59, 59, ns, time.UTC), time.Date(y, time.Month(md[0]), md[1], 0, 0, 0, ns, time.UTC))
			}
		}
	}
	ts = append(ts, time.Unix(minSec, 0), time.Unix(minSec-1, 5), time.Unix(maxSec, 999999999), time.Unix(maxSec+1, 0),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0))
	for range 200000 {
		sec := minSec + r.Int64N(maxSec-minSec+1)
		ns := r.Int64N(1e9)
		switch r.IntN(4) {
		case 0:
			ns = 0
		case 1:
			ns -= ns % 1000
		}
		ts = append(ts, time.Unix(sec, ns).In(locs[r.IntN(len(locs))]))
	}
	for _, x := range ts {
		want := x.UTC().AppendFormat([]byte("a"), time.RFC3339Nano)
		if got := appendRFC3339Nano([]byte("a"), x); string(got) != string(want) {
			t.Fatalf("%v (Unix %d): got %s, want %s", x, x.Unix(), got, want)
		}
	}
}
