package httpreq

import (
	"strings"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
)

const safariHead = "GET /hotspot-detect.html HTTP/1.0\r\n" +
	"Host: captive.apple.com\r\n" +
	"Connection: close\r\n" +
	"User-Agent: CaptiveNetworkSupport-481.0.1 wispr\r\n" +
	"\r\n"

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want observe.HTTPRequest
	}{
		{safariHead, observe.HTTPRequest{Method: "GET", Target: "/hotspot-detect.html", Version: "HTTP/1.0",
			Host: "captive.apple.com", UserAgent: "CaptiveNetworkSupport-481.0.1 wispr"}},
		// Case-insensitive names, OWS trimmed, first of duplicates kept, LF-only lines, body ignored.
		{"PROPFIND /calendars/u/ HTTP/1.1\nhOsT:\tcal.example.com \nUSER-AGENT: macOS/14.4 (23E214) CalendarAgent/1000\nhost: other\n\n<xml/>",
			observe.HTTPRequest{Method: "PROPFIND", Target: "/calendars/u/", Version: "HTTP/1.1", Host: "cal.example.com",
				UserAgent: "macOS/14.4 (23E214) CalendarAgent/1000"}},
		{"CONNECT gateway.icloud.com:443 HTTP/1.1\r\nHost: gateway.icloud.com:443\r\n\r\n",
			observe.HTTPRequest{Method: "CONNECT", Target: "gateway.icloud.com:443", Version: "HTTP/1.1", Host: "gateway.icloud.com:443"}},
		// Junk header lines and folded continuations are skipped.
		{"GET / HTTP/1.1\r\nnocolon\r\n: empty-name\r\nX: 1\r\n  folded\r\nUser-Agent: ua\r\n\r\n",
			observe.HTTPRequest{Method: "GET", Target: "/", Version: "HTTP/1.1", UserAgent: "ua"}},
		// A raw space in the target: the version is the last word.
		{"GET /a b HTTP/1.1\r\n\r\n", observe.HTTPRequest{Method: "GET", Target: "/a b", Version: "HTTP/1.1"}},
	}
	for _, c := range cases {
		var got observe.HTTPRequest
		if err := Parse([]byte(c.in), &got); err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrNeedMore},
		{"G", ErrNeedMore},
		{"PROPPA", ErrNeedMore},
		{"GET /x HTTP/1.1\r\nHost: a\r\n", ErrNeedMore},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrNotHTTP}, // TLS ClientHello
		{"SSH-2.0-OpenSSH_9.6\r\n", ErrNotHTTP},
		{"get / HTTP/1.1\r\n\r\n", ErrNotHTTP}, // methods are case-sensitive
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrNotHTTP},
		{"GET / HTTP/2\r\n\r\n", ErrNotHTTP},
		{"GET / HTTP/1.1 \r\n\r\n", ErrNotHTTP},
		{"GET  HTTP/1.1\r\n\r\n", ErrNotHTTP},
		{"GET /\x00 HTTP/1.1\r\n\r\n", ErrNotHTTP},
		{"GET /", ErrNeedMore},
		{"HTTP/1.1 200 OK\r\n\r\n", ErrNotHTTP}, // a response
		{"GET / HTTP/1.1\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 500), ErrTooLarge},
		{"GET /" + strings.Repeat("a", MaxHead), ErrTooLarge},
	}
	for _, c := range cases {
		var got observe.HTTPRequest
		got.Host = "stale"
		if err := Parse([]byte(c.in), &got); err != c.want {
			t.Errorf("%.40q: %v, want %v", c.in, err, c.want)
		}
		if got != (observe.HTTPRequest{}) {
			t.Errorf("%.40q: dst not reset on error: %+v", c.in, got)
		}
	}
}

// TestPrefixes: every proper prefix of a valid head says ErrNeedMore (the
// head is incomplete, never "not HTTP"), and the whole head parses.
func TestPrefixes(t *testing.T) {
	for _, head := range []string{safariHead, "PROPFIND / HTTP/1.1\nHost: h\n\n"} {
		var r observe.HTTPRequest
		for n := range len(head) {
			if err := Parse([]byte(head[:n]), &r); err != ErrNeedMore {
				t.Fatalf("prefix %d %q: %v", n, head[:n], err)
			}
		}
		if err := Parse([]byte(head), &r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllocs(t *testing.T) {
	b := []byte(safariHead)
	var r observe.HTTPRequest
	// Target, Host and User-Agent: three strings, nothing else.
	if n := testing.AllocsPerRun(200, func() { _ = Parse(b, &r) }); n > 3 {
		t.Errorf("%v allocations, want 3", n)
	}
	tls := []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
	if n := testing.AllocsPerRun(200, func() { _ = Parse(tls, &r) }); n != 0 {
		t.Errorf("%v allocations on ErrNotHTTP, want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(safariHead))
	f.Add([]byte("GET /a b HTTP/1.1\nUser-Agent:x\n\n"))
	f.Add([]byte("\x16\x03\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r observe.HTTPRequest
		err := Parse(b, &r)
		switch err {
		case nil:
			if r.Method == "" || (r.Version != "HTTP/1.0" && r.Version != "HTTP/1.1") || r.Target == "" {
				t.Fatalf("accepted %+v", r)
			}
			// A complete head stays complete with more bytes after it.
			if len(b) < MaxHead-1 {
				var r2 observe.HTTPRequest
				if err := Parse(append(b[:len(b):len(b)], 'x'), &r2); err != nil || r2 != r {
					t.Fatalf("extra byte changed result: %v %+v", err, r2)
				}
			}
		case ErrNotHTTP, ErrNeedMore, ErrTooLarge:
			if r != (observe.HTTPRequest{}) {
				t.Fatalf("dst set on error: %+v", r)
			}
		default:
			t.Fatalf("unnamed error %v", err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	buf := []byte(safariHead)
	var r observe.HTTPRequest
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := Parse(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotHTTP(b *testing.B) {
	buf := []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
	var r observe.HTTPRequest
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(buf, &r); err != ErrNotHTTP {
			b.Fatal(err)
		}
	}
}
