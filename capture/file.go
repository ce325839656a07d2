package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Errors returned when a capture file cannot be read.
var (
	ErrBadMagic        = errors.New("not a pcap or pcapng file")
	ErrUnknownLinkType = errors.New("unsupported link type")
	ErrTruncatedFile   = errors.New("file truncated")
)

// supportedLinkTypes are the link types the decoder understands.
var supportedLinkTypes = map[layers.LinkType]bool{
	layers.LinkTypeEthernet:  true,
	layers.LinkTypeLinuxSLL:  true,
	layers.LinkTypeLinuxSLL2: true,
	layers.LinkTypeRaw:       true,
	layers.LinkTypeIPv4:      true,
	layers.LinkTypeIPv6:      true,
	layers.LinkTypeNull:      true,
	layers.LinkTypeLoop:      true,
	12:                       true, // LINKTYPE_RAW as written by some OpenBSD tools
}

// SupportedLinkType reports whether packets of link type lt can be decoded.
func SupportedLinkType(lt layers.LinkType) bool { return supportedLinkTypes[lt] }

// fileSource reads a pcap or pcapng file.
type fileSource struct {
	name   string
	closer io.Closer
	pcap   *pcapReader
	ng     *pcapgo.NgReader
	link   layers.LinkType
	n      uint64
	// ngLinks caches the link type of each pcapng interface.
	ngLinks []layers.LinkType
	ngPos   *countingReader
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// OpenFile opens a pcap or pcapng capture file; name "-" reads standard
// input. The format is detected from the magic number. Errors name the file.
func OpenFile(name string) (Source, error) {
	var r io.Reader
	var c io.Closer
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		r, c = f, f
	}
	s, err := NewFileSource(name, r)
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	s.(*fileSource).closer = c
	return s, nil
}

// NewFileSource reads a pcap or pcapng stream from r; name is used in
// observations and errors.
func NewFileSource(name string, r io.Reader) (Source, error) {
	// Classic pcap is read by pcapReader, which returns packets in place;
	// pcapng by gopacket's NgReader, handed what was read to find out.
	pr := newPcapReader(r)
	ok, err := pr.fill(4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w: %d bytes, too short for a capture header", name, ErrBadMagic, len(pr.unread()))
	}
	magic := pr.unread()[:4]
	s := &fileSource{name: name}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		if err := pr.readHeader(); err != nil {
			return nil, fmt.Errorf("%s: pcap header: %w", name, err)
		}
		s.pcap = pr
		s.link = layers.LinkType(pr.link)
	case 0x0a0d0d0a:
		s.ngPos = &countingReader{r: r}
		s.ngPos.n.Store(int64(len(pr.unread())))
		br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pr.unread()), s.ngPos), 1<<20)
		s.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: pcapng header: %w", name, err)
		}
		s.link = s.ng.LinkType()
		for i := 0; i < s.ng.NInterfaces(); i++ {
			ifc, _ := s.ng.Interface(i)
			s.ngLinks = append(s.ngLinks, ifc.LinkType)
		}
	default:
		return nil, fmt.Errorf("%s: %w (magic %#08x)", name, ErrBadMagic, binary.BigEndian.Uint32(magic))
	}
	if !SupportedLinkType(s.link) {
		return nil, fmt.Errorf("%s: %w %d (%s)", name, ErrUnknownLinkType, s.link, s.link)
	}
	return s, nil
}

// Position returns how many bytes of the file have been read so far (for
// a progress meter; safe to call from another goroutine).
func (s *fileSource) Position() int64 {
	if s.pcap != nil {
		return s.pcap.pos.Load()
	}
	return s.ngPos.n.Load()
}

func (s *fileSource) Name() string              { return s.name }
func (s *fileSource) LinkType() layers.LinkType { return s.link }

func (s *fileSource) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

func (s *fileSource) ReadPacket() ([]byte, PacketInfo, error) {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if s.pcap != nil {
		data, ci.Timestamp, ci.CaptureLength, ci.Length, err = s.pcap.next()
	} else {
		data, ci, err = s.ng.ZeroCopyReadPacketData()
	}
	if err != nil {
		if err == io.EOF {
			return nil, PacketInfo{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// Name the packet that is cut short, and say how many
			// whole ones came before it (they were analysed).
			return nil, PacketInfo{}, fmt.Errorf("%s: %w in packet %d (%s before it)", s.name, ErrTruncatedFile, s.n+1, wholePackets(s.n))
		}
		return nil, PacketInfo{}, fmt.Errorf("%s: packet %d: %w", s.name, s.n+1, err)
	}
	s.n++
	info := PacketInfo{Timestamp: ci.Timestamp, CaptureLength: ci.CaptureLength, Length: ci.Length, Interface: ci.InterfaceIndex}
	if s.ng != nil && ci.InterfaceIndex < len(s.ngLinks) {
		info.LinkType = s.ngLinks[ci.InterfaceIndex]
	} else if s.ng != nil && s.ng.NInterfaces() > len(s.ngLinks) {
		// Interfaces declared after the first packet.
		for i := len(s.ngLinks); i < s.ng.NInterfaces(); i++ {
			ifc, _ := s.ng.Interface(i)
			s.ngLinks = append(s.ngLinks, ifc.LinkType)
		}
		if ci.InterfaceIndex < len(s.ngLinks) {
			info.LinkType = s.ngLinks[ci.InterfaceIndex]
		}
	}
	return data, info, nil
}

func wholePackets(n uint64) string {
	switch n {
	case 0:
		return "no whole packet"
	case 1:
		return "1 whole packet"
	}
	return fmt.Sprintf("%d whole packets", n)
}
