package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// pcapReader reads a classic pcap stream through one reused buffer and
// returns each packet as a subslice of it: one read(2) per buffer refill
// and no copy per packet (pcapgo.Reader copies every packet out of its
// bufio.Reader, and read syscalls plus that copy were a third of the
// offline CPU time on bulk traffic). Its header checks, record checks and
// errors are pcapgo.Reader's, so a file reads the same either way.
//
// A memory mapping was measured too and was slower on the target machines
// (a Firecracker VM: page faults and unmapping cost ~1.5 µs per 4 KiB page,
// ~100 ms for a 252 MB file against ~80 ms for read(2) into a reused buffer).
type pcapReader struct {
	r      io.Reader
	pos    atomic.Int64 // bytes read from r
	buf    []byte
	lo, hi int // unread bytes are buf[lo:hi]
	eof    bool
	order  binary.ByteOrder
	swap   bool   // big-endian file: record headers read through order, not inlined
	nsec   uint32 // timestamp fraction unit in nanoseconds: 1 or 1000
	snap   uint32
	link   uint32
}

const (
	// pcapBufSize is the read size; records larger than it grow the
	// buffer, with the bytes actually read (a corrupt length cannot make
	// the reader allocate more than the file holds).
	pcapBufSize = 256 << 10
	// pcapEagerMax is pcapgo's (libpcap's) maximum snap length: records up
	// to it are accepted whatever the file header's snap length says.
	pcapEagerMax = 262144
)

func newPcapReader(r io.Reader) *pcapReader {
	return &pcapReader{r: r, buf: make([]byte, pcapBufSize)}
}

// fill makes at least n bytes available unless the stream ends first, and
// reports whether it did. Bytes before lo (the last packet returned) may be
// overwritten. Read errors other than io.EOF are returned.
func (p *pcapReader) fill(n int) (bool, error) {
	for p.hi-p.lo < n {
		if p.eof {
			return false, nil
		}
		if p.hi == len(p.buf) {
			if p.lo > 0 {
				p.hi = copy(p.buf, p.buf[p.lo:p.hi])
				p.lo = 0
			} else {
				nb := make([]byte, 2*len(p.buf))
				copy(nb, p.buf[:p.hi])
				p.buf = nb
			}
		}
		m, err := p.r.Read(p.buf[p.hi:])
		p.hi += m
		p.pos.Add(int64(m))
		if err == io.EOF {
			p.eof = true
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

// unread returns the bytes read but not consumed (for handing a stream
// that turned out not to be classic pcap to another reader).
func (p *pcapReader) unread() []byte { return p.buf[p.lo:p.hi] }

// readHeader checks the 24-byte file header. The errors are pcapgo's (the
// caller prefixes "pcap header:").
func (p *pcapReader) readHeader() error {
	ok, err := p.fill(24)
	if err != nil {
		return err
	}
	if !ok {
		if p.hi-p.lo < 2 { // pcapgo peeks two bytes for a gzip magic first
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	b := p.buf[p.lo : p.lo+24]
	switch magic := binary.LittleEndian.Uint32(b); magic {
	case 0xa1b2c3d4:
		p.order, p.nsec = binary.LittleEndian, 1000
	case 0xd4c3b2a1:
		p.order, p.nsec = binary.BigEndian, 1000
	case 0xa1b23c4d:
		p.order, p.nsec = binary.LittleEndian, 1
	case 0x4d3cb2a1:
		p.order, p.nsec = binary.BigEndian, 1
	default:
		return fmt.Errorf("Unknown magic %x", magic)
	}
	if v := p.order.Uint16(b[4:6]); v != 2 {
		return fmt.Errorf("Unknown major version %d", v)
	}
	if v := p.order.Uint16(b[6:8]); v != 4 {
		return fmt.Errorf("Unknown minor version %d", v)
	}
	p.swap = p.order == binary.BigEndian
	p.snap = p.order.Uint32(b[16:20])
	p.link = p.order.Uint32(b[20:24])
	p.lo += 24
	return nil
}

// next returns the next record; data is valid until the next call. Its
// errors follow pcapgo's: io.EOF at a clean end (and, as pcapgo, when a
// complete record header is followed by no data at all),
// io.ErrUnexpectedEOF for a partial header or partial data, an error for
// impossible lengths, and read errors as they come.
func (p *pcapReader) next() (data []byte, ts time.Time, capLen, wireLen int, err error) {
	if p.hi-p.lo < 16 {
		ok, err := p.fill(16)
		if err != nil {
			return nil, ts, 0, 0, err
		}
		if !ok {
			if p.hi == p.lo {
				return nil, ts, 0, 0, io.EOF
			}
			return nil, ts, 0, 0, io.ErrUnexpectedEOF
		}
	}
	h := p.buf[p.lo : p.lo+16]
	var sec, frac uint32
	if !p.swap { // the common case, inlined rather than an interface call per field
		le := binary.LittleEndian
		sec, frac, capLen, wireLen = le.Uint32(h[0:4]), le.Uint32(h[4:8]), int(le.Uint32(h[8:12])), int(le.Uint32(h[12:16]))
	} else {
		o := p.order
		sec, frac, capLen, wireLen = o.Uint32(h[0:4]), o.Uint32(h[4:8]), int(o.Uint32(h[8:12])), int(o.Uint32(h[12:16]))
	}
	ts = time.Unix(int64(sec), int64(frac*p.nsec)).UTC()
	limit := pcapEagerMax
	if p.snap > pcapEagerMax {
		limit = int(p.snap)
	}
	if capLen > limit {
		return nil, ts, capLen, wireLen, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, p.snap)
	}
	if capLen > wireLen {
		return nil, ts, capLen, wireLen, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, wireLen)
	}
	p.lo += 16
	if p.hi-p.lo < capLen {
		ok, err := p.fill(capLen)
		if err != nil {
			return nil, ts, capLen, wireLen, err
		}
		if !ok {
			n := p.hi - p.lo
			p.lo = p.hi
			if n == 0 {
				return nil, ts, capLen, wireLen, io.EOF
			}
			return nil, ts, capLen, wireLen, io.ErrUnexpectedEOF
		}
	}
	data = p.buf[p.lo : p.lo+capLen : p.lo+capLen]
	p.lo += capLen
	return data, ts, capLen, wireLen, nil
}
