package live

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket/layers"

	"github.com/orchard-nsm/orchard/bpf"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// EBPFSource reads the packets the TC program passed. It implements
// capture.Source; one reader serves every interface the program is
// attached to.
type EBPFSource struct {
	name   string
	objs   *bpf.Objects
	rd     *ringbuf.Reader
	rec    ringbuf.Record
	buf    []byte // frames with the offloaded VLAN tag put back
	Attach string // "tcx" or "clsact"
}

// OpenEBPF loads the program, sets the mail prefixes and attaches it to
// each interface's ingress and egress.
func OpenEBPF(ifnames []string, opts bpf.Options, mail []netip.Prefix) (*EBPFSource, error) {
	for _, n := range ifnames {
		if _, err := net.InterfaceByName(n); err != nil {
			return nil, &OpenError{Interface: n, Op: "find interface", Err: fmt.Errorf("%w: %v", ErrNoInterface, err)}
		}
	}
	objs, err := bpf.Load(opts)
	if err != nil {
		oe := &OpenError{Op: "load the eBPF program", Err: err}
		if permission(err) {
			oe.Need = "CAP_BPF and CAP_PERFMON"
		}
		return nil, oe
	}
	s := &EBPFSource{name: strings.Join(ifnames, ","), objs: objs, buf: make([]byte, 0, 16<<10+4)}
	if err := objs.SetMailPrefixes(mail); err != nil {
		objs.Close()
		return nil, &OpenError{Op: "set mail prefixes", Err: err}
	}
	for _, n := range ifnames {
		how, err := objs.Attach(n)
		if err != nil {
			objs.Close()
			oe := &OpenError{Interface: n, Op: "attach the eBPF program", Err: err}
			if permission(err) {
				oe.Need = "CAP_NET_ADMIN"
			}
			return nil, oe
		}
		s.Attach = how
	}
	s.rd, err = objs.NewReader()
	if err != nil {
		objs.Close()
		return nil, &OpenError{Op: "open the ring buffer", Err: err}
	}
	return s, nil
}

func (s *EBPFSource) Name() string              { return s.name }
func (s *EBPFSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Objects is the loaded program (for stats and flow counts).
func (s *EBPFSource) Objects() *bpf.Objects { return s.objs }

// Close detaches the program and frees its maps.
func (s *EBPFSource) Close() error {
	err := s.rd.Close()
	return errors.Join(err, s.objs.Close())
}

// ReadPacket returns the next passed packet; the data is valid until the
// next call (the record buffer is reused).
func (s *EBPFSource) ReadPacket() ([]byte, capture.PacketInfo, error) {
	for {
		s.rd.SetDeadline(time.Now().Add(pollTimeout))
		if err := s.rd.ReadInto(&s.rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, capture.PacketInfo{}, ErrIdle
			}
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil, capture.PacketInfo{}, fmt.Errorf("%s: ring buffer closed: %w", s.name, err)
			}
			return nil, capture.PacketInfo{}, fmt.Errorf("%s: ring buffer: %w", s.name, err)
		}
		ev, data, err := bpf.ParseEvent(s.rec.RawSample)
		if err != nil || len(data) < 14 {
			continue // cannot happen with the program's records; never fatal
		}
		length := int(ev.Length)
		if ev.HasVLAN {
			// The NIC stripped the tag; the engine reads VLANs from the frame.
			s.buf = append(s.buf[:0], data[:12]...)
			s.buf = append(s.buf, 0x81, 0x00, byte(ev.VLANTCI>>8), byte(ev.VLANTCI))
			s.buf = append(s.buf, data[12:]...)
			data = s.buf
			length += 4
		}
		return data, capture.PacketInfo{
			Timestamp: s.objs.Time(ev.TimeNs), CaptureLength: len(data), Length: length, Interface: int(ev.Ifindex),
		}, nil
	}
}

// patchFlow replaces the counts of an ended TCP flow with the kernel's.
func (s *EBPFSource) patchFlow(o *observe.Observation) {
	if o.Kind != observe.KindFlow || o.Flow == nil || o.Flow.Reason == "start" || o.Transport != observe.TransportTCP {
		return
	}
	remove := o.Flow.Reason == "fin" || o.Flow.Reason == "rst"
	c, ok := s.objs.FlowCounts(netip.AddrPortFrom(o.Src, o.SrcPort), netip.AddrPortFrom(o.Dst, o.DstPort), remove)
	if !ok {
		return
	}
	f := o.Flow
	if c.PacketsOut+c.PacketsIn > f.PacketsOut+f.PacketsIn {
		f.PacketsOut, f.PacketsIn, f.BytesOut, f.BytesIn = c.PacketsOut, c.PacketsIn, c.BytesOut, c.BytesIn
	}
}
