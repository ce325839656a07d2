package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/orchard-nsm/orchard/scripts/lab"
	livetest "github.com/orchard-nsm/orchard/scripts/live"
)

// labCorpus is the third-party capture folder, from this package's folder.
const labCorpus = "../../../../shared/testdata"

// labReplays are the corpus captures replayed onto the lab bridge: macOS
// Mail over IMAPS and a macOS TLS client with ECN SYN flags. Neither talks
// to the lab's mail server, so they add observations but no alert.
var labReplays = []string{"ndpi/pcap/imaps.pcap", "ja4/pcap/macos_tcp_flags.pcap"}

// labMetricsPort is where each mode's orchard serves metrics, on the
// gateway namespace's loopback.
var labMetricsPort = map[string]string{"ebpf": "127.0.0.1:19161", "afpacket": "127.0.0.1:19162"}

// TestRunOnLab runs orchard run in eBPF and AF_PACKET mode on the gateway's
// LAN bridge while the end-to-end lab's clients talk to real dnsmasq,
// dovecot and postfix, replays corpus captures onto the same bridge, and
// checks that both live modes raise exactly the alerts orchard analyze
// raises on the lab's capture of the same bridge, which are the lab's
// expectation: one alert, for apple-mail and the corp mail server.
func TestRunOnLab(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestRunOnLab needs root (network namespaces, eBPF, AF_PACKET, real servers) and CI=true")
		}
		t.Skip("TestRunOnLab needs root (network namespaces, eBPF, AF_PACKET, real servers): sudo go test -run TestRunOnLab ./agent/cmd/orchard")
	}
	start := time.Now()
	bin := orchardBinary(t)
	labSrc, err := lab.Dir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "orchard-runlab-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lab run kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})

	modes := []string{"ebpf", "afpacket"}
	cfgs := map[string]string{}
	for _, mode := range modes {
		cfgs[mode] = writeLabConfig(t, filepath.Join(labSrc, "orchard-lab.yaml"), dir, mode)
	}
	replays := labReplayFiles(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	daemons := map[string]*daemon{}
	// Whatever happens, no orchard outlives the test.
	t.Cleanup(func() {
		for _, d := range daemons {
			if d.cmd.Process != nil && d.cmd.ProcessState == nil {
				d.cmd.Process.Kill()
			}
		}
	})
	tlsBefore := map[string]float64{}
	tlsAfter := map[string]float64{}
	packets := map[string]float64{}

	before := func(ctx context.Context, env lab.Env) error {
		if out, err := exec.CommandContext(ctx, "ip", "-n", env.GatewayNS, "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fmt.Errorf("lo up in %s: %v: %s", env.GatewayNS, err, out)
		}
		for _, mode := range modes {
			d := &daemon{cmd: env.Command(ctx, env.GatewayNS, bin, "run", "-c", cfgs[mode])}
			d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
			d.cmd.WaitDelay = 5 * time.Second
			if err := d.cmd.Start(); err != nil {
				return fmt.Errorf("%s: start orchard run: %w", mode, err)
			}
			daemons[mode] = d
		}
		for _, mode := range modes {
			d := daemons[mode]
			if !d.waitFor(t, "capturing on", 15*time.Second) {
				return fmt.Errorf("%s: orchard run did not start capturing within 15s:\n%s", mode, d.stderr.String())
			}
			if !strings.Contains(d.stderr.String(), mode+" mode") {
				return fmt.Errorf("%s: orchard run not in %s mode:\n%s", mode, mode, d.stderr.String())
			}
			if err := waitHealthy(env.GatewayNS, labMetricsPort[mode], 10*time.Second); err != nil {
				return fmt.Errorf("%s: %w\n%s", mode, err, d.stderr.String())
			}
		}
		return nil
	}

	after := func(ctx context.Context, env lab.Env) error {
		// Let the last lab packets through the pipelines before counting.
		time.Sleep(time.Second)
		for _, mode := range modes {
			m, err := nsGet(env.GatewayNS, labMetricsPort[mode], "/metrics")
			if err != nil {
				return fmt.Errorf("%s: scrape: %w", mode, err)
			}
			tlsBefore[mode] = metricValue(m, `orchard_observations_total{kind="tls"}`)
		}
		if len(replays) > 0 {
			if err := replayOntoBridge(ctx, env, replays); err != nil {
				return err
			}
		}
		time.Sleep(2 * time.Second)
		for _, mode := range modes {
			m, err := nsGet(env.GatewayNS, labMetricsPort[mode], "/metrics")
			if err != nil {
				return fmt.Errorf("%s: scrape: %w", mode, err)
			}
			tlsAfter[mode] = metricValue(m, `orchard_observations_total{kind="tls"}`)
			packets[mode] = metricValue(m, `orchard_packets_total{mode="`+mode+`"}`)
		}
		for _, mode := range modes {
			daemons[mode].stop(t)
		}
		return nil
	}

	res, err := lab.Run(ctx, dir, lab.Options{BeforeTraffic: before, AfterTraffic: after})
	if err != nil {
		for mode, d := range daemons {
			t.Logf("%s orchard stderr:\n%s", mode, d.stderr.String())
		}
		t.Fatalf("lab run: %v", err)
	}
	t.Logf("lab ran in %v; capture %s", res.Elapsed.Round(time.Millisecond), res.PCAP)

	// orchard analyze on the lab's capture of the same bridge.
	actx, acancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer acancel()
	var aout, aerr bytes.Buffer
	acmd := exec.CommandContext(actx, bin, "analyze", "-c", cfgs["afpacket"], res.PCAP)
	acmd.Stdout, acmd.Stderr = &aout, &aerr
	if err := acmd.Run(); err != nil {
		t.Fatalf("orchard analyze %s: %v\n%s", res.PCAP, err, aerr.String())
	}
	t.Logf("orchard analyze: %s", strings.TrimSpace(aerr.String()))

	// The lab's expectation: apple-mail and the corp mail server, only.
	var want []string
	for _, c := range res.Manifest.Clients {
		if c.ExpectedAlert {
			want = append(want, strings.ToLower(c.MAC)+" "+labServerName(t, filepath.Join(labSrc, "orchard-lab.yaml"), res.Manifest.MailServer.IP))
		}
	}
	if len(want) != 1 {
		t.Fatalf("lab manifest expects %d alerts, want exactly 1 (apple-mail): %+v", len(want), res.Manifest.Clients)
	}
	analyzeSet := labAlertSet(t, aout.Bytes())
	analyzeKeys := alertKeys(t, aout.Bytes())
	t.Logf("%-24s %v", "expected (lab manifest):", want)
	t.Logf("%-24s %v", "orchard analyze:", analyzeSet)
	if !slices.Equal(analyzeSet, want) {
		t.Errorf("orchard analyze alerts %v, want the lab's %v", analyzeSet, want)
	}

	for _, mode := range modes {
		d := daemons[mode]
		set := labAlertSet(t, d.stdout.Bytes())
		t.Logf("%-24s %v (%v packets; TLS observations %v before the corpus replay, %v after)", "orchard run "+mode+":", set, packets[mode], tlsBefore[mode], tlsAfter[mode])
		if !slices.Equal(set, analyzeSet) {
			t.Errorf("%s: live alerts %v differ from orchard analyze's %v\nstderr:\n%s", mode, set, analyzeSet, d.stderr.String())
		}
		if !slices.Equal(set, want) {
			t.Errorf("%s: live alerts %v, want the lab's %v", mode, set, want)
		}
		// Same alerts down to host id and reason, not only MAC and server.
		if keys := alertKeys(t, d.stdout.Bytes()); !slices.Equal(keys, analyzeKeys) {
			t.Errorf("%s: alert keys %v, orchard analyze %v", mode, keys, analyzeKeys)
		}
		file, err := os.ReadFile(filepath.Join(dir, "out-"+mode, "alerts.jsonl"))
		if err != nil {
			t.Errorf("%s: outputs.file: %v", mode, err)
		} else if !bytes.Equal(file, d.stdout.Bytes()) {
			t.Errorf("%s: outputs.file differs from standard output", mode)
		}
		if !strings.Contains(d.stderr.String(), "stopped:") {
			t.Errorf("%s: no clean stop message:\n%s", mode, d.stderr.String())
		}
		// The replayed captures hold 3 ClientHellos (2 in imaps.pcap, 1 in
		// macos_tcp_flags.pcap): each live sensor must have seen them.
		if len(replays) == len(labReplays) && tlsAfter[mode]-tlsBefore[mode] < 3 {
			t.Errorf("%s: TLS observations rose by %v during the corpus replay, want at least 3", mode, tlsAfter[mode]-tlsBefore[mode])
		}
	}
	t.Logf("TestRunOnLab took %v", time.Since(start).Round(time.Millisecond))
}

// writeLabConfig writes the lab's orchard config with the capture, outputs
// and metrics keys of one live mode, and returns its path.
func writeLabConfig(t *testing.T, labCfg, dir, mode string) string {
	t.Helper()
	raw, err := os.ReadFile(labCfg)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", labCfg, err)
	}
	cfg["capture"] = map[string]any{"interfaces": []string{"br0"}, "mode": mode, "workers": 2}
	cfg["outputs"] = map[string]any{"file": filepath.Join(dir, "out-"+mode, "alerts.jsonl")}
	cfg["metrics"] = map[string]any{"listen": labMetricsPort[mode]}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "orchard-"+mode+".yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// labServerName is the configured name of the mail server at addr.
func labServerName(t *testing.T, labCfg, addr string) string {
	t.Helper()
	raw, err := os.ReadFile(labCfg)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Mail struct {
			Servers []struct {
				Name      string   `yaml:"name"`
				Addresses []string `yaml:"addresses"`
			} `yaml:"servers"`
		} `yaml:"mail"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Mail.Servers {
		for _, a := range s.Addresses {
			if a == addr {
				return s.Name
			}
		}
	}
	t.Fatalf("%s names no mail server at %s", labCfg, addr)
	return ""
}

// labReplayFiles returns the corpus captures to replay, or none (logged)
// when tcpreplay or the corpus is missing outside CI.
func labReplayFiles(t *testing.T) []string {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		if ci {
			t.Fatal("tcpreplay not installed (make deps installs it) and CI=true")
		}
		t.Log("tcpreplay not installed: no corpus replay onto the lab bridge")
		return nil
	}
	var files []string
	for _, f := range labReplays {
		p, err := filepath.Abs(filepath.Join(labCorpus, f))
		if err == nil {
			_, err = os.Stat(p)
		}
		if err != nil {
			if ci {
				t.Fatalf("corpus capture %s: %v (CI=true)", f, err)
			}
			t.Logf("corpus capture %s missing (%v): no corpus replay onto the lab bridge", f, err)
			return nil
		}
		files = append(files, p)
	}
	return files
}

// replayOntoBridge adds a veth pair in the gateway namespace, one end a
// port of the bridge, MTU 9000 on both, and sends the files out of the
// other end with tcpreplay. The lab's tcpdump on the bridge records them
// too. The namespace's deletion removes the veth.
func replayOntoBridge(ctx context.Context, env lab.Env, files []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ns := env.GatewayNS
	steps := [][]string{
		{"ip", "-n", ns, "link", "add", "rpl0", "mtu", "9000", "type", "veth", "peer", "name", "rpl1", "mtu", "9000"},
		{"ip", "-n", ns, "link", "set", "rpl0", "master", env.Bridge},
		{"ip", "-n", ns, "link", "set", "rpl0", "up"},
		{"ip", "-n", ns, "link", "set", "rpl1", "up"},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	args := append([]string{"-q", "--pps=500", "-i", "rpl1"}, files...)
	if out, err := env.Command(ctx, ns, "tcpreplay", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("tcpreplay: %v: %s", err, out)
	}
	return nil
}

// waitHealthy polls /healthz in namespace ns until it answers ok.
func waitHealthy(ns, addr string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	var last error
	for time.Now().Before(end) {
		body, err := nsGet(ns, addr, "/healthz")
		if err == nil && strings.HasPrefix(body, "HTTP/1.0 200") && strings.HasSuffix(body, "\r\n\r\nok\n") {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("answered %q", body)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("/healthz on %s not ok within %v: %v", addr, timeout, last)
}

// nsGet does a GET in namespace ns and returns the whole response.
func nsGet(ns, addr, path string) (string, error) {
	var body []byte
	err := livetest.InNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path)
		body, err = io.ReadAll(c)
		return err
	})
	return string(body), err
}

// metricValue returns the value of the exposition line that starts with
// series, 0 when absent.
func metricValue(exposition, series string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// labAlertSet reduces alert lines to "host MAC + mail server name", sorted.
func labAlertSet(t *testing.T, b []byte) []string {
	t.Helper()
	var set []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var a struct {
			Event struct{ Kind string }
			Host  struct{ MAC string }
			Orch  struct {
				Mail struct{ Server string }
			} `json:"orchard"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert line: %v: %s", err, sc.Bytes())
		}
		if a.Event.Kind == "alert" {
			set = append(set, strings.ToLower(a.Host.MAC)+" "+a.Orch.Mail.Server)
		}
	}
	sort.Strings(set)
	return set
}
