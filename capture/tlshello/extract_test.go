package tlshello

import (
	"crypto/tls"
	"errors"
	"testing"
)

func TestExtractHandshakeSingleRecordNoCopy(t *testing.T) {
	msg := specHello(true)
	stream := wrapRecords(msg, 1<<14)
	stream = append(stream, 20, 3, 3, 0, 1, 1) // a CCS after it is ignored
	got, err := ExtractHandshake(stream, make([]byte, 0, 8))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatalf("message differs")
	}
	if &got[0] != &stream[recordHeaderLen] {
		t.Errorf("single-record message was copied")
	}
}

func TestExtractHandshakeAcrossRecords(t *testing.T) {
	msg := specHello(true)
	for _, size := range []int{1, 2, 3, 4, 5, 100, len(msg) - 1} {
		stream := wrapRecords(msg, size)
		dst := make([]byte, 0, 16)
		got, err := ExtractHandshake(stream, dst)
		if err != nil {
			t.Fatalf("records of %d: %v", size, err)
		}
		if string(got) != string(msg) {
			t.Fatalf("records of %d: message differs", size)
		}
		// Every shorter stream needs more bytes.
		for i := range len(stream) {
			if _, err := ExtractHandshake(stream[:i], dst); !errors.Is(err, ErrNeedMore) {
				// The message is complete before the last record's end only
				// if the records are cut exactly there, which wrapRecords
				// never does; so every proper prefix must ask for more.
				t.Fatalf("records of %d, prefix %d: err = %v, want ErrNeedMore", size, i, err)
			}
		}
	}
}

func TestExtractHandshakeReusesDst(t *testing.T) {
	msg := specHello(true)
	stream := wrapRecords(msg, 64)
	dst := make([]byte, 0, 4096)
	got, err := ExtractHandshake(stream, dst)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &dst[:1][0] {
		t.Errorf("dst with enough capacity was not reused")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ExtractHandshake(stream, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ExtractHandshake allocates %.1f times with a big enough dst", allocs)
	}
}

func TestExtractHandshakeErrors(t *testing.T) {
	big := []byte{22, 3, 1, 0x40, 0x00, 1, 0x10, 0, 0} // message of 1 MiB
	tests := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"empty", nil, ErrNeedMore},
		{"one byte of handshake", []byte{22}, ErrNeedMore},
		{"record header only", []byte{22, 3, 1, 0, 50}, ErrNeedMore},
		{"http", []byte("GET / HTTP/1.1\r\n"), ErrNotTLS},
		{"http short", []byte("GE"), ErrNotTLS},
		{"sslv2 compatible hello", []byte{0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0, 0, 0, 0x10}, ErrNotTLS},
		{"record version 3.5", []byte{22, 3, 5, 0, 4, 1, 0, 0, 0}, ErrNotTLS},
		{"record version 2.0", []byte{22, 2, 0, 0, 4, 1, 0, 0, 0}, ErrNotTLS},
		{"zero-length record", []byte{22, 3, 1, 0, 0}, ErrNotTLS},
		{"oversized record", []byte{22, 3, 1, 0xff, 0xff, 1}, ErrNotTLS},
		{"application data", []byte{23, 3, 3, 0, 2, 1, 2}, ErrNotHandshake},
		{"alert inside a message", append(wrapRecords(specHello(true)[:10], 10), 21, 3, 3, 0, 2, 2, 40), ErrNotHandshake},
		{"too large", big, ErrTooLarge},
		{"too large across records", []byte{22, 3, 1, 0, 2, 1, 0x10, 22, 3, 1, 0, 2, 0, 0}, ErrTooLarge},
	}
	for _, tt := range tests {
		if _, err := ExtractHandshake(tt.stream, nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestLooksLikeTLS(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{22, 3, 1}, true},
		{[]byte{22, 3, 3, 0, 5}, true},
		{[]byte{22, 3}, false},
		{[]byte{23, 3, 3}, false},
		{[]byte("GET"), false},
		{[]byte{0x80, 0x2e, 0x01}, false},
	} {
		if got := LooksLikeTLS(tt.b); got != tt.want {
			t.Errorf("LooksLikeTLS(%x) = %v", tt.b, got)
		}
	}
}

// TestPrefixes: every truncated prefix of several valid hellos returns an
// error, from Unmarshal and from ExtractHandshake.
func TestPrefixes(t *testing.T) {
	goStream := goClientStream(t, &tls.Config{ServerName: "example.org", NextProtos: []string{"h2"}})
	goMsg, err := ExtractHandshake(goStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string][]byte{
		"go":         goMsg,
		"spec":       specHello(true),
		"no-sigalgs": specHello(false),
		"no-ext":     buildHello(hello{version: 0x0300, ciphers: []uint16{4, 5}, noExtBlock: true}),
	}
	for name, msg := range msgs {
		var h ClientHello
		if err := h.Unmarshal(msg); err != nil {
			t.Fatalf("%s: full message: %v", name, err)
		}
		for i := range len(msg) {
			if err := h.Unmarshal(msg[:i]); !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s: Unmarshal(prefix %d of %d) = %v, want ErrTruncated", name, i, len(msg), err)
			}
		}
		stream := wrapRecords(msg, 300)
		for i := range len(stream) {
			if _, err := ExtractHandshake(stream[:i], nil); err == nil {
				t.Fatalf("%s: ExtractHandshake(prefix %d of %d) succeeded", name, i, len(stream))
			}
		}
	}
}

// TestTruncatedBodies re-frames every prefix of a hello's body with a
// matching header, so that the body parser (not the header check) meets the
// end of input: it must fail cleanly or parse a shorter hello, never panic.
func TestTruncatedBodies(t *testing.T) {
	msg := specHello(true)
	body := msg[handshakeHeaderLen:]
	var h ClientHello
	minimal := 2 + 32 + 1 + 32 + 2 + 2*16 + 1 + 1 // up to and including compression
	for i := range len(body) {
		m := append([]byte{typeClientHello, byte(i >> 16), byte(i >> 8), byte(i)}, body[:i]...)
		err := h.Unmarshal(m)
		if i < minimal && !errors.Is(err, ErrTruncated) {
			t.Fatalf("body prefix %d: err = %v, want ErrTruncated", i, err)
		}
		if i > minimal && i < len(body) && err == nil && len(h.Oddities) == 0 {
			t.Fatalf("body prefix %d: parsed without error or oddity", i)
		}
	}
}
