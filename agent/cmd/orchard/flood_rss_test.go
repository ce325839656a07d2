package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/orchard-nsm/orchard/scripts/gencap"
)

// TestAnalyzeFloodRSS is issue 3's bound, end to end: orchard analyze on a
// capture with a million distinct source addresses (and MACs), with its
// own default memory settings, evicts hosts beyond the table's bound and
// keeps its peak RSS under 256 MB. (GOGC 300 without a memory limit peaked
// at 583 MB here.)
func TestAnalyzeFloodRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the million-source capture takes about 15 s")
	}
	path := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := gencap.Flood(w, 1_000_000, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(orchardBinary(t), "analyze", path)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GOMAXPROCS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("orchard analyze: %v\n%s", err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this platform")
	}
	rssMB := float64(ru.Maxrss) / 1024 // KiB on Linux
	t.Logf("peak RSS %.1f MB; %s", rssMB, strings.TrimSpace(stderr.String()))
	if !strings.Contains(stderr.String(), "hosts 32768 (evicted ") {
		t.Errorf("the host table did not fill and evict: %s", stderr.String())
	}
	if rssMB >= 256 {
		t.Errorf("peak RSS %.1f MB, want under 256", rssMB)
	}
}
