package ecs

import (
	"math/rand/v2"
	"testing"
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
