package live_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/live"
	"github.com/orchard-nsm/orchard/capture/observe"
	livetest "github.com/orchard-nsm/orchard/scripts/live"
)

// keys reduces observations to comparable sets: what the detection uses
// (ClientHellos, DNS messages, SYN fingerprints), not packet numbers or
// times, which differ between a file and a live capture.
type keys map[observe.Kind]map[string]int

func (k keys) add(o *observe.Observation) {
	var s string
	base := fmt.Sprintf("%s:%d>%s:%d", o.Src, o.SrcPort, o.Dst, o.DstPort)
	switch o.Kind {
	case observe.KindTLS:
		s = base + " " + o.TLS.ServerName + " " + o.TLS.JA4 + " " + o.TLS.JA3
	case observe.KindDNS, observe.KindMDNS:
		q := ""
		if len(o.DNS.Questions) > 0 {
			q = o.DNS.Questions[0].Name
		}
		s = fmt.Sprintf("%s id=%d resp=%v q=%s answers=%d", base, o.DNS.ID, o.DNS.Response, q, len(o.DNS.Answers))
	case observe.KindTCP:
		s = base + " " + o.TCP.JA4T
	case observe.KindDHCP, observe.KindARP, observe.KindHTTP:
		s = base
	default:
		return
	}
	if k[o.Kind] == nil {
		k[o.Kind] = map[string]int{}
	}
	k[o.Kind][s]++
}

type collector struct{ k keys }

func (c *collector) Observe(o *observe.Observation) { c.k.add(o) }

func offline(t *testing.T, file string) keys {
	t.Helper()
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c := &collector{k: keys{}}
	e := capture.NewEngine(capture.Config{}, c)
	if err := e.Run(src); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	return c.k
}

// runLive captures on the pair's monitor veth while the file is replayed
// and returns the observations' keys and the capture's counters.
func runLive(t *testing.T, p *livetest.Pair, mode, file string, want, pps int) (keys, live.Stats, *live.Capture) {
	t.Helper()
	var c *live.Capture
	err := livetest.InNS(p.NSMon, func() error {
		var err error
		c, err = live.Open(live.Config{Interfaces: []string{p.Mon}, Mode: mode, Workers: 2})
		return err
	})
	if err != nil {
		t.Fatalf("open %s: %v", mode, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := keys{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range c.Observations() {
			mu.Lock()
			got.add(o)
			mu.Unlock()
		}
	}()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	p.Replay(t, file, pps)
	// Wait until every replayed packet went through the capture.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st := c.Stats()
		seen := st.Engine.Packets
		if st.Kernel != nil {
			seen = st.Kernel.SeenPackets
		}
		if int(seen) >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the ring buffer's last records
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("run: %v", err)
	}
	<-done
	st := c.Stats()
	c.Close()
	return got, st, c
}

func compare(t *testing.T, name string, want, got keys, kinds ...observe.Kind) {
	t.Helper()
	for _, k := range kinds {
		var missing, extra []string
		for s, n := range want[k] {
			if got[k][s] < n {
				missing = append(missing, s)
			}
		}
		for s, n := range got[k] {
			if want[k][s] < n {
				extra = append(extra, s)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s: %s: %d of %d offline observations missing, %d extra; first missing %q, first extra %q",
				name, k, len(missing), len(want[k]), len(extra), first(missing), first(extra))
		} else {
			t.Logf("%s: %s: %d observations, same as offline", name, k, total(want[k]))
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestEBPFBulkHeavy: on a mix of at least 90% bulk payload packets the
// kernel passes at most 2% of packets, and still every ClientHello, DNS
// message and SYN that offline analysis of the same file finds.
func TestEBPFBulkHeavy(t *testing.T) {
	livetest.RequireRoot(t)
	livetest.RequireTool(t, "tcpreplay")
	file := filepath.Join(t.TempDir(), "bulk.pcap")
	mix, err := livetest.BulkHeavy(file, 8000, 30, 11)
	if err != nil {
		t.Fatal(err)
	}
	share := float64(mix.Bulk) / float64(mix.Packets)
	if share < 0.90 {
		t.Fatalf("generated mix is %.1f%% bulk, want at least 90%%", 100*share)
	}
	want := offline(t, file)
	p := livetest.NewPair(t)
	got, st, _ := runLive(t, p, "ebpf", file, mix.Packets, 50000)
	k := st.Kernel
	if k == nil {
		t.Fatal("no kernel stats in ebpf mode")
	}
	ratio := float64(k.PassedPackets) / float64(k.SeenPackets)
	t.Logf("%d packets (%.1f%% bulk), kernel saw %d, passed %d (%.2f%%), ring-buffer drops %d; passed by reason %v",
		mix.Packets, 100*share, k.SeenPackets, k.PassedPackets, 100*ratio, k.RingbufDrops, k.Passed)
	if int(k.SeenPackets) < mix.Packets {
		t.Errorf("kernel saw %d of %d packets", k.SeenPackets, mix.Packets)
	}
	if ratio > 0.02 {
		t.Errorf("%.2f%% of packets reached user space, want at most 2%%", 100*ratio)
	}
	if k.RingbufDrops != 0 || st.QueueDrops != 0 {
		t.Errorf("drops: ring buffer %d, queue %d", k.RingbufDrops, st.QueueDrops)
	}
	if len(want[observe.KindTLS]) == 0 || len(want[observe.KindDNS]) == 0 || len(want[observe.KindTCP]) == 0 {
		t.Fatalf("offline analysis found too little to compare: %d TLS, %d DNS, %d SYN", len(want[observe.KindTLS]), len(want[observe.KindDNS]), len(want[observe.KindTCP]))
	}
	compare(t, "ebpf", want, got, observe.KindTLS, observe.KindDNS, observe.KindTCP)
}

// TestModesMatchOffline: AF_PACKET and eBPF capture of a replayed office
// capture give the same ClientHellos, DNS messages, SYNs, DHCP and ARP
// observations as offline analysis of the file.
func TestModesMatchOffline(t *testing.T) {
	livetest.RequireRoot(t)
	livetest.RequireTool(t, "tcpreplay")
	file := filepath.Join(t.TempDir(), "office.pcap")
	if _, err := livetest.Office(file, 3); err != nil {
		t.Fatal(err)
	}
	n := countPackets(t, file)
	want := offline(t, file)
	for _, mode := range []string{"afpacket", "ebpf"} {
		t.Run(mode, func(t *testing.T) {
			p := livetest.NewPair(t)
			// 8k packets/s: the point is equivalence, not speed (make bench-live
			// measures that), and CI runs other test packages alongside.
			got, st, c := runLive(t, p, mode, file, n, 8000)
			if c.Mode() != mode {
				t.Fatalf("mode %s, want %s (%s)", c.Mode(), mode, c.Why())
			}
			t.Logf("%s: %d packets replayed; engine saw %d; socket drops %d; queue drops %d", mode, n, st.Engine.Packets, st.Socket.Drops, st.QueueDrops)
			compare(t, mode, want, got, observe.KindTLS, observe.KindDNS, observe.KindMDNS, observe.KindTCP, observe.KindDHCP, observe.KindARP, observe.KindHTTP)
		})
	}
}

func countPackets(t *testing.T, file string) int {
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		if _, _, err := src.ReadPacket(); err != nil {
			return n
		}
		n++
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
