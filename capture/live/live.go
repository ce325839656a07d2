package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/orchard-nsm/orchard/bpf"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/capture/quic"
)

// Config says what to capture and how.
type Config struct {
	Interfaces []string
	Mode       string // "auto" (default), "ebpf" or "afpacket"
	Workers    int    // AF_PACKET sockets per interface (default: CPUs)
	RingSize   int    // AF_PACKET ring bytes per worker (default 32 MiB)
	// BPF sizes the kernel maps in eBPF mode.
	BPF bpf.Options
	// MailPrefixes are the mail servers' addresses (eBPF mode).
	MailPrefixes []netip.Prefix
	// Engine configures each worker's capture.Engine.
	Engine capture.Config
	// Queue is the observation channel's length (default 65536).
	Queue int
	Log   *slog.Logger
}

// Stats are a capture's counters, summed over its workers.
type Stats struct {
	Engine     capture.Stats
	QUIC       quic.Stats
	QueueDrops uint64 // observations dropped because the agent fell behind
	// Socket sums the AF_PACKET sockets' kernel counters (afpacket mode).
	Socket SocketStats
	// Kernel is the eBPF program's counters (ebpf mode).
	Kernel *bpf.Stats
}

// Capture is an open live capture.
type Capture struct {
	mode    string
	why     string
	log     *slog.Logger
	workers []*worker
	ebpf    *EBPFSource
	out     chan *observe.Observation
	drops   atomic.Uint64
}

type worker struct {
	c    *Capture
	src  capture.Source
	eng  *capture.Engine
	mu   sync.Mutex
	st   capture.Stats
	qs   quic.Stats
	stop bool // flushing: sends block instead of dropping
}

// Observe is the engine's sink: hand over without blocking capture.
func (w *worker) Observe(o *observe.Observation) {
	if w.c.ebpf != nil {
		w.c.ebpf.patchFlow(o)
	}
	if w.stop {
		w.c.out <- o
		return
	}
	select {
	case w.c.out <- o:
	default:
		w.c.drops.Add(1)
	}
}

// Choose resolves mode "auto": eBPF when the kernel supports it. It returns
// the mode and why it was chosen.
func Choose(mode string) (string, string) {
	switch mode {
	case "ebpf":
		return "ebpf", "capture.mode is ebpf"
	case "afpacket":
		return "afpacket", "capture.mode is afpacket"
	}
	if err := bpf.Supported(); err != nil {
		return "afpacket", fmt.Sprintf("auto: %v", err)
	}
	return "ebpf", "auto: kernel has TC programs, ring buffers and LPM tries"
}

// Open opens the capture on every interface. In auto mode a failure to
// load or attach the eBPF program falls back to AF_PACKET, and Why says so.
func Open(cfg Config) (*Capture, error) {
	if len(cfg.Interfaces) == 0 {
		return nil, fmt.Errorf("%w: no interfaces (capture.interfaces)", ErrBadConfig)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 65536
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Engine.Log == nil {
		cfg.Engine.Log = cfg.Log
	}
	c := &Capture{log: cfg.Log, out: make(chan *observe.Observation, cfg.Queue)}
	c.mode, c.why = Choose(cfg.Mode)
	if c.mode == "ebpf" {
		s, err := OpenEBPF(cfg.Interfaces, cfg.BPF, cfg.MailPrefixes)
		if err == nil {
			c.ebpf = s
			c.why += "; attached with " + s.Attach
			c.add(s, cfg.Engine)
			return c, nil
		}
		if cfg.Mode == "ebpf" {
			return nil, err
		}
		c.mode, c.why = "afpacket", fmt.Sprintf("auto: eBPF failed (%v)", err)
	}
	// The flow budget is the engine's default (or the configured one) for
	// the whole capture, split over the workers: fanout gives each worker
	// a share of the flows, and a flood must not cost workers times more.
	ec := cfg.Engine
	if ec.MaxFlows <= 0 {
		ec.MaxFlows = 65536
	}
	if n := len(cfg.Interfaces) * cfg.Workers; n > 1 {
		ec.MaxFlows = max(ec.MaxFlows/n, 4096)
		if ec.MaxReassembling <= 0 {
			ec.MaxReassembling = 4096
		}
		ec.MaxReassembling = max(ec.MaxReassembling/n, 256)
		if ec.QUICMaxConns <= 0 {
			ec.QUICMaxConns = 4096
		}
		ec.QUICMaxConns = max(ec.QUICMaxConns/n, 256)
	}
	for _, ifn := range cfg.Interfaces {
		srcs, err := OpenAFPacket(ifn, cfg.Workers, cfg.RingSize)
		if err != nil {
			c.Close()
			return nil, err
		}
		for _, s := range srcs {
			c.add(s, ec)
		}
	}
	return c, nil
}

func (c *Capture) add(src capture.Source, ec capture.Config) {
	w := &worker{c: c, src: src}
	w.eng = capture.NewEngine(ec, w)
	w.eng.SetSource(src.Name())
	c.workers = append(c.workers, w)
}

// Mode is "ebpf" or "afpacket"; Why says why.
func (c *Capture) Mode() string { return c.mode }
func (c *Capture) Why() string  { return c.why }

// Workers is the number of engines (one goroutine each).
func (c *Capture) Workers() int { return len(c.workers) }

// Observations is the merged stream; it is closed when Run returns.
func (c *Capture) Observations() <-chan *observe.Observation { return c.out }

// SetMailPrefixes updates the kernel's mail prefixes (eBPF mode; a no-op
// otherwise), for a config reload.
func (c *Capture) SetMailPrefixes(ps []netip.Prefix) error {
	if c.ebpf == nil {
		return nil
	}
	return c.ebpf.objs.SetMailPrefixes(ps)
}

// Run captures until ctx is done, then flushes every engine (open flows
// end as "end-of-input") and closes the observation channel. The caller
// must keep reading Observations until it is closed.
func (c *Capture) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.workers))
	for i, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.run(ctx)
		}()
	}
	wg.Wait()
	close(c.out)
	return errors.Join(errs...)
}

func (w *worker) run(ctx context.Context) error {
	lt := w.src.LinkType()
	var n int
	var err error
	for ctx.Err() == nil {
		data, info, rerr := w.src.ReadPacket()
		if rerr != nil {
			if errors.Is(rerr, ErrIdle) {
				w.publish()
				continue
			}
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		w.eng.Packet(data, info, lt)
		if n++; n&1023 == 0 {
			w.publish()
		}
	}
	w.stop = true
	w.eng.Flush()
	w.publish()
	return err
}

func (w *worker) publish() {
	st, qs := w.eng.Stats(), w.eng.QUICStats()
	w.mu.Lock()
	w.st, w.qs = st, qs
	w.mu.Unlock()
}

// Stats sums the workers' latest counters (published every 1024 packets
// and when idle) and reads the kernel's.
func (c *Capture) Stats() Stats {
	var s Stats
	for _, w := range c.workers {
		w.mu.Lock()
		s.Engine.Add(w.st)
		addQUIC(&s.QUIC, &w.qs)
		w.mu.Unlock()
		if af, ok := w.src.(*afSource); ok {
			ss := af.socketStats()
			s.Socket.Packets += ss.Packets
			s.Socket.Drops += ss.Drops
			s.Socket.Freezes += ss.Freezes
		}
	}
	s.QueueDrops = c.drops.Load()
	if c.ebpf != nil {
		if ks, err := c.ebpf.objs.ReadStats(); err == nil {
			s.Kernel = &ks
		}
	}
	return s
}

func addQUIC(dst, src *quic.Stats) {
	for i := range dst.Skipped {
		dst.Skipped[i] += src.Skipped[i]
	}
}

// Close releases the sockets or detaches the program. Call it after Run
// has returned.
func (c *Capture) Close() error {
	var errs []error
	for _, w := range c.workers {
		errs = append(errs, w.src.Close())
	}
	return errors.Join(errs...)
}
