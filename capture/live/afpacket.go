package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/orchard-nsm/orchard/capture"
)

// AF_PACKET ring geometry. TPACKET_V3 packs frames of any length into
// blocks; the largest packet is a block less its header, so 1 MiB blocks
// hold 64 KiB GSO/GRO frames whole.
const (
	afFrameSize = 1 << 16
	afBlockSize = 1 << 20
	// DefaultRingSize is the AF_PACKET ring per worker.
	DefaultRingSize = 32 << 20
	pollTimeout     = 100 * time.Millisecond
)

// afSource is one AF_PACKET socket of a fanout group.
type afSource struct {
	name string
	tp   *afpacket.TPacket
}

// OpenAFPacket opens workers TPACKET_V3 sockets on ifname joined in one
// fanout group (hash of the flow, IP fragments defragmented first), each
// with a ring of ringSize bytes.
func OpenAFPacket(ifname string, workers, ringSize int) ([]capture.Source, error) {
	if workers <= 0 {
		workers = 1
	}
	if ringSize <= 0 {
		ringSize = DefaultRingSize
	}
	blocks := ringSize / afBlockSize
	if blocks < 4 {
		blocks = 4
	}
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, &OpenError{Interface: ifname, Op: "find interface", Err: fmt.Errorf("%w: %v", ErrNoInterface, err)}
	}
	// Probe the capability first: gopacket's errors lose the errno.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		oe := &OpenError{Interface: ifname, Op: "open AF_PACKET", Err: err}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			oe.Need = "CAP_NET_RAW"
		}
		return nil, oe
	}
	unix.Close(fd)
	group := uint16(os.Getpid()*31 + ifc.Index)
	var srcs []capture.Source
	for i := 0; i < workers; i++ {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(ifname),
			afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
			afpacket.OptFrameSize(afFrameSize),
			afpacket.OptBlockSize(afBlockSize),
			afpacket.OptNumBlocks(blocks),
			afpacket.OptBlockTimeout(10*time.Millisecond),
			afpacket.OptPollTimeout(pollTimeout),
			afpacket.OptAddVLANHeader(true),
		)
		if err != nil {
			closeAll(srcs)
			return nil, &OpenError{Interface: ifname, Op: "open AF_PACKET ring", Err: err}
		}
		if workers > 1 {
			if err := tp.SetFanout(afpacket.FanoutHashWithDefrag, group); err != nil {
				tp.Close()
				closeAll(srcs)
				return nil, &OpenError{Interface: ifname, Op: "join AF_PACKET fanout group", Err: err}
			}
		}
		srcs = append(srcs, &afSource{name: ifname, tp: tp})
	}
	return srcs, nil
}

func closeAll(srcs []capture.Source) {
	for _, s := range srcs {
		s.Close()
	}
}

func (s *afSource) Name() string              { return s.name }
func (s *afSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (s *afSource) Close() error              { s.tp.Close(); return nil }

func (s *afSource) ReadPacket() ([]byte, capture.PacketInfo, error) {
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil, capture.PacketInfo{}, ErrIdle
		}
		return nil, capture.PacketInfo{}, fmt.Errorf("%s: %w", s.name, err)
	}
	return data, capture.PacketInfo{Timestamp: ci.Timestamp, CaptureLength: ci.CaptureLength, Length: ci.Length, Interface: ci.InterfaceIndex}, nil
}

// SocketStats are the kernel's counters of one AF_PACKET socket.
type SocketStats struct {
	Packets, Drops, Freezes uint64
}

func (s *afSource) socketStats() SocketStats {
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return SocketStats{}
	}
	return SocketStats{Packets: uint64(v3.Packets()), Drops: uint64(v3.Drops()), Freezes: uint64(v3.QueueFreezes())}
}
