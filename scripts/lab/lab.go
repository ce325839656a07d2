package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ErrNotRoot is returned by Run when the process is not root: namespaces,
// raw sockets and the servers need it.
var ErrNotRoot = errors.New("lab: needs root (network namespaces, raw sockets, real servers)")

// ErrNoSource is returned when lab.sh cannot be found next to lab.go (the
// package was built without its source tree).
var ErrNoSource = errors.New("lab: scripts/lab source tree not found")

// Profiles lists every client profile labclient knows, in the order lab.sh
// starts them by default.
var Profiles = []string{"apple-mail", "apple-browse", "apple-allowed", "pc-mail", "linux-mail", "android-mail"}

// Lab facts, fixed in lab.sh and orchard-lab.yaml.
const (
	MailServerName = "mail.corp.example"
	MailServerIP   = "192.0.2.10"
	WebServerIP    = "192.0.2.20"
	GatewayLANIP   = "10.99.0.1"
	GatewayMAC     = "02:0b:0a:00:00:01"
	AllowedMAC     = "ae:a1:10:ed:00:01" // the apple-allowed client, allowlisted in orchard-lab.yaml
)

// Options tune one run of the lab.
type Options struct {
	// Profiles to start, a subset of Profiles; all when empty.
	Profiles []string
	// BinDir holds prebuilt labclient and labweb; when empty they are built
	// into DIR/bin.
	BinDir string
	// SkipDeps skips setup-deps.sh (the caller installed the packages).
	SkipDeps bool
	// BeforeTraffic runs once the servers listen and the capture on the
	// gateway bridge has started, before any client runs: start a live
	// sensor on env.Bridge inside env.GatewayNS here. An error aborts the run.
	BeforeTraffic func(ctx context.Context, env Env) error
	// AfterTraffic runs when every client has finished, before the capture
	// stops and the lab is torn down: stop the live sensor here.
	AfterTraffic func(ctx context.Context, env Env) error
}

// Env names the running lab's parts, for the hooks.
type Env struct {
	Dir       string // the run's folder
	Script    string // path of lab.sh
	GatewayNS string // network namespace of the gateway
	ServerNS  string // network namespace of the mail and web servers
	Bridge    string // LAN bridge in GatewayNS, where clients attach
}

// Command returns a command that runs name in the lab namespace ns
// (env.GatewayNS, env.ServerNS or a client's namespace).
func (e Env) Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Result is what a run left in its folder.
type Result struct {
	Dir      string        // the run's folder
	PCAP     string        // capture on the gateway's LAN bridge
	Manifest Manifest      // DIR/manifest.json
	Logs     string        // dovecot.log, postfix.log, dnsmasq.log, labweb.log, tcpdump.log, client-*.log
	Elapsed  time.Duration // whole run, setup-deps included
}

// Manifest describes the lab and each client as lab.sh wrote it.
type Manifest struct {
	GatewayNS  string     `json:"gateway_ns"`
	ServerNS   string     `json:"server_ns"`
	Bridge     string     `json:"bridge"`
	LAN        string     `json:"lan"`
	GatewayIP  string     `json:"gateway_ip"`
	MailServer MailServer `json:"mail_server"`
	WebIP      string     `json:"web_ip"`
	PCAP       string     `json:"pcap"`
	Clients    []Client   `json:"clients"`
}

// MailServer is the lab's work-mail server.
type MailServer struct {
	Name  string `json:"name"`
	IP    string `json:"ip"`
	Ports []int  `json:"ports"`
}

// Client is one client's result, as labclient reported it.
type Client struct {
	Profile       string `json:"profile"`
	Namespace     string `json:"namespace"`
	MAC           string `json:"mac"`
	IP            string `json:"ip"`
	Hostname      string `json:"hostname"`
	Apple         bool   `json:"apple"`
	ReadsMail     bool   `json:"reads_mail"`
	ExpectedAlert bool   `json:"expected_alert"` // true only for apple-mail
	Allowlisted   bool   `json:"allowlisted"`
	TLS           string `json:"tls"`
	OK            bool   `json:"ok"`
	Steps         []Step `json:"steps"`
}

// Step is one thing a client did.
type Step struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	MS     int64  `json:"ms"`
}

// Client returns the manifest's client of a profile.
func (m *Manifest) Client(profile string) (Client, bool) {
	for _, c := range m.Clients {
		if c.Profile == profile {
			return c, true
		}
	}
	return Client{}, false
}

// Dir returns the folder of lab.sh and this package's source.
func Dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", ErrNoSource
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "lab.sh")); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoSource, err)
	}
	return dir, nil
}

// Run brings the lab up in network namespaces, captures the gateway's LAN
// bridge into dir/lab.pcap while the clients run, and tears everything down
// (also on error or cancellation). dir must exist and should be empty.
func Run(ctx context.Context, dir string, opts Options) (*Result, error) {
	start := time.Now()
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	src, err := Dir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "lab.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	script := filepath.Join(src, "lab.sh")
	env := append(os.Environ(), fmt.Sprintf("LAB_OWNER_PID=%d", os.Getpid()))
	if len(opts.Profiles) > 0 {
		env = append(env, "LAB_PROFILES="+strings.Join(opts.Profiles, " "))
	}
	// run executes one step with its output in lab.log. The daemons a step
	// starts write to their own logs, so no pipe keeps Wait waiting.
	run := func(ctx context.Context, limit time.Duration, name string, args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		fmt.Fprintf(logf, "\n### %s %s\n", name, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = src
		cmd.Env = env
		cmd.Stdin = nil
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("lab: %s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(logPath, 60))
		}
		return nil
	}

	if !opts.SkipDeps {
		if err := run(ctx, 8*time.Minute, filepath.Join(src, "setup-deps.sh")); err != nil {
			return nil, err
		}
	}
	bin := opts.BinDir
	if bin == "" {
		bin = filepath.Join(dir, "bin")
		if err := run(ctx, 5*time.Minute, "go", "build", "-o", bin+"/", "./cmd/labclient", "./cmd/labweb"); err != nil {
			return nil, err
		}
	}
	env = append(env, "LAB_BIN="+bin)

	if err := run(ctx, 90*time.Second, script, "up", dir); err != nil {
		return nil, err
	}
	// Tear down whatever happens next, with a context of its own so that a
	// cancelled ctx still cleans up.
	downed := false
	defer func() {
		if !downed {
			_ = run(context.Background(), time.Minute, script, "down", dir)
		}
	}()
	labEnv, err := readLabEnv(filepath.Join(dir, "lab.env"))
	if err != nil {
		return nil, err
	}
	e := Env{Dir: dir, Script: script, GatewayNS: labEnv["NS_GW"], ServerNS: labEnv["NS_SRV"], Bridge: "br0"}

	if err := run(ctx, 30*time.Second, script, "capture", "start", dir); err != nil {
		return nil, err
	}
	var firstErr error
	capturing := true
	stopCapture := func() {
		if capturing {
			capturing = false
			if err := run(context.Background(), 30*time.Second, script, "capture", "stop", dir); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	defer stopCapture()
	if opts.BeforeTraffic != nil {
		if err := opts.BeforeTraffic(ctx, e); err != nil {
			return nil, fmt.Errorf("lab: BeforeTraffic: %w", err)
		}
	}
	trafficErr := run(ctx, 2*time.Minute, script, "traffic", dir)
	if opts.AfterTraffic != nil {
		if err := opts.AfterTraffic(ctx, e); err != nil && trafficErr == nil {
			trafficErr = fmt.Errorf("lab: AfterTraffic: %w", err)
		}
	}
	stopCapture()
	downed = true
	if err := run(context.Background(), time.Minute, script, "down", dir); err != nil && firstErr == nil {
		firstErr = err
	}
	if trafficErr != nil {
		return nil, trafficErr
	}
	if firstErr != nil {
		return nil, firstErr
	}

	res := &Result{Dir: dir, PCAP: filepath.Join(dir, "lab.pcap"), Logs: filepath.Join(dir, "logs"), Elapsed: time.Since(start)}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("lab: manifest: %w", err)
	}
	if err := json.Unmarshal(raw, &res.Manifest); err != nil {
		return nil, fmt.Errorf("lab: manifest: %w", err)
	}
	return res, nil
}

// readLabEnv reads the KEY='value' lines lab.sh up writes.
func readLabEnv(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			m[k] = strings.Trim(v, "'")
		}
	}
	if m["NS_GW"] == "" || m["NS_SRV"] == "" {
		return nil, fmt.Errorf("lab: %s lacks NS_GW or NS_SRV", path)
	}
	return m, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
