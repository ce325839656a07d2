package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/ecs"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/capture/quic"
	"github.com/orchard-nsm/orchard/signatures"
)

// output writes JSON lines: events, mail events and alerts, in order.
type output struct {
	w        *bufio.Writer
	events   bool
	buf      []byte
	findings []*correlate.Finding
	agent    *agent.Agent
}

func (o *output) Observe(ob *observe.Observation) {
	if o.events {
		o.buf = ecs.AppendEvent(o.buf[:0], ob)
		o.w.Write(o.buf)
	}
	o.agent.Observe(ob)
}

func (o *output) Finding(f *correlate.Finding) {
	o.findings = append(o.findings, f)
	o.buf = ecs.AppendAlert(o.buf[:0], f)
	o.w.Write(o.buf)
}

func (o *output) MailAccess(e *agent.MailEvent) {
	o.buf = ecs.AppendMail(o.buf[:0], e)
	o.w.Write(o.buf)
}

type analyzeFlags struct {
	config     string
	events     bool
	hosts      bool
	summary    bool
	sigDir     string
	progress   string
	quiet      bool
	logFormat  string
	maxFlows   int
	streamSize int
	cpuProfile string
	allFlows   bool
}

// newFlagSet makes a subcommand's flag set. The flag package prints a
// parse error itself (to stderr); parseFlags then adds a pointer to the
// manual, or prints the manual on standard output for -h/--help.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args. ok is false when the command should stop, with
// exit status code: 0 after -h/--help (the manual is on stdout), 2 after a
// bad flag (the error and "See: orchard help CMD" are on stderr).
func parseFlags(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	if err == nil {
		return exitOK, true
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		return exitOK, false
	}
	cmd, _, _ := strings.Cut(fs.Name(), " ")
	fmt.Fprintf(stderr, "\nSee: orchard help %s\n", cmd)
	return exitUsage, false
}

// analyzeMemoryLimit is analyze's soft memory limit (see cmdAnalyze).
const analyzeMemoryLimit = 192 << 20

func cmdAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f analyzeFlags
	fs := newFlagSet("analyze", stderr)
	fs.StringVar(&f.config, "c", "", "")
	fs.StringVar(&f.config, "config", "", "")
	fs.BoolVar(&f.events, "events", false, "")
	fs.BoolVar(&f.hosts, "hosts", false, "")
	fs.BoolVar(&f.summary, "summary", false, "")
	fs.StringVar(&f.sigDir, "signatures", "", "")
	fs.StringVar(&f.progress, "progress", "auto", "")
	fs.BoolVar(&f.quiet, "q", false, "")
	fs.BoolVar(&f.quiet, "quiet", false, "")
	fs.StringVar(&f.logFormat, "log-format", "text", "")
	fs.IntVar(&f.maxFlows, "max-flows", 65536, "")
	fs.IntVar(&f.streamSize, "stream-limit", 16<<10, "")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "")
	fs.BoolVar(&f.allFlows, "all-flows", false, "")
	if code, ok := parseFlags(fs, interspersed(fs, args), analyzeHelp, stdout, stderr); !ok {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "orchard analyze: no capture file given (use - for standard input)\n\nSee: orchard help analyze")
		return exitUsage
	}
	log, err := newLogger(stderr, f.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
		return exitUsage
	}
	cfg, sigs, code := loadConfigAndSignatures(f.config, f.sigDir, stderr)
	if code != exitOK {
		return code
	}

	if os.Getenv("GOGC") == "" {
		// analyze reuses its observations and leaves Community IDs to be
		// computed on demand, so it makes little garbage and the live
		// heap (bounded tables) is most of the peak: collecting at 3x the
		// live heap instead of 0.5x (the setting before reuse) cut 6% of
		// the instructions on the handshake mix, and peak RSS stayed flat
		// (office mix 200k -> 2M packets: 19.8 -> 27.9 MB, 1.4x; it was
		// 18.9 -> 24.7 MB). GOGC in the environment wins.
		debug.SetGCPercent(300)
		if os.Getenv("GOMEMLIMIT") == "" {
			// A flood of new sources is the exception: evicted hosts
			// are garbage, and at 3x the ~130 MB live heap of a full
			// host table a million sources peaked at 583 MB. Above
			// this soft limit the collector runs as often as it must
			// (GOGC 50 peaked at 199 MB, this at 198 MB, 17% faster).
			// A bigger configured table only makes collections more
			// frequent. GOMEMLIMIT in the environment wins.
			debug.SetMemoryLimit(analyzeMemoryLimit)
		}
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
			return exitUsage
		}
		defer stop()
	}
	out := &output{w: bufio.NewWriterSize(stdout, 256<<10), events: f.events, buf: make([]byte, 0, 4096)}
	defer out.w.Flush()
	// Mail events are written with --events only: without it the agent
	// is not handed a MailSink and does not build them.
	var sink agent.FindingSink = agent.FindingSinkFunc(out.Finding)
	if f.events {
		sink = out
	}
	ag, err := agent.New(cfg, sigs, log, sink)
	if err != nil {
		fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
		return exitUsage
	}
	out.agent = ag
	// output.Observe writes each observation and hands it to the agent,
	// which keeps values, not the observation: the engine may reuse it.
	// Without --events only a mail access's first flow needs its
	// Community ID: it is computed there, not for every flow.
	ccfg := capture.Config{Log: log, MaxFlows: f.maxFlows, StreamLimit: f.streamSize, ReuseObservations: true, LazyCommunityID: !f.events}
	if !f.allFlows {
		ccfg.FlowFilter = ag.FlowInterest().Wants
	}
	eng := capture.NewEngine(ccfg, out)

	status := exitOK
	var last time.Time
	start := time.Now()
	for _, name := range files {
		src, prog, err := openCapture(name, stdin, f.progress, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
			status = exitFileErr
			continue
		}
		err = eng.Run(src)
		prog.stop()
		src.Close()
		if err != nil {
			// Truncated or corrupt past some point: what came before
			// is analysed and kept. A truncation names the packet cut
			// short and counts the whole ones before it.
			if errors.Is(err, capture.ErrTruncatedFile) {
				fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "orchard analyze: %v (packets before it were analysed)\n", err)
			}
		}
		if t := lastTime(eng); t.After(last) {
			last = t
		}
	}
	eng.Flush()
	ag.Flush(last)
	if f.hosts {
		hs := ag.Hosts()
		for i := range hs {
			out.buf = ecs.AppendHost(out.buf[:0], last, cfg.Sensor, &hs[i])
			out.w.Write(out.buf)
		}
	}
	if err := out.w.Flush(); err != nil {
		fmt.Fprintf(stderr, "orchard analyze: writing output: %v\n", err)
		return exitInternal
	}
	if f.summary {
		if err := ecs.WriteSummary(stdout, out.findings, ag.Stats()); err != nil {
			fmt.Fprintf(stderr, "orchard analyze: %v\n", err)
		}
	}
	if !f.quiet {
		writeRunSummary(stderr, eng, ag, time.Since(start))
	}
	return status
}

// interspersed lets flags follow file names ("analyze x.pcap --events").
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if fl := fs.Lookup(name); fl != nil {
				if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		rest = append(rest, a)
	}
	return append(flags, append([]string{"--"}, rest...)...)
}

func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "text", "":
		return slog.New(&plainHandler{w: w}), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q (want text or json)", format)
}

func loadConfigAndSignatures(cfgPath, sigDir string, stderr io.Writer) (*config.Config, *signatures.Set, int) {
	var cfg *config.Config
	var err error
	if cfgPath != "" {
		cfg, err = config.Load(cfgPath)
	} else {
		cfg, err = config.Default()
	}
	if err != nil {
		fmt.Fprintf(stderr, "orchard: config: %v\n", err)
		return nil, nil, exitUsage
	}
	var sigs *signatures.Set
	if sigDir != "" {
		sigs, err = signatures.LoadWithOverrides(sigDir)
	} else {
		sigs, err = signatures.Embedded()
	}
	if err != nil {
		fmt.Fprintf(stderr, "orchard: signatures: %v\n", err)
		return nil, nil, exitUsage
	}
	return cfg, sigs, exitOK
}

// lastTime is the capture time of the last packet the engine saw.
func lastTime(e *capture.Engine) time.Time { return e.Now() }

func writeRunSummary(w io.Writer, eng *capture.Engine, ag *agent.Agent, elapsed time.Duration) {
	s := eng.Stats()
	as := ag.Stats()
	pps := float64(s.Packets) / elapsed.Seconds()
	fmt.Fprintf(w, "orchard: %d packets, %s in %.2fs (%.0f packets/s); %d flows\n",
		s.Packets, humanBytes(s.Bytes), elapsed.Seconds(), pps, s.Flows)
	var obs []string
	for k := observe.KindTLS; k <= observe.KindFlow; k++ {
		if n := s.Observations[k]; n > 0 {
			obs = append(obs, fmt.Sprintf("%s %d", k, n))
		}
	}
	fmt.Fprintf(w, "orchard: observations: %s\n", orNone(strings.Join(obs, ", ")))
	var skips []string
	for _, r := range capture.Reasons() {
		if n := s.Skipped[r]; n > 0 {
			skips = append(skips, fmt.Sprintf("%s %d", r, n))
		}
	}
	qs := eng.QUICStats()
	for r := quic.Reason(1); r < quic.NumReasons; r++ {
		if n := qs.Skipped[r]; n > 0 {
			skips = append(skips, fmt.Sprintf("quic-%s %d", r, n))
		}
	}
	fmt.Fprintf(w, "orchard: skipped/anomalies: %s\n", orNone(strings.Join(skips, ", ")))
	if n := eng.Suppressed(); n > 0 {
		fmt.Fprintf(w, "orchard: %d further skip messages not shown (counted above)\n", n)
	}
	fmt.Fprintf(w, "orchard: hosts %d (evicted %d), mail flows %d, alerts %d (suppressed %d, allowlisted %d)\n",
		as.Hosts, as.Evicted, as.MailFlows, as.Findings, as.Suppressed, as.Allowlisted)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// openCapture opens a file (or stdin for "-") with a progress meter on
// stderr when wanted.
func openCapture(name string, stdin io.Reader, when string, stderr io.Writer) (capture.Source, *progress, error) {
	var (
		src  capture.Source
		size int64
		err  error
	)
	if name == "-" {
		src, err = capture.NewFileSource(name, stdin)
	} else {
		if st, serr := os.Stat(name); serr == nil {
			size = st.Size()
		}
		src, err = capture.OpenFile(name)
	}
	if err != nil {
		return nil, nil, err
	}
	p := &progress{name: name, size: size}
	if ps, ok := src.(interface{ Position() int64 }); ok {
		p.pos = ps.Position
		if wantProgress(when, size, stderr) {
			p.start(stderr)
		}
	}
	return src, p, nil
}

func wantProgress(when string, size int64, stderr io.Writer) bool {
	switch when {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := stderr.(*os.File)
	if !ok || size < 32<<20 {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress prints a one-line meter on stderr twice a second.
type progress struct {
	name string
	size int64
	pos  func() int64 // bytes read so far
	done chan struct{}
	wg   chan struct{}
}

func (p *progress) start(w io.Writer) {
	p.done = make(chan struct{})
	p.wg = make(chan struct{})
	go func() {
		defer close(p.wg)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		t0 := time.Now()
		for {
			select {
			case <-p.done:
				fmt.Fprintf(w, "\r\033[K")
				return
			case <-t.C:
				n := p.pos()
				rate := float64(n) / time.Since(t0).Seconds()
				if p.size > 0 {
					pct := 100 * float64(n) / float64(p.size)
					bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
					fmt.Fprintf(w, "\r\033[K%s [%s] %3.0f%% %s/s", p.name, bar, pct, humanBytes(uint64(rate)))
				} else {
					fmt.Fprintf(w, "\r\033[K%s %s read, %s/s", p.name, humanBytes(uint64(n)), humanBytes(uint64(rate)))
				}
			}
		}
	}()
}

func (p *progress) stop() {
	if p == nil || p.done == nil {
		return
	}
	close(p.done)
	<-p.wg
}
