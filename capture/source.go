package capture

import (
	"time"

	"github.com/gopacket/gopacket/layers"
)

// PacketInfo describes one captured packet.
type PacketInfo struct {
	Timestamp     time.Time
	CaptureLength int // bytes captured (len(data))
	Length        int // bytes on the wire; larger than CaptureLength when cut by the snap length
	// Interface is the pcapng interface index or the live source's
	// interface index; 0 when unknown.
	Interface int
	// LinkType overrides the source's link type for this packet (pcapng
	// files may mix interfaces of different link types); 0 means the
	// source's LinkType.
	LinkType layers.LinkType
}

// Source yields packets in capture order. It is implemented by the capture
// file reader, the AF_PACKET socket and the eBPF ring buffer, so one pipeline
// serves all three.
type Source interface {
	// ReadPacket returns the next packet. data is valid only until the next
	// call (sources reuse their buffers). io.EOF ends the source; any other
	// error is either recoverable (the source says so with IsRecoverable) or
	// ends it.
	ReadPacket() (data []byte, info PacketInfo, err error)
	// LinkType of the packets (Ethernet, Linux SLL/SLL2, raw IP, BSD null).
	LinkType() layers.LinkType
	// Name is the file name ("-" for stdin) or interface name; it appears
	// in every observation and error.
	Name() string
	Close() error
}
