package tlshello

import (
	"crypto/tls"
	"testing"
)

func benchHello(b *testing.B) *ClientHello {
	stream := goClientStream(b, &tls.Config{ServerName: "outlook.office365.com", NextProtos: []string{"h2", "http/1.1"}})
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		b.Fatal(err)
	}
	var h ClientHello
	if err := h.Unmarshal(msg); err != nil {
		b.Fatal(err)
	}
	return &h
}

func BenchmarkUnmarshal(b *testing.B) {
	stream := goClientStream(b, &tls.Config{ServerName: "outlook.office365.com", NextProtos: []string{"h2", "http/1.1"}})
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		b.Fatal(err)
	}
	var h ClientHello
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := h.Unmarshal(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractHandshakeMultiRecord(b *testing.B) {
	stream := wrapRecords(specHello(true), 100)
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ExtractHandshake(stream, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJA4(b *testing.B) {
	h := benchHello(b)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.JA4('t')
	}
}

func BenchmarkAppendJA4(b *testing.B) {
	h := benchHello(b)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJA4(buf[:0], 't')
	}
}

func BenchmarkJA3(b *testing.B) {
	h := benchHello(b)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.JA3()
	}
}

func BenchmarkAppendJA3(b *testing.B) {
	h := benchHello(b)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJA3(buf[:0])
	}
}
