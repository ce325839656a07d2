package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
)

func TestBrokenConfigs(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error text
	}{
		{"unknown top-level key", "sensor: a\nmial:\n  servers: []\n",
			[]string{"c.yaml:2: mial: unknown key"}},
		{"yaml syntax", "sensor: a\nmail:\n  servers: [\n",
			[]string{"c.yaml:", "YAML syntax"}},
		{"bad CIDR", "mail:\n  servers:\n    - name: m\n      addresses: [192.0.2.0/33]\n      protocols: [imaps]\n",
			[]string{"c.yaml:4: mail.servers[0].addresses[0]: not an IP address or CIDR"}},
		{"host bits in CIDR", "mail:\n  servers:\n    - name: m\n      addresses:\n        - 198.51.100.5/28\n      protocols: [imaps]\n",
			[]string{"c.yaml:5: mail.servers[0].addresses[0]:", "did you mean 198.51.100.0/28"}},
		{"unknown protocol", "mail:\n  servers:\n    - name: m\n      names: [mail.example]\n      protocols: [imaps, imap4]\n",
			[]string{`c.yaml:5: mail.servers[0].protocols[1]: unknown protocol "imap4"`}},
		{"bad port", "mail:\n  servers:\n    - name: m\n      names: [mail.example]\n      protocols: [\"imaps:99999\"]\n",
			[]string{"c.yaml:5: mail.servers[0].protocols[0]: bad port"}},
		{"threshold out of range", "verdict:\n  threshold: 1.5\n",
			[]string{`c.yaml:2: verdict.threshold: must be a number between 0 and 1 (exclusive), got "1.5"`}},
		{"threshold not a number", "verdict:\n  prior: high\n",
			[]string{`c.yaml:2: verdict.prior: must be a number`}},
		{"bad duration", "correlation:\n  window: 24 hours\n",
			[]string{`c.yaml:2: correlation.window: must be a positive duration`}},
		{"negative duration", "correlation:\n  suppress: -1h\n",
			[]string{`c.yaml:2: correlation.suppress: must be a positive duration`}},
		{"bad MAC", "allow:\n  - mac: aa:bb:cc:dd:ee\n    reason: x\n",
			[]string{"c.yaml:2: allow[0].mac: not a 6-byte MAC address"}},
		{"multicast MAC", "allow:\n  - mac: \"01:00:5e:00:00:01\"\n    reason: x\n",
			[]string{"c.yaml:2: allow[0].mac:", "not a unicast device MAC"}},
		{"allow without reason", "allow:\n  - mac: \"aa:bb:cc:dd:ee:ff\"\n",
			[]string{"c.yaml:2: allow[0].reason: is required"}},
		{"allow without selector", "allow:\n  - reason: because\n    expires: 2027-01-01\n",
			[]string{"c.yaml:2: allow[0]: needs one of mac, address, hostname"}},
		{"bad expiry", "allow:\n  - hostname: a\n    reason: b\n    expires: next year\n",
			[]string{`c.yaml:4: allow[0].expires: must be a date`}},
		{"server without name", "mail:\n  servers:\n    - names: [mail.example]\n      protocols: [imaps]\n",
			[]string{"c.yaml:3: mail.servers[0].name: is required"}},
		{"server without protocols", "mail:\n  servers:\n    - name: m\n      names: [mail.example]\n",
			[]string{"c.yaml:3: mail.servers[0].protocols: is required"}},
		{"server without names or addresses", "mail:\n  servers:\n    - name: m\n      protocols: [imaps]\n",
			[]string{"c.yaml:3: mail.servers[0]: needs names or addresses"}},
		{"duplicate server", "mail:\n  servers:\n    - name: m\n      names: [a.example]\n      protocols: [imaps]\n    - name: m\n      names: [b.example]\n      protocols: [imaps]\n",
			[]string{`c.yaml:6: mail.servers[1].name: duplicate server name "m" (first at line 3)`}},
		{"bad wildcard", "mail:\n  servers:\n    - name: m\n      names: [\"mail.*.example\"]\n      protocols: [imaps]\n",
			[]string{"c.yaml:4: mail.servers[0].names[0]:", "wildcard"}},
		{"unknown preset", "mail:\n  presets: [microsoft356]\n",
			[]string{`c.yaml:2: mail.presets[0]: unknown preset "microsoft356"`}},
		{"servers not a list", "mail:\n  servers:\n    name: m\n",
			[]string{"c.yaml:3: mail.servers: must be a list"}},
		{"mapping expected", "verdict: 0.9\n",
			[]string{"c.yaml:1: verdict: must be a mapping"}},
		{"bad capture mode", "capture:\n  mode: pcap\n",
			[]string{`c.yaml:2: capture.mode: must be auto, ebpf or afpacket, got "pcap"`}},
		{"bad metrics listen", "metrics:\n  listen: 9156\n",
			[]string{`c.yaml:2: metrics.listen: must be host:port`}},
		{"unknown nested key", "correlation:\n  window: 1h\n  supress: 1h\n",
			[]string{"c.yaml:3: correlation.supress: unknown key"}},
		{"hosts max zero", "hosts:\n  max: 0\n",
			[]string{`c.yaml:2: hosts.max: must be a positive whole number, got "0"`}},
		{"duplicate key", "sensor: a\nsensor: b\n",
			[]string{"c.yaml:2:", "already defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted a broken config: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := Parse("c.yaml", []byte("verdict:\n  threshold: 2\ncorrelation:\n  window: x\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if es[0].Line != 2 || es[1].Line != 4 {
		t.Errorf("lines %d, %d; want 2, 4", es[0].Line, es[1].Line)
	}
}

func TestEmpty(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n"} {
		if _, err := Parse("c.yaml", []byte(doc)); !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: got %v, want ErrEmpty", doc, err)
		}
	}
}

func TestDesignExample(t *testing.T) {
	// The fixed keys of DESIGN.md, verbatim.
	doc := `sensor: gw-hq-1
mail:
  servers:
    - name: corp-mail
      names: [mail.corp.example, "*.mail.corp.example"]
      addresses: [192.0.2.10, 198.51.100.0/28]
      protocols: [imap, imaps, pop3, pop3s, smtp, submission, smtps, https]
verdict:
  threshold: 0.9
correlation:
  window: 24h
  suppress: 24h
allow:
  - mac: "aa:bb:cc:dd:ee:ff"
    reason: approved exception, ticket 4711
    expires: 2027-01-01
capture:                    # orchard run
  interfaces: [eth1]
  mode: auto                # ebpf, afpacket or auto
outputs:
  file: /var/log/orchard/alerts.jsonl
metrics:
  listen: 127.0.0.1:9156
`
	c, err := Parse("design.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sensor != "gw-hq-1" || len(c.Mail.Servers) != 1 {
		t.Fatalf("sensor %q servers %d", c.Sensor, len(c.Mail.Servers))
	}
	s := c.Mail.Servers[0]
	if len(s.Protocols) != 8 || s.Protocols[1] != (Protocol{"imaps", 993}) || s.Protocols[7] != (Protocol{"https", 443}) {
		t.Errorf("protocols %v", s.Protocols)
	}
	if s.Addresses[0] != netip.MustParsePrefix("192.0.2.10/32") || s.Addresses[1] != netip.MustParsePrefix("198.51.100.0/28") {
		t.Errorf("addresses %v", s.Addresses)
	}
	if c.Correlation.Window != 24*time.Hour || c.Verdict.Threshold != 0.9 || c.Verdict.Prior != DefaultPrior {
		t.Errorf("correlation/verdict %+v %+v", c.Correlation, c.Verdict)
	}
	a := c.Allow[0]
	if a.MAC != (observe.MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}) || a.Reason == "" {
		t.Errorf("allow %+v", a)
	}
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if !a.Expires.Equal(exp) || !a.Active(exp.Add(-time.Second)) || a.Active(exp) {
		t.Errorf("expiry %v", a.Expires)
	}
	if c.Capture.Mode != "auto" || c.Outputs.File == "" || c.Metrics.Listen != "127.0.0.1:9156" {
		t.Errorf("capture/outputs/metrics %+v %+v %+v", c.Capture, c.Outputs, c.Metrics)
	}
}

func TestPresets(t *testing.T) {
	c, err := Parse("p.yaml", []byte("mail:\n  presets: [microsoft365, google-workspace]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mail.Servers) != 2 {
		t.Fatalf("servers %d", len(c.Mail.Servers))
	}
	ms := c.Mail.Servers[0]
	if ms.Preset != "microsoft365" || !contains(ms.Names, "outlook.office365.com") || !contains(ms.Names, "smtp.office365.com") {
		t.Errorf("m365 %+v", ms)
	}
	in := false
	for _, p := range ms.Addresses {
		if p.Contains(netip.MustParseAddr("52.97.1.1")) {
			in = true
		}
	}
	if !in {
		t.Error("52.96.0.0/14 missing from the Microsoft 365 preset")
	}
	g := c.Mail.Servers[1]
	if !contains(g.Names, "imap.gmail.com") || len(g.Addresses) != 0 {
		t.Errorf("google %+v", g)
	}
	// Validate twice: presets are expanded once.
	if err := c.Validate(); err != nil || len(c.Mail.Servers) != 2 {
		t.Errorf("re-validate: %v, %d servers", err, len(c.Mail.Servers))
	}
	// Preset data is well-formed.
	for name, ss := range presets {
		for _, s := range ss {
			for _, n := range s.Names {
				if err := checkName(n); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestValidateHandBuilt(t *testing.T) {
	c := &Config{Mail: Mail{Servers: []MailServer{{Name: "m"}}}, Verdict: Verdict{Threshold: 3}}
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"verdict.threshold: must be between 0 and 1", "mail.servers[0]: needs names or addresses", "mail.servers[0].protocols: is required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q missing from %v", w, err)
		}
	}
	ok := &Config{Mail: Mail{Servers: []MailServer{{Name: "m", Names: []string{"m.example"}, Protocols: []Protocol{{"imaps", 993}}}}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.Correlation.Window != DefaultWindow || ok.Hosts.Max != DefaultMaxHosts || ok.Capture.Mode != "auto" {
		t.Errorf("defaults not applied: %+v", ok)
	}
}

func TestShippedFiles(t *testing.T) {
	d, err := Default()
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if len(d.Mail.Servers) == 0 {
		t.Error("default config has no mail server")
	}
	b, err := os.ReadFile("orchard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("orchard.example.yaml", b)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(c.Allow) != 3 || c.Verdict.KindCaps["mdns-model"] != 6 || len(c.Hosts.Infrastructure) != 1 {
		t.Errorf("example not fully read: %+v", c)
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		if d, err := ParseDuration(s); err != nil || d != want {
			t.Errorf("%s: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"d", "-1d", "x"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestLiveCaptureKeys(t *testing.T) {
	c, err := Parse("x.yaml", []byte("capture:\n  interfaces: [eth1]\n  workers: 3\n  ring_size: 64MiB\n  bpf_ring_size: 16MiB\noutputs:\n  file: /tmp/a.jsonl\n  max_size: 10MB\n  keep: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Capture.Workers != 3 || c.Capture.RingSize != 64<<20 || c.Capture.BPFRingSize != 16<<20 || c.Outputs.MaxSize != 10e6 || c.Outputs.Keep != 2 {
		t.Errorf("parsed %+v %+v", c.Capture, c.Outputs)
	}
	c, err = Parse("x.yaml", []byte("sensor: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Capture.RingSize != DefaultRingSize || c.Capture.BPFRingSize != DefaultBPFRingSize || c.Outputs.MaxSize != DefaultMaxSize || c.Outputs.Keep != DefaultKeep {
		t.Errorf("defaults %+v %+v", c.Capture, c.Outputs)
	}
	for _, bad := range []string{
		"capture:\n  bpf_ring_size: 3MiB\n",
		"capture:\n  ring_size: 1KiB\n",
		"capture:\n  ring_size: lots\n",
		"outputs:\n  max_size: -5\n",
		"capture:\n  workers: 0\n",
	} {
		if _, err := Parse("x.yaml", []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
