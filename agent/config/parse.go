package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
	"go.yaml.in/yaml/v3"
)

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, b)
}

// Parse parses a YAML document; file names it in errors. The result is
// validated, has defaults filled in and presets expanded.
func Parse(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: %w", file, ErrEmpty)
	}
	p := &parser{cfg: &Config{File: file, lines: map[string]int{}}}
	p.root(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if err := p.cfg.Validate(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into Errors.
func yamlError(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var es Errors
	for _, m := range msgs {
		e := &Error{File: file, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = "YAML syntax: " + sm[2]
		}
		es = append(es, e)
	}
	return es
}

type parser struct {
	cfg  *Config
	errs Errors
}

func (p *parser) fail(n *yaml.Node, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.cfg.File, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping calls fn for each key of a mapping node; fn returns false for an
// unknown key.
func (p *parser) mapping(n *yaml.Node, path string, fn func(key string, v *yaml.Node) bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "must be a mapping (key: value lines)")
		return
	}
	p.cfg.lines[path] = n.Line
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		f := k.Value
		if path != "" {
			f = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			p.fail(k, f, "key already defined at line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		p.cfg.lines[f] = k.Line
		if !fn(k.Value, v) {
			p.fail(k, f, "unknown key")
		}
	}
}

func (p *parser) seq(n *yaml.Node, path string, fn func(i int, path string, v *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "must be a list ([a, b] or lines starting with -)")
		return
	}
	for i, v := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		p.cfg.lines[f] = v.Line
		fn(i, f, deref(v))
	}
}

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "must be a single value")
		return "", false
	}
	if n.Tag == "!!null" {
		p.fail(n, path, "is empty")
		return "", false
	}
	return n.Value, true
}

func (p *parser) strs(n *yaml.Node, path string) []string {
	var out []string
	p.seq(n, path, func(_ int, f string, v *yaml.Node) {
		if s, ok := p.str(v, f); ok {
			out = append(out, s)
		}
	})
	return out
}

func (p *parser) float01(n *yaml.Node, path string) float64 {
	s, ok := p.str(n, path)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f >= 1 {
		p.fail(n, path, "must be a number between 0 and 1 (exclusive), got %q", s)
		return 0
	}
	return f
}

func (p *parser) nonneg(n *yaml.Node, path string) float64 {
	s, ok := p.str(n, path)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		p.fail(n, path, "must be a non-negative number, got %q", s)
		return 0
	}
	return f
}

func (p *parser) posint(n *yaml.Node, path string) int {
	s, ok := p.str(n, path)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(s)
	if err != nil || i <= 0 {
		p.fail(n, path, "must be a positive whole number, got %q", s)
		return 0
	}
	return i
}

// ParseSize takes a byte count with an optional unit: 4096, 64KiB, 32MiB,
// 1GiB (binary) or 10MB (decimal).
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q (want a whole number with an optional unit: 64KiB, 32MiB, 1GiB)", s)
	}
	return n * mult, nil
}

func (p *parser) size(n *yaml.Node, path string) int64 {
	s, ok := p.str(n, path)
	if !ok {
		return 0
	}
	b, err := ParseSize(s)
	if err != nil {
		p.fail(n, path, "%v", err)
		return 0
	}
	return b
}

// ParseDuration is time.ParseDuration that also takes whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	s, ok := p.str(n, path)
	if !ok {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 {
		p.fail(n, path, "must be a positive duration like 30m, 24h or 7d, got %q", s)
		return 0
	}
	return d
}

func (p *parser) mac(n *yaml.Node, path string) observe.MAC {
	s, ok := p.str(n, path)
	if !ok {
		return observe.MAC{}
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		p.fail(n, path, "not a 6-byte MAC address like aa:bb:cc:dd:ee:ff: %q", s)
		return observe.MAC{}
	}
	var m observe.MAC
	copy(m[:], hw)
	if m.IsZero() || m.Multicast() {
		p.fail(n, path, "%s is not a unicast device MAC", s)
		return observe.MAC{}
	}
	return m
}

// ParsePrefix takes an address ("192.0.2.10") or a CIDR ("198.51.100.0/28").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if pf.Masked() != pf {
			return netip.Prefix{}, fmt.Errorf("%s has host bits set (did you mean %s?)", s, pf.Masked())
		}
		return pf, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (p *parser) prefix(n *yaml.Node, path string) netip.Prefix {
	s, ok := p.str(n, path)
	if !ok {
		return netip.Prefix{}
	}
	pf, err := ParsePrefix(s)
	if err != nil {
		p.fail(n, path, "not an IP address or CIDR: %v", err)
	}
	return pf
}

// ParseProtocol takes "imaps" or "imaps:10993".
func ParseProtocol(s string) (Protocol, error) {
	name, port, hasPort := strings.Cut(strings.ToLower(s), ":")
	def, ok := ProtocolPorts[name]
	if !ok {
		return Protocol{}, fmt.Errorf("unknown protocol %q (known: %s)", name, protocolList())
	}
	if !hasPort {
		return Protocol{Name: name, Port: def}, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return Protocol{}, fmt.Errorf("bad port in %q", s)
	}
	return Protocol{Name: name, Port: uint16(n)}, nil
}

func (p *parser) root(n *yaml.Node) {
	c := p.cfg
	p.mapping(n, "", func(key string, v *yaml.Node) bool {
		switch key {
		case "sensor":
			c.Sensor, _ = p.str(v, key)
		case "mail":
			p.mail(v)
		case "verdict":
			p.verdict(v)
		case "correlation":
			p.mapping(v, key, func(k string, v *yaml.Node) bool {
				switch k {
				case "window":
					c.Correlation.Window = p.duration(v, "correlation.window")
				case "suppress":
					c.Correlation.Suppress = p.duration(v, "correlation.suppress")
				default:
					return false
				}
				return true
			})
		case "allow":
			p.seq(v, key, func(i int, f string, v *yaml.Node) { p.allow(f, v) })
		case "hosts":
			p.hosts(v)
		case "capture":
			p.mapping(v, key, func(k string, v *yaml.Node) bool {
				switch k {
				case "interfaces":
					c.Capture.Interfaces = p.strs(v, "capture.interfaces")
				case "mode":
					c.Capture.Mode, _ = p.str(v, "capture.mode")
				case "workers":
					c.Capture.Workers = p.posint(v, "capture.workers")
				case "ring_size":
					c.Capture.RingSize = p.size(v, "capture.ring_size")
				case "bpf_ring_size":
					c.Capture.BPFRingSize = p.size(v, "capture.bpf_ring_size")
				default:
					return false
				}
				return true
			})
		case "outputs":
			p.mapping(v, key, func(k string, v *yaml.Node) bool {
				switch k {
				case "file":
					c.Outputs.File, _ = p.str(v, "outputs.file")
				case "max_size":
					c.Outputs.MaxSize = p.size(v, "outputs.max_size")
				case "keep":
					c.Outputs.Keep = p.posint(v, "outputs.keep")
				default:
					return false
				}
				return true
			})
		case "metrics":
			p.mapping(v, key, func(k string, v *yaml.Node) bool {
				if k != "listen" {
					return false
				}
				s, ok := p.str(v, "metrics.listen")
				if ok {
					if _, _, err := net.SplitHostPort(s); err != nil {
						p.fail(v, "metrics.listen", "must be host:port, got %q", s)
					}
					c.Metrics.Listen = s
				}
				return true
			})
		default:
			return false
		}
		return true
	})
}

func (p *parser) mail(n *yaml.Node) {
	c := p.cfg
	p.mapping(n, "mail", func(k string, v *yaml.Node) bool {
		switch k {
		case "presets":
			p.seq(v, "mail.presets", func(_ int, f string, v *yaml.Node) {
				s, ok := p.str(v, f)
				if !ok {
					return
				}
				if _, known := presets[s]; !known {
					p.fail(v, f, "unknown preset %q (known: %s)", s, presetList())
					return
				}
				c.Mail.Presets = append(c.Mail.Presets, s)
			})
		case "servers":
			p.seq(v, "mail.servers", func(_ int, f string, v *yaml.Node) {
				s := MailServer{line: v.Line}
				p.mapping(v, f, func(k string, v *yaml.Node) bool {
					ff := f + "." + k
					switch k {
					case "name":
						s.Name, _ = p.str(v, ff)
					case "names":
						s.Names = p.strs(v, ff)
						for i, name := range s.Names {
							if err := checkName(name); err != nil {
								p.fail(v, fmt.Sprintf("%s[%d]", ff, i), "%v", err)
							}
							s.Names[i] = strings.ToLower(strings.TrimSuffix(name, "."))
						}
					case "addresses":
						p.seq(v, ff, func(_ int, f string, v *yaml.Node) {
							if pf := p.prefix(v, f); pf.IsValid() {
								s.Addresses = append(s.Addresses, pf)
							}
						})
					case "protocols":
						p.seq(v, ff, func(_ int, f string, v *yaml.Node) {
							str, ok := p.str(v, f)
							if !ok {
								return
							}
							pr, err := ParseProtocol(str)
							if err != nil {
								p.fail(v, f, "%v", err)
								return
							}
							s.Protocols = append(s.Protocols, pr)
						})
					default:
						return false
					}
					return true
				})
				c.Mail.Servers = append(c.Mail.Servers, s)
			})
		default:
			return false
		}
		return true
	})
}

func (p *parser) verdict(n *yaml.Node) {
	c := p.cfg
	p.mapping(n, "verdict", func(k string, v *yaml.Node) bool {
		f := "verdict." + k
		switch k {
		case "threshold":
			c.Verdict.Threshold = p.float01(v, f)
		case "prior":
			c.Verdict.Prior = p.float01(v, f)
		case "default_cap":
			c.Verdict.DefaultCap = p.nonneg(v, f)
		case "max_evidence":
			c.Verdict.MaxEvidence = p.posint(v, f)
		case "caps":
			c.Verdict.KindCaps = map[string]float64{}
			p.mapping(v, f, func(kind string, v *yaml.Node) bool {
				c.Verdict.KindCaps[kind] = p.nonneg(v, f+"."+kind)
				return true
			})
		default:
			return false
		}
		return true
	})
}

func (p *parser) allow(f string, n *yaml.Node) {
	a := Allow{line: n.Line}
	p.mapping(n, f, func(k string, v *yaml.Node) bool {
		ff := f + "." + k
		switch k {
		case "mac":
			a.MAC = p.mac(v, ff)
		case "address":
			a.Prefix = p.prefix(v, ff)
		case "hostname":
			if s, ok := p.str(v, ff); ok {
				a.Hostname = strings.ToLower(strings.TrimSuffix(s, "."))
				if strings.Contains(strings.TrimPrefix(a.Hostname, "*"), "*") {
					p.fail(v, ff, "a wildcard is only allowed at the start (*.corp.example or *-ipad)")
				}
			}
		case "reason":
			a.Reason, _ = p.str(v, ff)
		case "expires":
			s, ok := p.str(v, ff)
			if !ok {
				return true
			}
			t, err := parseExpiry(s)
			if err != nil {
				p.fail(v, ff, "must be a date (2027-01-01) or an RFC 3339 time, got %q", s)
			}
			a.Expires = t
		default:
			return false
		}
		return true
	})
	p.cfg.Allow = append(p.cfg.Allow, a)
}

// parseExpiry takes a date (the entry expires at the start of that day, UTC)
// or an RFC 3339 time.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (p *parser) hosts(n *yaml.Node) {
	c := p.cfg
	p.mapping(n, "hosts", func(k string, v *yaml.Node) bool {
		f := "hosts." + k
		switch k {
		case "max":
			c.Hosts.Max = p.posint(v, f)
		case "idle":
			c.Hosts.Idle = p.duration(v, f)
		case "router_addresses":
			c.Hosts.RouterAddresses = p.posint(v, f)
		case "infrastructure":
			p.seq(v, f, func(_ int, ff string, v *yaml.Node) {
				if m := p.mac(v, ff); !m.IsZero() {
					c.Hosts.Infrastructure = append(c.Hosts.Infrastructure, m)
				}
			})
		default:
			return false
		}
		return true
	})
}
