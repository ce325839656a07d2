package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Errors.
var (
	// ErrNotSupported: the kernel lacks BPF, TC programs, ring buffers or
	// LPM tries. Wraps ebpf.ErrNotSupported when that is the cause.
	ErrNotSupported = errors.New("eBPF capture not supported by this kernel")
	// ErrNoInterface: Attach was given a name no interface has.
	ErrNoInterface = errors.New("no such interface")
	// ErrShortRecord: a ring-buffer record shorter than its header says.
	ErrShortRecord = errors.New("ring-buffer record truncated")
)

// Reason says why the kernel passed a packet (Event.Reason).
type Reason uint8

// Reasons, as in orchard.c.
const (
	ReasonNone Reason = iota
	ReasonDNS
	ReasonDHCP
	ReasonARP
	ReasonNDP
	ReasonSYN
	ReasonFirstFlight
	ReasonQUIC
	ReasonMail
	ReasonTCPDNS
	ReasonOther
	NumReasons
)

var reasonNames = [NumReasons]string{"none", "dns", "dhcp", "arp", "ndp", "syn", "first-flight", "quic", "mail", "tcp-dns", "other"}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Options size the kernel maps. The zero value is usable.
type Options struct {
	// RingBufferSize in bytes: a power of two, at least a page (default 8 MiB).
	RingBufferSize int
	// MaxFlows is the LRU flow map size (default 65536).
	MaxFlows int
	// Clsact attaches with a clsact qdisc even where tcx exists (tests of
	// the fallback; sharing an interface with clsact-only tools).
	Clsact bool
}

// Stats are the kernel counters summed over CPUs.
type Stats struct {
	SeenPackets   uint64 // every packet the program ran on
	SeenBytes     uint64
	PassedPackets uint64 // written to the ring buffer
	PassedBytes   uint64 // original lengths of those
	RingbufDrops  uint64 // passed but the ring buffer was full
	Flows         uint64 // TCP flows created in the flow map
	MailFlows     uint64 // of those, to mail prefixes
	FlowMapFull   uint64 // flows that found no room
	Passed        [NumReasons]uint64
}

// Objects is the loaded program and its maps. Close detaches and frees it.
type Objects struct {
	objs     orchardObjects
	mu       sync.Mutex
	links    []link.Link
	filters  []*netlink.BpfFilter
	attached []string
	clsact   bool
	// monoOffset converts bpf_ktime_get_ns to wall-clock time.
	monoOffset int64
}

// Supported reports nil when the kernel can run the program: TC
// classifiers, ring buffers and LPM tries. The error says what is missing.
func Supported() error {
	if err := features.HaveProgramType(ebpf.SchedCLS); err != nil {
		return fmt.Errorf("%w: TC programs: %w", ErrNotSupported, err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Errorf("%w: ring buffers (kernel 5.8+): %w", ErrNotSupported, err)
	}
	if err := features.HaveMapType(ebpf.LPMTrie); err != nil {
		return fmt.Errorf("%w: LPM trie maps: %w", ErrNotSupported, err)
	}
	return nil
}

// Load loads the program and its maps into the kernel (not attached yet).
func Load(opts Options) (*Objects, error) {
	if opts.RingBufferSize == 0 {
		opts.RingBufferSize = 8 << 20
	}
	if opts.MaxFlows == 0 {
		opts.MaxFlows = 65536
	}
	rb := opts.RingBufferSize
	if rb < os.Getpagesize() || rb&(rb-1) != 0 {
		return nil, fmt.Errorf("bpf: ring buffer size %d: must be a power of two of at least %d", rb, os.Getpagesize())
	}
	if opts.MaxFlows < 0 {
		return nil, fmt.Errorf("bpf: max flows %d must be positive", opts.MaxFlows)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	_ = rlimit.RemoveMemlock()
	spec, err := loadOrchard()
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	spec.Maps[orchardMapEvents].MaxEntries = uint32(rb)
	spec.Maps[orchardMapFlows].MaxEntries = uint32(opts.MaxFlows)
	o := &Objects{clsact: opts.Clsact}
	if err := spec.LoadAndAssign(&o.objs, nil); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("bpf: load: %w: %w", ErrNotSupported, err)
		}
		return nil, fmt.Errorf("bpf: load: %w", err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		o.monoOffset = time.Now().UnixNano() - ts.Nano()
	}
	return o, nil
}

// Attach attaches the program to ifname's ingress and egress: tcx where the
// kernel has it (6.6+), a clsact qdisc with direct-action filters otherwise.
// It returns which ("tcx" or "clsact").
func (o *Objects) Attach(ifname string) (string, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return "", fmt.Errorf("bpf: %s: %w: %w", ifname, ErrNoInterface, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var in link.Link
	errIn := fmt.Errorf("clsact requested: %w", ebpf.ErrNotSupported)
	if !o.clsact {
		in, errIn = link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: o.objs.OrchardIngress, Attach: ebpf.AttachTCXIngress})
	}
	if errIn == nil {
		out, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: o.objs.OrchardEgress, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			in.Close()
			return "", fmt.Errorf("bpf: attach tcx egress on %s: %w", ifname, err)
		}
		o.links = append(o.links, in, out)
		o.attached = append(o.attached, ifname)
		return "tcx", nil
	}
	if !errors.Is(errIn, ebpf.ErrNotSupported) {
		return "", fmt.Errorf("bpf: attach tcx ingress on %s: %w", ifname, errIn)
	}
	if err := o.attachClsact(ifc.Index); err != nil {
		return "", fmt.Errorf("bpf: attach clsact on %s (no tcx: %v): %w", ifname, errIn, err)
	}
	o.attached = append(o.attached, ifname)
	return "clsact", nil
}

func (o *Objects) attachClsact(ifindex int) error {
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	// An existing clsact (another tool's) is kept: add only if absent.
	if err := netlink.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("clsact qdisc: %w", err)
	}
	for _, x := range []struct {
		parent uint32
		prog   *ebpf.Program
	}{{netlink.HANDLE_MIN_INGRESS, o.objs.OrchardIngress}, {netlink.HANDLE_MIN_EGRESS, o.objs.OrchardEgress}} {
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{
				LinkIndex: ifindex, Parent: x.parent, Handle: netlink.MakeHandle(0, 0x4f52), // "OR"
				Protocol: unix.ETH_P_ALL, Priority: 1,
			},
			Fd: x.prog.FD(), Name: "orchard", DirectAction: true,
		}
		if err := netlink.FilterReplace(f); err != nil {
			return fmt.Errorf("bpf filter: %w", err)
		}
		o.filters = append(o.filters, f)
	}
	return nil
}

// Attached lists the interfaces the program is attached to.
func (o *Objects) Attached() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.attached...)
}

// SetMailPrefixes replaces the mail-server prefixes: flows to them have
// their starts, ends and a periodic sample passed. Flows already in the
// flow map keep the decision made when they started.
func (o *Objects) SetMailPrefixes(ps []netip.Prefix) error {
	want := map[orchardLpmKey]bool{}
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		want[lpmKey(p)] = true
	}
	var k orchardLpmKey
	var stale []orchardLpmKey
	it := o.objs.MailPrefixes.Iterate()
	var v uint8
	for it.Next(&k, &v) {
		if !want[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("bpf: mail prefixes: %w", err)
	}
	for _, k := range stale {
		if err := o.objs.MailPrefixes.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("bpf: mail prefixes: %w", err)
		}
	}
	for k := range want {
		if err := o.objs.MailPrefixes.Put(&k, uint8(1)); err != nil {
			return fmt.Errorf("bpf: mail prefix /%d: %w", k.Prefixlen, err)
		}
	}
	return nil
}

func lpmKey(p netip.Prefix) orchardLpmKey {
	p = p.Masked()
	a := p.Addr()
	bits := p.Bits()
	if a.Is4() {
		bits += 96
	}
	return orchardLpmKey{Prefixlen: uint32(bits), Addr: a.As16()}
}

// ReadStats sums the per-CPU counters.
func (o *Objects) ReadStats() (Stats, error) {
	var per []orchardCounters
	if err := o.objs.Stats.Lookup(uint32(0), &per); err != nil {
		return Stats{}, fmt.Errorf("bpf: stats: %w", err)
	}
	var s Stats
	for _, c := range per {
		s.SeenPackets += c.SeenPkts
		s.SeenBytes += c.SeenBytes
		s.PassedPackets += c.PassedPkts
		s.PassedBytes += c.PassedBytes
		s.RingbufDrops += c.RingbufDrops
		s.Flows += c.Flows
		s.MailFlows += c.MailFlows
		s.FlowMapFull += c.FlowMapFull
		for i := range s.Passed {
			s.Passed[i] += c.Passed[i]
		}
	}
	return s, nil
}

// FlowCounts are one flow's kernel counters from the client's view; bytes
// are IP bytes (header included), as the user-space engine counts them.
type FlowCounts struct {
	PacketsOut, PacketsIn uint64
	BytesOut, BytesIn     uint64
	Mail                  bool // the server is in the mail prefixes
}

// FlowCounts returns the kernel's counters of the TCP flow between client
// and server; remove deletes the entry (the flow ended). ok is false when
// the map has no such flow (never seen, or evicted).
func (o *Objects) FlowCounts(client, server netip.AddrPort, remove bool) (FlowCounts, bool) {
	for _, swap := range [2]bool{false, true} {
		a, b := client, server
		if swap {
			a, b = server, client
		}
		k := orchardFlowKey{A: a.Addr().As16(), B: b.Addr().As16(), Proto: 6,
			Aport: bits.ReverseBytes16(a.Port()), Bport: bits.ReverseBytes16(b.Port())}
		if a.Addr().Is4() {
			k.A = netip.AddrFrom4(a.Addr().As4()).As16()
		}
		var v orchardFlowVal
		var err error
		if remove {
			err = o.objs.Flows.LookupAndDelete(&k, &v)
			if errors.Is(err, ebpf.ErrNotSupported) {
				err = o.objs.Flows.Lookup(&k, &v)
				if err == nil {
					_ = o.objs.Flows.Delete(&k)
				}
			}
		} else {
			err = o.objs.Flows.Lookup(&k, &v)
		}
		if err != nil {
			continue
		}
		ci, si := 0, 1 // client is a unless swap
		if swap {
			ci, si = 1, 0
		}
		return FlowCounts{
			PacketsOut: v.Pkts[ci], PacketsIn: v.Pkts[si],
			BytesOut: v.Bytes[ci], BytesIn: v.Bytes[si],
			Mail: v.Flags&1 != 0,
		}, true
	}
	return FlowCounts{}, false
}

// NewReader opens a reader on the ring buffer. Use ReadInto with one
// reused Record, and ParseEvent on its RawSample.
func (o *Objects) NewReader() (*ringbuf.Reader, error) {
	r, err := ringbuf.NewReader(o.objs.Events)
	if err != nil {
		return nil, fmt.Errorf("bpf: ring buffer: %w", err)
	}
	return r, nil
}

// Time converts an Event timestamp (CLOCK_MONOTONIC) to wall-clock time.
func (o *Objects) Time(ns uint64) time.Time { return time.Unix(0, int64(ns)+o.monoOffset) }

// Close detaches the program from every interface and frees the maps.
func (o *Objects) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for _, l := range o.links {
		errs = append(errs, l.Close())
	}
	for _, f := range o.filters {
		if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, err)
		}
	}
	o.links, o.filters, o.attached = nil, nil, nil
	errs = append(errs, o.objs.Close())
	return errors.Join(errs...)
}

// EventHeaderLen is the size of the header before each record's packet bytes.
const EventHeaderLen = 32

// Event is a parsed ring-buffer record header.
type Event struct {
	TimeNs   uint64 // CLOCK_MONOTONIC; Objects.Time converts it
	Ifindex  uint32
	Length   uint32 // original frame length
	VLANTCI  uint16
	HasVLAN  bool // the tag was offloaded (VLANTCI valid)
	Egress   bool
	Reason   Reason
	Captured int
}

// ParseEvent splits a ring-buffer record into its header and packet bytes
// (a sub-slice of rec: valid until the record buffer is reused).
func ParseEvent(rec []byte) (Event, []byte, error) {
	if len(rec) < EventHeaderLen {
		return Event{}, nil, fmt.Errorf("%w: %d bytes", ErrShortRecord, len(rec))
	}
	le := binary.LittleEndian
	e := Event{
		TimeNs:  le.Uint64(rec[0:]),
		Ifindex: le.Uint32(rec[8:]),
		Length:  le.Uint32(rec[12:]),
		VLANTCI: le.Uint16(rec[20:]),
		Egress:  rec[22] == 1,
		Reason:  Reason(rec[23]),
		HasVLAN: le.Uint32(rec[24:])&1 != 0,
	}
	n := int(le.Uint32(rec[16:]))
	if n > len(rec)-EventHeaderLen {
		return e, nil, fmt.Errorf("%w: header says %d bytes, record has %d", ErrShortRecord, n, len(rec)-EventHeaderLen)
	}
	e.Captured = n
	return e, rec[EventHeaderLen : EventHeaderLen+n], nil
}
