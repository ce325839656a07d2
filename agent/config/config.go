package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Config is a parsed and validated orchard configuration. Build one with
// Parse, Load or Default; a hand-built Config must pass Validate.
type Config struct {
	Sensor      string
	Mail        Mail
	Verdict     Verdict
	Correlation Correlation
	Allow       []Allow
	Hosts       Hosts
	Capture     Capture
	Outputs     Outputs
	Metrics     Metrics

	// File is the path the config was read from ("" for embedded/in-memory).
	File string
	// lines maps a dotted field path to its line in File, for Validate.
	lines map[string]int
}

// Mail lists the work-mail servers. Presets are expanded into Servers by
// Parse (and by Validate for hand-built configs), after the user's servers.
type Mail struct {
	Presets []string
	Servers []MailServer
}

// MailServer is one work-mail service: names (exact FQDNs or "*.suffix"
// wildcards), addresses (single addresses become /32 or /128 prefixes) and
// the protocols it is reached with.
type MailServer struct {
	Name      string
	Names     []string
	Addresses []netip.Prefix
	Protocols []Protocol
	Preset    string // preset the server came from, "" if user-defined
	line      int
}

// Protocol is a mail protocol and the port it is used on.
type Protocol struct {
	Name string // "imap", "imaps", ... (see ProtocolPorts)
	Port uint16
}

func (p Protocol) String() string { return fmt.Sprintf("%s:%d", p.Name, p.Port) }

// ProtocolPorts are the mail protocols orchard knows with their default ports.
// "https" covers ActiveSync, EWS and OWA; "jmap" is JMAP over HTTPS.
var ProtocolPorts = map[string]uint16{
	"imap":       143,
	"imaps":      993,
	"pop3":       110,
	"pop3s":      995,
	"smtp":       25,
	"submission": 587,
	"smtps":      465,
	"https":      443,
	"jmap":       443,
}

// Verdict tunes the Apple verdict.
type Verdict struct {
	// Threshold is the confidence (0..1) at or above which a host is Apple.
	Threshold float64
	// Prior is the probability (0..1) that a host is Apple before evidence.
	Prior float64
	// KindCaps caps the absolute log-odds one signal kind may contribute in
	// each direction; kinds not listed use DefaultCap.
	KindCaps   map[string]float64
	DefaultCap float64
	// MaxEvidence bounds the evidence list kept per host.
	MaxEvidence int
}

// Correlation sets the time rules of findings.
type Correlation struct {
	Window   time.Duration // Apple verdict and mail access at most this far apart
	Suppress time.Duration // one alert per device and mail server per this long
}

// Allow is an allowlist entry: an approved device that raises no alert. At
// least one of MAC, Prefix, Hostname is set; all set ones must match.
type Allow struct {
	MAC      observe.MAC
	Prefix   netip.Prefix
	Hostname string // case-insensitive; "*" as the first label matches any prefix
	Reason   string
	Expires  time.Time // zero: never
	line     int
}

// Active reports whether the entry applies at t.
func (a *Allow) Active(t time.Time) bool { return a.Expires.IsZero() || t.Before(a.Expires) }

// Hosts bounds the host table.
type Hosts struct {
	Max  int           // most hosts kept; the least recently seen is evicted beyond it
	Idle time.Duration // hosts not seen for this long are expired
	// RouterAddresses is how many distinct source address groups (an IPv4
	// address or an IPv6 /64) one MAC may send from before it is treated as
	// a router: packets from it are then keyed by IP, not MAC.
	RouterAddresses int
	// Infrastructure lists MACs known to be routers or gateways.
	Infrastructure []observe.MAC
}

// Capture is the live-capture section (orchard run).
type Capture struct {
	Interfaces []string
	Mode       string // "auto", "ebpf" or "afpacket"
	// Workers is the AF_PACKET sockets (and engines) per interface; 0 means
	// one per CPU.
	Workers int
	// RingSize is the AF_PACKET ring per worker in bytes (default 32 MiB).
	RingSize int64
	// BPFRingSize is the eBPF ring buffer in bytes, a power of two
	// (default 8 MiB).
	BPFRingSize int64
}

// Outputs says where alerts go.
type Outputs struct {
	File string
	// MaxSize rotates File when it would grow past this many bytes
	// (default 100 MiB); Keep rotated files are kept (default 5).
	MaxSize int64
	Keep    int
}

// Metrics is the Prometheus listener.
type Metrics struct {
	Listen string
}

// Defaults applied to keys the file leaves out.
const (
	DefaultThreshold       = 0.9
	DefaultPrior           = 0.05
	DefaultKindCap         = 4.0
	DefaultMaxEvidence     = 32
	DefaultWindow          = 24 * time.Hour
	DefaultSuppress        = 24 * time.Hour
	DefaultMaxHosts        = 32768
	DefaultIdle            = 24 * time.Hour
	DefaultRouterAddresses = 5
	DefaultMode            = "auto"
	DefaultRingSize        = 32 << 20
	DefaultBPFRingSize     = 8 << 20
	DefaultMaxSize         = 100 << 20
	DefaultKeep            = 5
)

// ErrEmpty is returned for a document with no content.
var ErrEmpty = errors.New("config: empty document")

// Error is one problem in a config, with where it is.
type Error struct {
	File  string
	Line  int // 0 when unknown (hand-built config)
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default config (the demo's).
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default parses the embedded default config.
func Default() (*Config, error) { return Parse("default.yaml", defaultYAML) }

// applyDefaults fills keys left out. It runs before validation.
func (c *Config) applyDefaults() {
	orDefault(&c.Verdict.Threshold, DefaultThreshold)
	orDefault(&c.Verdict.Prior, DefaultPrior)
	orDefault(&c.Verdict.DefaultCap, DefaultKindCap)
	orDefault(&c.Verdict.MaxEvidence, DefaultMaxEvidence)
	orDefault(&c.Correlation.Window, DefaultWindow)
	orDefault(&c.Correlation.Suppress, DefaultSuppress)
	orDefault(&c.Hosts.Max, DefaultMaxHosts)
	orDefault(&c.Hosts.Idle, DefaultIdle)
	orDefault(&c.Hosts.RouterAddresses, DefaultRouterAddresses)
	orDefault(&c.Capture.Mode, DefaultMode)
	orDefault(&c.Capture.RingSize, DefaultRingSize)
	orDefault(&c.Capture.BPFRingSize, DefaultBPFRingSize)
	orDefault(&c.Outputs.MaxSize, DefaultMaxSize)
	orDefault(&c.Outputs.Keep, DefaultKeep)
}

// orDefault sets *p to def when the file left it unset (zero).
func orDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Validate checks a config (parsed or hand-built), fills defaults and
// expands presets. Errors carry line numbers when the config was parsed.
func (c *Config) Validate() error {
	c.applyDefaults()
	var es Errors
	add := func(line int, field, format string, args ...any) {
		if l, ok := c.lines[field]; ok {
			line = l
		}
		es = append(es, &Error{File: c.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Verdict.Threshold <= 0 || c.Verdict.Threshold >= 1 {
		add(0, "verdict.threshold", "must be between 0 and 1 (exclusive), got %g", c.Verdict.Threshold)
	}
	if c.Verdict.Prior <= 0 || c.Verdict.Prior >= 1 {
		add(0, "verdict.prior", "must be between 0 and 1 (exclusive), got %g", c.Verdict.Prior)
	}
	if c.Verdict.DefaultCap < 0 {
		add(0, "verdict.default_cap", "must not be negative")
	}
	for k, v := range c.Verdict.KindCaps {
		if v < 0 {
			add(0, "verdict.caps."+k, "must not be negative")
		}
	}
	if c.Verdict.MaxEvidence < 0 {
		add(0, "verdict.max_evidence", "must not be negative")
	}
	if c.Correlation.Window < 0 {
		add(0, "correlation.window", "must not be negative")
	}
	if c.Correlation.Suppress < 0 {
		add(0, "correlation.suppress", "must not be negative")
	}
	if c.Hosts.Max < 0 {
		add(0, "hosts.max", "must not be negative")
	}
	if c.Hosts.Idle < 0 {
		add(0, "hosts.idle", "must not be negative")
	}
	switch c.Capture.Mode {
	case "auto", "ebpf", "afpacket":
	default:
		add(0, "capture.mode", "must be auto, ebpf or afpacket, got %q", c.Capture.Mode)
	}
	if c.Capture.Workers < 0 || c.Capture.Workers > 256 {
		add(0, "capture.workers", "must be between 1 and 256 (0 or absent: one per CPU), got %d", c.Capture.Workers)
	}
	if c.Capture.RingSize < 4<<20 || c.Capture.RingSize > 4<<30 {
		add(0, "capture.ring_size", "must be between 4MiB and 4GiB, got %d bytes", c.Capture.RingSize)
	}
	if b := c.Capture.BPFRingSize; b < 1<<16 || b > 1<<30 || b&(b-1) != 0 {
		add(0, "capture.bpf_ring_size", "must be a power of two between 64KiB and 1GiB, got %d bytes", b)
	}
	if c.Outputs.MaxSize < 1<<10 {
		add(0, "outputs.max_size", "must be at least 1KiB, got %d bytes", c.Outputs.MaxSize)
	}
	if c.Outputs.Keep < 0 {
		add(0, "outputs.keep", "must not be negative")
	}
	names := map[string]int{}
	for i := range c.Mail.Servers {
		s := &c.Mail.Servers[i]
		f := fmt.Sprintf("mail.servers[%d]", i)
		if s.Name == "" {
			add(s.line, f+".name", "is required")
		} else if prev, dup := names[s.Name]; dup {
			add(s.line, f+".name", "duplicate server name %q (first at line %d)", s.Name, prev)
		} else {
			names[s.Name] = s.line
		}
		if len(s.Names) == 0 && len(s.Addresses) == 0 {
			add(s.line, f, "needs names or addresses")
		}
		for j, n := range s.Names {
			if err := checkName(n); err != nil {
				add(s.line, fmt.Sprintf("%s.names[%d]", f, j), "%v", err)
			}
		}
		if len(s.Protocols) == 0 {
			add(s.line, f+".protocols", "is required (one or more of %s)", protocolList())
		}
	}
	for _, p := range c.Mail.Presets {
		if _, ok := presets[p]; !ok {
			add(0, "mail.presets", "unknown preset %q (known: %s)", p, presetList())
		}
	}
	for i := range c.Allow {
		a := &c.Allow[i]
		f := fmt.Sprintf("allow[%d]", i)
		if a.MAC.IsZero() && !a.Prefix.IsValid() && a.Hostname == "" {
			add(a.line, f, "needs one of mac, address, hostname")
		}
		if strings.TrimSpace(a.Reason) == "" {
			add(a.line, f+".reason", "is required: say why the device is approved")
		}
	}
	if len(es) > 0 {
		return es
	}
	c.expandPresets()
	return nil
}

// expandPresets appends the servers of enabled presets once.
func (c *Config) expandPresets() {
	have := map[string]bool{}
	for _, s := range c.Mail.Servers {
		if s.Preset != "" {
			have[s.Preset] = true
		}
	}
	for _, p := range c.Mail.Presets {
		if have[p] {
			continue
		}
		have[p] = true
		for _, s := range presets[p] {
			s.Preset = p
			s.Names = append([]string(nil), s.Names...)
			s.Addresses = append([]netip.Prefix(nil), s.Addresses...)
			s.Protocols = append([]Protocol(nil), s.Protocols...)
			c.Mail.Servers = append(c.Mail.Servers, s)
		}
	}
}

func checkName(n string) error {
	if n == "" {
		return errors.New("empty name")
	}
	body := strings.TrimPrefix(n, "*.")
	if strings.Contains(body, "*") {
		return fmt.Errorf("%q: a wildcard is only allowed as the whole first label (*.example.com)", n)
	}
	if len(body) > 253 {
		return fmt.Errorf("%q: longer than 253 characters", n)
	}
	for _, l := range strings.Split(strings.TrimSuffix(body, "."), ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q: bad label", n)
		}
		for _, r := range l {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return fmt.Errorf("%q: bad character %q", n, r)
			}
		}
	}
	return nil
}

func protocolList() string {
	s := make([]string, 0, len(ProtocolPorts))
	for k := range ProtocolPorts {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func presetList() string {
	s := make([]string, 0, len(presets))
	for k := range presets {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
