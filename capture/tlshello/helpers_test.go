package tlshello

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// goClientStream runs crypto/tls's client over a net.Pipe and returns the
// bytes it writes until its first handshake message is complete.
func goClientStream(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tls.Client(client, cfg).Handshake()
	}()
	var stream []byte
	buf := make([]byte, 4096)
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := server.Read(buf)
		stream = append(stream, buf[:n]...)
		if _, xerr := ExtractHandshake(stream, nil); xerr == nil {
			break
		} else if !errors.Is(xerr, ErrNeedMore) {
			t.Fatalf("ExtractHandshake on Go client stream: %v", xerr)
		}
		if err != nil {
			t.Fatalf("reading Go client stream: %v", err)
		}
	}
	server.Close()
	client.Close()
	if err := <-done; err == nil {
		t.Fatalf("handshake unexpectedly succeeded")
	}
	return stream
}

// ext is one extension for buildHello.
type ext struct {
	typ  uint16
	body []byte
}

// hello describes a ClientHello for buildHello.
type hello struct {
	version     uint16
	sessionID   []byte
	ciphers     []uint16
	compression []byte // nil means {0}
	noExtBlock  bool
	exts        []ext
	trailer     []byte // bytes after the extensions block, inside the body
	extTrailer  []byte // raw bytes at the end of the extensions block
}

// buildHello returns a handshake message (header included) for h.
func buildHello(h hello) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(h.version)
		b.AddBytes(make([]byte, 32))
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range h.ciphers {
				b.AddUint16(c)
			}
		})
		comp := h.compression
		if comp == nil {
			comp = []byte{0}
		}
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(comp) })
		if !h.noExtBlock {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, e := range h.exts {
					b.AddUint16(e.typ)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.body) })
				}
				b.AddBytes(h.extTrailer)
			})
		}
		b.AddBytes(h.trailer)
	})
	return b.BytesOrPanic()
}

// wrapRecords splits msg into handshake records of at most size bytes.
func wrapRecords(msg []byte, size int) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, contentTypeHandshake, 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

func sniBody(names ...string) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, n := range names {
			b.AddUint8(0)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
		}
	})
	return b.BytesOrPanic()
}

func alpnBody(protos ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, p := range protos {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
		}
	})
	return b.BytesOrPanic()
}

func u16ListBody(lenBytes int, vals ...uint16) []byte {
	var b cryptobyte.Builder
	add := func(b *cryptobyte.Builder) {
		for _, v := range vals {
			b.AddUint16(v)
		}
	}
	if lenBytes == 1 {
		b.AddUint8LengthPrefixed(add)
	} else {
		b.AddUint16LengthPrefixed(add)
	}
	return b.BytesOrPanic()
}

// specHello is the example of the FoxIO JA4 spec (technical_details/JA4.md):
// 15 ciphers, 16 extensions in the given order, h2, 8 signature algorithms.
func specHello(withSigs bool) []byte {
	ciphers := []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	order := []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015}
	var exts []ext
	for _, typ := range order {
		var body []byte
		switch typ {
		case 0x0000:
			body = sniBody("example.com")
		case 0x0010:
			body = alpnBody([]byte("h2"), []byte("http/1.1"))
		case 0x000d:
			if !withSigs {
				body = u16ListBody(2) // extension present, list empty
				break
			}
			body = u16ListBody(2, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
		case 0x002b:
			body = u16ListBody(1, 0x0a0a, 0x0304, 0x0303)
		case 0x000a:
			body = u16ListBody(2, 0x0a0a, 29, 23, 24)
		case 0x000b:
			body = []byte{1, 0}
		}
		exts = append(exts, ext{typ, body})
	}
	// GREASE in front of everything, as Chrome does.
	ciphers = append([]uint16{0x2a2a}, ciphers...)
	exts = append([]ext{{0x3a3a, nil}}, exts...)
	exts = append(exts, ext{0xfafa, []byte{0}})
	return buildHello(hello{version: 0x0303, sessionID: make([]byte, 32), ciphers: ciphers, exts: exts})
}
