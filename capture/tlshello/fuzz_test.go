package tlshello

import (
	"bytes"
	"crypto/tls"
	"errors"
	"slices"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
)

func fuzzSeeds(f *testing.F) [][]byte {
	goStream := goClientStream(f, &tls.Config{ServerName: "example.org", NextProtos: []string{"h2", "http/1.1"}})
	goMsg, err := ExtractHandshake(goStream, nil)
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		goMsg,
		specHello(true),
		specHello(false),
		buildHello(hello{version: 0x0300, ciphers: []uint16{4, 5}, noExtBlock: true}),
		buildHello(hello{version: 0x0303, exts: []ext{{0, sniBody("a.", "b")}, {extALPN, alpnBody([]byte{0xba, 0xad})}, {extALPN, nil}, {extQUICTransportParams, []byte{1, 1, 1}}, {0xffa5, nil}}, trailer: []byte{9}}),
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	var h ClientHello
	f.Fuzz(func(t *testing.T, msg []byte) {
		if err := h.Unmarshal(msg); err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotClientHello) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		ja4, ja4r := h.JA4('t')
		if len(ja4) != 36 || ja4[:10] != ja4r[:10] || ja4[10] != '_' || ja4[23] != '_' {
			t.Fatalf("malformed JA4 %q / %q", ja4, ja4r)
		}
		str, sum := h.JA3()
		if len(sum) != 32 || len(str) < 4 {
			t.Fatalf("malformed JA3 %q %q", str, sum)
		}
		// The shared parser (its interned strings, its caches) reads
		// what a fresh one does.
		var fresh ClientHello
		if err := fresh.Unmarshal(msg); err != nil {
			t.Fatalf("fresh parser: %v", err)
		}
		if !slices.Equal(fresh.ALPN, h.ALPN) || !slices.Equal(fresh.Oddities, h.Oddities) || fresh.ServerName != h.ServerName ||
			!slices.Equal(fresh.Extensions, h.Extensions) || !slices.Equal(fresh.CipherSuites, h.CipherSuites) {
			t.Fatalf("shared parser differs from a fresh one:\nshared %+v\nfresh  %+v", h, fresh)
		}
		// A second parse of the same bytes gives the same result.
		ja4b, _ := h.JA4('t')
		if err := h.Unmarshal(msg); err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if ja4c, _ := h.JA4('t'); ja4c != ja4b {
			t.Fatalf("JA4 not stable: %q vs %q", ja4b, ja4c)
		}
		// Fill through the cache (shared by every input of this run) is a
		// fresh computation, in this extension order and in the reverse
		// one (a stack found by its shape).
		if len(h.Extensions) <= maxShapeExtensions {
			if got, want := h.shapeKeyFrom(nil, h.fpKey(nil, 't')), h.fpShapeKey(nil, 't'); !bytes.Equal(got, want) {
				t.Fatalf("shape key from the exact key % x, want % x", got, want)
			}
		}
		var o observe.ClientHello
		h.Fill(&o, 't')
		sameFill(t, "cached", o, freshFill(&h, 't'))
		slices.Reverse(h.Extensions)
		h.Fill(&o, 't')
		sameFill(t, "reversed extensions", o, freshFill(&h, 't'))
		// FillBorrowed, in both orders: its lists may live in a reused
		// buffer, their values may not differ.
		h.FillBorrowed(&o, 't')
		sameFill(t, "borrowed, reversed", o, freshFill(&h, 't'))
		slices.Reverse(h.Extensions)
		h.FillBorrowed(&o, 't')
		sameFill(t, "borrowed", o, freshFill(&h, 't'))
	})
}

func FuzzExtractHandshake(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(wrapRecords(s, 1<<14))
		f.Add(wrapRecords(s, 7))
	}
	f.Add([]byte{0x80, 0x2e, 0x01, 0x03, 0x01})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	dst := make([]byte, 0, 64)
	f.Fuzz(func(t *testing.T, stream []byte) {
		msg, err := ExtractHandshake(stream, dst)
		if err != nil {
			for _, want := range []error{ErrNeedMore, ErrNotTLS, ErrNotHandshake, ErrTooLarge} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		n := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
		if len(msg) != n || n > MaxHandshakeSize {
			t.Fatalf("message of %d bytes, header says %d", len(msg), n)
		}
		var h ClientHello
		_ = h.Unmarshal(msg)
	})
}
