package gencap

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// StartTime is the fixed wall-clock start of every capture, so that the
// same seed always produces the same bytes.
var StartTime = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

const snapLen = 65535

// pcapOut writes packets in order to a pcap stream.
type pcapOut struct {
	bw  *bufio.Writer
	w   *pcapgo.Writer
	n   int
	err error
}

func newPcapOut(w io.Writer) (*pcapOut, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("gencap: pcap header: %w", err)
	}
	return &pcapOut{bw: bw, w: pw}, nil
}

func (o *pcapOut) write(t time.Time, b []byte) {
	if o.err != nil {
		return
	}
	ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(b), Length: len(b)}
	if err := o.w.WritePacket(ci, b); err != nil {
		o.err = fmt.Errorf("gencap: write packet %d: %w", o.n+1, err)
		return
	}
	o.n++
}

func (o *pcapOut) flush() error {
	if o.err != nil {
		return o.err
	}
	if err := o.bw.Flush(); err != nil {
		return fmt.Errorf("gencap: flush: %w", err)
	}
	return nil
}

// timeline collects packets from many concurrent activities and writes them
// sorted by time (ties keep emission order), as a sensor would see them.
type timeline struct {
	recs []rec
}

type rec struct {
	t   int64
	seq int
	b   []byte
}

func (tl *timeline) add(t time.Time, b []byte) {
	tl.recs = append(tl.recs, rec{t: t.UnixNano(), seq: len(tl.recs), b: b})
}

func (tl *timeline) writeTo(o *pcapOut) {
	slices.SortFunc(tl.recs, func(a, b rec) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, r := range tl.recs {
		o.write(time.Unix(0, r.t).UTC(), r.b)
	}
}
