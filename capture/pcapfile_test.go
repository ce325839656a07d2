package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// samplePcap writes frames of the given lengths as a classic pcap file,
// microsecond or nanosecond, little or big endian.
func samplePcap(t testing.TB, nano, big bool, snap uint32, lens ...int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *pcapgo.Writer
	if nano {
		w = pcapgo.NewWriterNanos(&buf)
	} else {
		w = pcapgo.NewWriter(&buf)
	}
	if err := w.WriteFileHeader(snap, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, n := range lens {
		data := bytes.Repeat([]byte{byte(i + 1)}, n)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 123456789), CaptureLength: n, Length: n + i}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	b := buf.Bytes()
	if big {
		// pcapgo writes little endian only: swap every field.
		b = bytes.Clone(b)
		swap32 := func(o int) { binary.BigEndian.PutUint32(b[o:], binary.LittleEndian.Uint32(b[o:])) }
		binary.BigEndian.PutUint16(b[4:], binary.LittleEndian.Uint16(b[4:]))
		binary.BigEndian.PutUint16(b[6:], binary.LittleEndian.Uint16(b[6:]))
		for _, o := range []int{0, 8, 12, 16, 20} {
			swap32(o)
		}
		for o := 24; o+16 <= len(b); {
			capLen := int(binary.LittleEndian.Uint32(b[o+8:]))
			for f := 0; f < 16; f += 4 {
				swap32(o + f)
			}
			o += 16 + capLen
		}
	}
	return b
}

type readResult struct {
	data         []byte
	ts           time.Time
	capLen, wire int
	err          string
	truncated    bool
	cleanEOF     bool
}

// readAll reads b with pcapgo's reader (ref) or ours and records every
// packet and the final error.
func readAll(b []byte, ref bool) (link layers.LinkType, out []readResult, hdrErr string) {
	var next func() ([]byte, gopacket.CaptureInfo, error)
	if ref {
		r, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			return 0, nil, err.Error()
		}
		link, next = r.LinkType(), r.ZeroCopyReadPacketData
	} else {
		r := newPcapReader(iotest1{bytes.NewReader(b)})
		if err := r.readHeader(); err != nil {
			return 0, nil, err.Error()
		}
		link = layers.LinkType(r.link)
		next = func() ([]byte, gopacket.CaptureInfo, error) {
			var ci gopacket.CaptureInfo
			d, ts, c, w, err := r.next()
			ci.Timestamp, ci.CaptureLength, ci.Length = ts, c, w
			return d, ci, err
		}
	}
	for i := 0; i < 1000; i++ {
		d, ci, err := next()
		if err != nil {
			out = append(out, readResult{err: err.Error(), truncated: errors.Is(err, io.ErrUnexpectedEOF), cleanEOF: err == io.EOF})
			return link, out, ""
		}
		out = append(out, readResult{data: bytes.Clone(d), ts: ci.Timestamp, capLen: ci.CaptureLength, wire: ci.Length})
	}
	return link, out, ""
}

// iotest1 returns short reads (at most 7 bytes), so refills and buffer
// compaction are exercised on every record.
type iotest1 struct{ r io.Reader }

func (s iotest1) Read(p []byte) (int, error) {
	if len(p) > 7 {
		p = p[:7]
	}
	return s.r.Read(p)
}

func comparePcapReaders(t *testing.T, b []byte) {
	t.Helper()
	l1, r1, e1 := readAll(b, true)
	l2, r2, e2 := readAll(b, false)
	if e1 != e2 && !(e1 == "EOF" && e2 == "EOF") {
		t.Fatalf("header error: pcapgo %q, ours %q", e1, e2)
	}
	if l1 != l2 || len(r1) != len(r2) {
		t.Fatalf("pcapgo link %v %d records, ours link %v %d records", l1, len(r1), l2, len(r2))
	}
	for i := range r1 {
		a, c := r1[i], r2[i]
		if !bytes.Equal(a.data, c.data) || !a.ts.Equal(c.ts) || a.capLen != c.capLen || a.wire != c.wire ||
			a.err != c.err || a.truncated != c.truncated || a.cleanEOF != c.cleanEOF {
			t.Fatalf("record %d: pcapgo %+v, ours %+v", i, a, c)
		}
	}
}

// TestPcapReaderMatchesPcapgo: every prefix of valid files in all four
// magics reads the same packets and ends with the same error as pcapgo.
func TestPcapReaderMatchesPcapgo(t *testing.T) {
	for _, nano := range []bool{false, true} {
		for _, big := range []bool{false, true} {
			b := samplePcap(t, nano, big, 65535, 60, 0, 1514, 300)
			for n := 0; n <= len(b); n++ {
				comparePcapReaders(t, b[:n])
			}
		}
	}
}

// TestPcapReaderLargeRecord: a record larger than the read buffer grows it.
func TestPcapReaderLargeRecord(t *testing.T) {
	b := samplePcap(t, false, false, 1<<20, 100, pcapBufSize+5000, 100)
	comparePcapReaders(t, b)
	_, r, _ := readAll(b, false)
	if len(r) != 4 || r[1].capLen != pcapBufSize+5000 || !r[3].cleanEOF {
		t.Fatalf("got %d records, want 3 and EOF: %+v", len(r), r[len(r)-1])
	}
}

// TestPcapReaderBadLengths: lengths pcapgo refuses are refused the same way.
func TestPcapReaderBadLengths(t *testing.T) {
	b := samplePcap(t, false, false, 100, 60)
	big := bytes.Clone(b)
	binary.LittleEndian.PutUint32(big[24+8:], 300000) // > max(snap, 262144)
	comparePcapReaders(t, big)
	_, r, _ := readAll(big, false)
	if len(r) != 1 || r[0].err != "capture length exceeds snap length: 300000 > 100" {
		t.Fatalf("got %+v", r)
	}
	wire := bytes.Clone(b)
	binary.LittleEndian.PutUint32(wire[24+12:], 10) // captured > on the wire
	comparePcapReaders(t, wire)
	ver := bytes.Clone(b)
	binary.LittleEndian.PutUint16(ver[4:], 3)
	comparePcapReaders(t, ver)
}

// TestFileSourceTruncated: a file cut inside its last record ends with
// ErrTruncatedFile naming the file and the last whole packet.
func TestFileSourceTruncated(t *testing.T) {
	b := samplePcap(t, false, false, 65535, 60, 80)
	src, err := NewFileSource("cut.pcap", bytes.NewReader(b[:len(b)-10]))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	_, _, err = src.ReadPacket()
	if !errors.Is(err, ErrTruncatedFile) || err.Error() != "cut.pcap: file truncated in packet 2 (1 whole packet before it)" {
		t.Fatalf("err = %v", err)
	}
}

func FuzzPcapReader(f *testing.F) {
	f.Add(samplePcap(f, false, false, 65535, 60, 0, 1514))
	f.Add(samplePcap(f, true, true, 65535, 60, 40))
	f.Add(samplePcap(f, false, true, 10, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 {
			// Keep most inputs classic pcap so records get parsed.
			binary.LittleEndian.PutUint32(b, []uint32{0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1}[b[len(b)-1]&3])
		}
		comparePcapReaders(t, b)
	})
}

// TestPositionCountsBytesRead: the progress meter's position reaches the
// file's size once every packet is read, for pcap (both byte orders) and
// pcapng, and is never ahead of it.
func TestPositionCountsBytesRead(t *testing.T) {
	lens := make([]int, 3000)
	for i := range lens {
		lens[i] = 60 + i%1400
	}
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range lens {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: n, Length: n}
		if err := w.WritePacket(ci, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	files := map[string][]byte{
		"pcap":    samplePcap(t, false, false, 65535, lens...),
		"pcap-be": samplePcap(t, true, true, 65535, lens...),
		"pcapng":  ng.Bytes(),
	}
	for name, b := range files {
		src, err := NewFileSource(name, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		pos := src.(interface{ Position() int64 })
		n := 0
		for {
			_, _, err := src.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			n++
			if p := pos.Position(); p > int64(len(b)) || p <= 0 {
				t.Fatalf("%s: position %d of %d bytes", name, p, len(b))
			}
		}
		if n != len(lens) || pos.Position() != int64(len(b)) {
			t.Errorf("%s: %d packets, position %d, want %d packets and %d bytes", name, n, pos.Position(), len(lens), len(b))
		}
	}
}
