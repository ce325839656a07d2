package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/ecs"
	"github.com/orchard-nsm/orchard/agent/metrics"
	"github.com/orchard-nsm/orchard/bpf"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/live"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// alertOut writes alerts as JSON lines to stdout and to the rotated file.
// Only the agent goroutine calls it.
type alertOut struct {
	stdout io.Writer
	file   *rotating
	buf    []byte
	log    *slog.Logger
}

func (a *alertOut) Finding(f *correlate.Finding) {
	a.buf = ecs.AppendAlert(a.buf[:0], f)
	if _, err := a.stdout.Write(a.buf); err != nil {
		a.log.Error(fmt.Sprintf("writing alert to standard output: %v", err))
	}
	if a.file != nil {
		if err := a.file.Write(a.buf); err != nil {
			a.log.Error(fmt.Sprintf("writing alert to %s: %v", a.file.path, err))
		}
	}
}

// rotating is an append-only file renamed to path.1 (path.2, ...) when a
// write would take it past max bytes; keep rotated files are kept.
type rotating struct {
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

func openRotating(path string, max int64, keep int) (*rotating, error) {
	r := &rotating{path: path, max: max, keep: keep}
	return r, r.open()
}

func (r *rotating) open() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write writes one whole line; a line never straddles two files.
func (r *rotating) Write(line []byte) error {
	if r.size > 0 && r.size+int64(len(line)) > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.Write(line)
	r.size += int64(n)
	return err
}

func (r *rotating) rotate() error {
	r.f.Close()
	if r.keep == 0 {
		os.Remove(r.path)
	} else {
		os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
		for i := r.keep - 1; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		}
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return err
		}
	}
	return r.open()
}

func (r *rotating) Close() error {
	if r == nil || r.f == nil {
		return nil
	}
	return r.f.Close()
}

const (
	defaultMemLimit = 160 << 20
	// observationQueue absorbs bursts between the capture workers and the
	// agent; beyond it observations are dropped and counted.
	observationQueue = 8192
)

// agentStats is what the agent goroutine publishes for the metrics
// goroutine (the agent itself is single-goroutine).
type agentStats struct {
	mu           sync.Mutex
	st           agent.Stats
	reloads      uint64
	reloadErrors uint64
}

func mailPrefixes(cfg *config.Config) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range cfg.Mail.Servers {
		ps = append(ps, s.Addresses...)
	}
	return ps
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	var cfgPath, sigDir, logFormat string
	fs.StringVar(&cfgPath, "c", "", "")
	fs.StringVar(&cfgPath, "config", "", "")
	fs.StringVar(&sigDir, "signatures", "", "")
	fs.StringVar(&logFormat, "log-format", "text", "")
	if code, ok := parseFlags(fs, args, runHelp, stdout, stderr); !ok {
		return code
	}
	if cfgPath == "" {
		fmt.Fprintln(stderr, "orchard run: no configuration given (-c FILE)\n\nSee: orchard help run")
		return exitUsage
	}
	log, err := newLogger(stderr, logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "orchard run: %v\n", err)
		return exitUsage
	}
	cfg, sigs, code := loadConfigAndSignatures(cfgPath, sigDir, stderr)
	if code != exitOK {
		return code
	}
	if len(cfg.Capture.Interfaces) == 0 {
		fmt.Fprintf(stderr, "orchard run: %s: capture.interfaces: no interface to capture on\n", cfgPath)
		return exitUsage
	}
	// A soft heap limit keeps a flood (millions of new flows and hosts,
	// all bounded by table sizes) from doubling the heap between
	// collections; GOMEMLIMIT in the environment overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemLimit)
	}
	out := &alertOut{stdout: stdout, log: log, buf: make([]byte, 0, 4096)}
	if cfg.Outputs.File != "" {
		out.file, err = openRotating(cfg.Outputs.File, cfg.Outputs.MaxSize, cfg.Outputs.Keep)
		if err != nil {
			fmt.Fprintf(stderr, "orchard run: outputs.file: %v\n", err)
			return exitFileErr
		}
		defer out.file.Close()
	}
	ag, err := agent.New(cfg, sigs, log, out)
	if err != nil {
		fmt.Fprintf(stderr, "orchard run: %v\n", err)
		return exitUsage
	}
	// Signals are caught before capture starts: a SIGHUP sent as soon as
	// "capturing on" is logged must reload, not kill (its default action).
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigc)
	capt, err := live.Open(live.Config{
		Interfaces:   cfg.Capture.Interfaces,
		Mode:         cfg.Capture.Mode,
		Workers:      cfg.Capture.Workers,
		RingSize:     int(cfg.Capture.RingSize),
		BPF:          bpf.Options{RingBufferSize: int(cfg.Capture.BPFRingSize)},
		MailPrefixes: mailPrefixes(cfg),
		// Flow starts and ends only of flows the agent can use (mail
		// servers, signature addresses); fingerprints still come from all.
		Engine: capture.Config{Log: log, FlowFilter: ag.FlowInterest().Wants},
		Queue:  observationQueue,
		Log:    log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "orchard run: %v\n", err)
		return exitFileErr
	}
	defer capt.Close()
	log.Info(fmt.Sprintf("capturing on %v in %s mode (%s), %d engine(s)", cfg.Capture.Interfaces, capt.Mode(), capt.Why(), capt.Workers()),
		"interfaces", cfg.Capture.Interfaces, "mode", capt.Mode(), "why", capt.Why(), "workers", capt.Workers())

	var as agentStats
	var ms *metrics.Server
	if cfg.Metrics.Listen != "" {
		ms = metrics.New(func() metrics.Snapshot { return snapshot(capt, &as) })
		hs, addr, err := ms.Serve(cfg.Metrics.Listen)
		if err != nil {
			fmt.Fprintf(stderr, "orchard run: %v\n", err)
			return exitFileErr
		}
		defer hs.Close()
		log.Info(fmt.Sprintf("metrics on http://%s/metrics", addr), "listen", addr.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- capt.Run(ctx) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	obs := capt.Observations()
	var last time.Time
	publish := func() {
		as.mu.Lock()
		as.st = ag.Stats()
		as.mu.Unlock()
	}
	for obs != nil {
		select {
		case o, ok := <-obs:
			if !ok {
				obs = nil
				break
			}
			if o.Time.After(last) {
				last = o.Time
			}
			ag.Observe(o)
		case s := <-sigc:
			switch s {
			case syscall.SIGHUP:
				reload(cfgPath, sigDir, cfg, ag, capt, &as, log, last)
			default:
				log.Info(fmt.Sprintf("%s: flushing and stopping", s))
				cancel()
			}
		case <-tick.C:
			// A quiet network must not hold an alert back.
			ag.Tick(time.Now())
			publish()
		}
	}
	if err := <-runErr; err != nil {
		log.Error(fmt.Sprintf("capture: %v", err))
	}
	if last.IsZero() {
		last = time.Now()
	}
	ag.Flush(last)
	publish()
	st := capt.Stats()
	as.mu.Lock()
	a := as.st
	as.mu.Unlock()
	log.Info(fmt.Sprintf("stopped: %d packets in user space, queue drops %d, kernel drops %d, ring-buffer drops %d; hosts %d, alerts %d",
		st.Engine.Packets, st.QueueDrops, st.Socket.Drops, ringDrops(st), a.Hosts, a.Findings))
	return exitOK
}

func ringDrops(st live.Stats) uint64 {
	if st.Kernel == nil {
		return 0
	}
	return st.Kernel.RingbufDrops
}

// reload applies a new config and signatures without stopping capture;
// keys that need a restart (interfaces, mode, outputs, metrics) are
// reported and left as they were.
func reload(cfgPath, sigDir string, cur *config.Config, ag *agent.Agent, capt *live.Capture, as *agentStats, log *slog.Logger, now time.Time) {
	var sb errBuf
	cfg, sigs, code := loadConfigAndSignatures(cfgPath, sigDir, &sb)
	if code != exitOK {
		as.mu.Lock()
		as.reloadErrors++
		as.mu.Unlock()
		log.Error(fmt.Sprintf("SIGHUP: reload refused, the running configuration stays: %s", sb.String()))
		return
	}
	if now.IsZero() {
		now = time.Now()
	}
	if err := ag.Reload(cfg, sigs, now); err != nil {
		log.Error(fmt.Sprintf("SIGHUP: reload refused: %v", err))
		return
	}
	if err := capt.SetMailPrefixes(mailPrefixes(cfg)); err != nil {
		log.Error(fmt.Sprintf("SIGHUP: kernel mail prefixes: %v", err))
	}
	if fmt.Sprint(cfg.Capture) != fmt.Sprint(cur.Capture) || cfg.Outputs != cur.Outputs || cfg.Metrics != cur.Metrics {
		log.Warn("SIGHUP: capture, outputs and metrics changes take effect at the next start")
	}
	as.mu.Lock()
	as.reloads++
	as.mu.Unlock()
	log.Info(fmt.Sprintf("SIGHUP: reloaded %s (%d mail servers)", cfgPath, len(cfg.Mail.Servers)))
}

type errBuf struct{ b []byte }

func (e *errBuf) Write(p []byte) (int, error) { e.b = append(e.b, p...); return len(p), nil }
func (e *errBuf) String() string {
	s := string(e.b)
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}

func snapshot(c *live.Capture, as *agentStats) metrics.Snapshot {
	st := c.Stats()
	as.mu.Lock()
	a, reloads, rerrs := as.st, as.reloads, as.reloadErrors
	as.mu.Unlock()
	s := metrics.Snapshot{
		Mode:    c.Mode(),
		Packets: st.Engine.Packets, Bytes: st.Engine.Bytes,
		KernelDrops: st.Socket.Drops, QueueDrops: st.QueueDrops,
		Observations: map[string]uint64{}, ParseErrors: map[string]uint64{},
		Flows: st.Engine.Flows, ActiveFlows: st.Engine.ActiveFlows,
		Hosts: a.Hosts, MailFlows: a.MailFlows, Alerts: a.Findings,
		Reloads: reloads, ReloadErrors: rerrs,
	}
	if k := st.Kernel; k != nil {
		s.KernelPackets, s.KernelBytes, s.KernelPassedPackets, s.RingbufDrops = k.SeenPackets, k.SeenBytes, k.PassedPackets, k.RingbufDrops
	} else {
		s.KernelPackets = st.Socket.Packets
	}
	for k := observe.KindTLS; k <= observe.KindFlow; k++ {
		s.Observations[k.String()] = st.Engine.Observations[k]
	}
	for _, r := range capture.Reasons() {
		s.ParseErrors[r.String()] = st.Engine.Skipped[r]
	}
	return s
}
