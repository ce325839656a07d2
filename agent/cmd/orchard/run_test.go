package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	livetest "github.com/orchard-nsm/orchard/scripts/live"
)

func TestRotating(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "alerts.jsonl")
	r, err := openRotating(p, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes: two lines per file
	for i := 0; i < 9; i++ {
		if err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	sizes := map[string]int64{}
	for _, f := range []string{p, p + ".1", p + ".2", p + ".3"} {
		if st, err := os.Stat(f); err == nil {
			sizes[filepath.Base(f)] = st.Size()
		}
	}
	want := map[string]int64{"alerts.jsonl": 40, "alerts.jsonl.1": 80, "alerts.jsonl.2": 80}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("files %v, want %v (keep 2, whole lines, at most 100 bytes)", sizes, want)
	}
	// Reopening appends.
	r, _ = openRotating(p, 100, 2)
	r.Write(line)
	r.Close()
	if st, _ := os.Stat(p); st.Size() != 80 {
		t.Errorf("reopened file is %d bytes, want 80", st.Size())
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run"}, nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "-c FILE") {
		t.Errorf("no config: %d %q", code, errb.String())
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("sensor: x\n"), 0o600)
	errb.Reset()
	if code := run([]string{"run", "-c", cfg}, nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "capture.interfaces") {
		t.Errorf("no interfaces: %d %q", code, errb.String())
	}
	os.WriteFile(cfg, []byte("capture:\n  interfaces: [orchard-none0]\n  mode: afpacket\n"), 0o600)
	errb.Reset()
	if code := run([]string{"run", "-c", cfg}, nil, &out, &errb); code == exitOK || !strings.Contains(errb.String(), "orchard-none0") {
		t.Errorf("missing interface: %d %q", code, errb.String())
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// orchardBinary builds the command once into a folder anyone can read (the
// unprivileged test runs it as nobody).
func orchardBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orchard-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "orchard")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

const liveConfig = `sensor: test-gw
mail:
  servers:
    - name: corp-mail
      names: [mail.corp.example]
      addresses: [192.0.2.10]
      protocols: [imap, imaps, submission, smtps, https]
capture:
  interfaces: [%s]
  mode: %s
  workers: 2
outputs:
  file: %s
metrics:
  listen: 127.0.0.1:19156
`

// daemon is orchard run started in the monitor namespace.
type daemon struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startDaemon(t *testing.T, ns string, cred *syscall.SysProcAttr, wrap []string, args ...string) *daemon {
	t.Helper()
	argv := append([]string{"netns", "exec", ns}, wrap...)
	argv = append(argv, args...)
	d := &daemon{cmd: exec.Command("ip", argv...)}
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	d.cmd.SysProcAttr = cred
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill() })
	return d
}

// waitFor waits until stderr contains s or the process exits.
func (d *daemon) waitFor(t *testing.T, s string, timeout time.Duration) bool {
	t.Helper()
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if strings.Contains(d.stderr.String(), s) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("orchard run exited: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("orchard run did not stop within 20s of SIGTERM\n%s", d.stderr.String())
	}
}

// alertKeys reduces alert lines to (host, mail server, reason): times
// differ between a replay and the file.
func alertKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var a struct {
			Event struct{ Kind, Reason string }
			Host  struct{ ID string }
			Orch  struct {
				Mail struct {
					Server string
					Flows  uint64
				}
			} `json:"orchard"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert line: %v: %s", err, sc.Bytes())
		}
		if a.Event.Kind == "alert" {
			keys = append(keys, a.Host.ID+" "+a.Orch.Mail.Server+" "+a.Event.Reason)
		}
	}
	sort.Strings(keys)
	return keys
}

// scrape fetches /metrics from inside the namespace.
func scrape(t *testing.T, ns string) string {
	t.Helper()
	var body []byte
	err := livetest.InNS(ns, func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:19156", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
		body, err = io.ReadAll(c)
		return err
	})
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return string(body)
}

// TestRunMatchesAnalyze runs orchard run on the monitor veth in each mode
// while the office capture is replayed, and checks it raises the alerts
// orchard analyze raises on the file, serves metrics, and stops cleanly on
// SIGTERM with the alerts also in the output file.
func TestRunMatchesAnalyze(t *testing.T) {
	livetest.RequireRoot(t)
	livetest.RequireTool(t, "tcpreplay")
	bin := orchardBinary(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "office.pcap")
	if _, err := livetest.Office(pcap, 3); err != nil {
		t.Fatal(err)
	}
	cfg0 := filepath.Join(dir, "analyze.yaml")
	os.WriteFile(cfg0, []byte(fmt.Sprintf(liveConfig, "eth0", "auto", filepath.Join(dir, "x.jsonl"))), 0o644)
	var aout, aerr bytes.Buffer
	if code := run([]string{"analyze", "-q", "-c", cfg0, pcap}, nil, &aout, &aerr); code != exitOK {
		t.Fatalf("analyze: %d %s", code, aerr.String())
	}
	want := alertKeys(t, aout.Bytes())
	if len(want) == 0 {
		t.Fatal("orchard analyze raised no alert on the office capture: nothing to compare")
	}
	for _, mode := range []string{"afpacket", "ebpf"} {
		t.Run(mode, func(t *testing.T) {
			p := livetest.NewPair(t)
			alerts := filepath.Join(dir, mode, "alerts.jsonl")
			cfg := filepath.Join(dir, mode+".yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(liveConfig, p.Mon, mode, alerts)), 0o644)
			d := startDaemon(t, p.NSMon, nil, nil, bin, "run", "-c", cfg)
			if !d.waitFor(t, "capturing on", 10*time.Second) {
				t.Fatalf("orchard run did not start:\n%s", d.stderr.String())
			}
			p.Replay(t, pcap, 20000)
			time.Sleep(time.Second)
			m := scrape(t, p.NSMon)
			for _, s := range []string{`orchard_packets_total{mode="` + mode + `"}`, "orchard_queue_drops_total", "orchard_alerts_total", "orchard_observations_total{kind=\"tls\"}"} {
				if !strings.Contains(m, s) {
					t.Errorf("metrics lack %s", s)
				}
			}
			d.stop(t)
			got := alertKeys(t, d.stdout.Bytes())
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: alerts differ from orchard analyze:\n got %d: %v\nwant %d: %v\nstderr:\n%s", mode, len(got), got, len(want), want, d.stderr.String())
			} else {
				t.Logf("%s: %d alerts, same as orchard analyze", mode, len(got))
			}
			fileAlerts, err := os.ReadFile(alerts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fileAlerts, d.stdout.Bytes()) {
				t.Errorf("outputs.file differs from standard output")
			}
			if !strings.Contains(d.stderr.String(), "stopped:") {
				t.Errorf("no clean stop message:\n%s", d.stderr.String())
			}
		})
	}
}

// TestRunUnprivileged runs orchard as nobody: with CAP_NET_RAW,
// CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON (ambient, as the systemd unit
// grants them) it captures in both modes and raises alerts; without them it
// exits with a message naming the missing capability and the interface.
func TestRunUnprivileged(t *testing.T) {
	livetest.RequireRoot(t)
	livetest.RequireTool(t, "tcpreplay")
	livetest.RequireTool(t, "setpriv")
	bin := orchardBinary(t)
	dir, err := os.MkdirTemp("", "orchard-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	pcap := filepath.Join(dir, "office.pcap")
	if _, err := livetest.Office(pcap, 3); err != nil {
		t.Fatal(err)
	}
	const caps = "+net_raw,+net_admin,+bpf,+perfmon"
	withCaps := []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=" + caps, "--ambient-caps=" + caps, "--"}
	noCaps := []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--"}
	for _, mode := range []string{"afpacket", "ebpf"} {
		t.Run(mode, func(t *testing.T) {
			p := livetest.NewPair(t)
			cfg := filepath.Join(dir, mode+".yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(liveConfig, p.Mon, mode, filepath.Join(dir, mode, "alerts.jsonl"))), 0o644)

			d := startDaemon(t, p.NSMon, nil, noCaps, bin, "run", "-c", cfg)
			err := d.cmd.Wait()
			msg := map[string]string{
				"afpacket": "orchard run: need CAP_NET_RAW to open AF_PACKET on " + p.Mon + ": operation not permitted",
				"ebpf":     "orchard run: need CAP_BPF and CAP_PERFMON to load the eBPF program",
			}[mode]
			if err == nil || !strings.Contains(d.stderr.String(), msg) {
				t.Errorf("without capabilities: exit %v, stderr %q, want %q", err, d.stderr.String(), msg)
			}

			d = startDaemon(t, p.NSMon, nil, withCaps, bin, "run", "-c", cfg)
			if !d.waitFor(t, "capturing on", 10*time.Second) {
				t.Fatalf("as nobody with capabilities, orchard run did not start:\n%s", d.stderr.String())
			}
			if !strings.Contains(d.stderr.String(), mode+" mode") {
				t.Errorf("not in %s mode: %s", mode, d.stderr.String())
			}
			p.Replay(t, pcap, 20000)
			time.Sleep(time.Second)
			d.stop(t)
			if n := len(alertKeys(t, d.stdout.Bytes())); n == 0 {
				t.Errorf("as nobody with capabilities: no alert\n%s", d.stderr.String())
			}
		})
	}
}

// TestRunReload: SIGHUP reloads the config without stopping capture; a
// broken config is refused and the running one stays.
func TestRunReload(t *testing.T) {
	livetest.RequireRoot(t)
	bin := orchardBinary(t)
	dir := t.TempDir()
	p := livetest.NewPair(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(liveConfig, p.Mon, "ebpf", filepath.Join(dir, "a.jsonl"))), 0o644)
	d := startDaemon(t, p.NSMon, nil, nil, bin, "run", "-c", cfg)
	if !d.waitFor(t, "capturing on", 10*time.Second) {
		t.Fatalf("did not start:\n%s", d.stderr.String())
	}
	os.WriteFile(cfg, []byte("verdict:\n  threshold: 7\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	if !d.waitFor(t, "reload refused", 5*time.Second) {
		t.Errorf("broken config not refused:\n%s", d.stderr.String())
	}
	os.WriteFile(cfg, []byte(strings.Replace(fmt.Sprintf(liveConfig, p.Mon, "ebpf", filepath.Join(dir, "a.jsonl")), "192.0.2.10]", "192.0.2.10, 198.51.100.0/24]", 1)), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	if !d.waitFor(t, "SIGHUP: reloaded", 5*time.Second) {
		t.Errorf("reload not done:\n%s", d.stderr.String())
	}
	if m := scrape(t, p.NSMon); !strings.Contains(m, "orchard_reloads_total 1") || !strings.Contains(m, "orchard_reload_errors_total 1") {
		t.Errorf("reload counters wrong")
	}
	d.stop(t)
}
