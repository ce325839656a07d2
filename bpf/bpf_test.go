package bpf_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/orchard-nsm/orchard/bpf"
	livetest "github.com/orchard-nsm/orchard/scripts/live"
)

// TestGeneratedIsCurrent regenerates the bpf2go output into a temporary
// folder and compares it with the committed files.
func TestGeneratedIsCurrent(t *testing.T) {
	clang := os.Getenv("CLANG")
	if clang == "" {
		clang = "clang-14"
	}
	if _, err := exec.LookPath(clang); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed and CI=true: cannot prove the committed eBPF objects are current", clang)
		}
		t.Skipf("%s not installed: cannot regenerate (make deps installs it)", clang)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "gen.sh")
	cmd.Env = append(os.Environ(), "OUT_DIR="+dir, "CLANG="+clang)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	for _, f := range []string{"orchard_bpfel.go", "orchard_bpfel.o"} {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s is stale: run make generate and commit the result", f)
		}
	}
}

func TestParseEventShort(t *testing.T) {
	rec := make([]byte, bpf.EventHeaderLen+10)
	rec[16] = 11 // says 11 bytes follow, 10 do
	if _, _, err := bpf.ParseEvent(rec); err == nil {
		t.Error("record shorter than its header says: no error")
	}
	for n := 0; n < bpf.EventHeaderLen; n++ {
		if _, _, err := bpf.ParseEvent(rec[:n]); err == nil {
			t.Errorf("%d-byte record: no error", n)
		}
	}
	rec[16] = 10
	ev, data, err := bpf.ParseEvent(rec)
	if err != nil || len(data) != 10 || ev.Captured != 10 {
		t.Errorf("good record: %v, %d bytes", err, len(data))
	}
}

// TestLoadAttachCount loads the program on this kernel, attaches it to a
// veth in a test namespace (tcx and the clsact fallback), replays a
// capture and checks the kernel's counters and per-flow counts.
func TestLoadAttachCount(t *testing.T) {
	livetest.RequireRoot(t)
	livetest.RequireTool(t, "tcpreplay")
	if err := bpf.Supported(); err != nil {
		t.Fatalf("kernel: %v", err)
	}
	file := filepath.Join(t.TempDir(), "mix.pcap")
	mix, err := livetest.BulkHeavy(file, 5000, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"tcx", "clsact"} {
		t.Run(how, func(t *testing.T) {
			p := livetest.NewPair(t)
			objs, err := bpf.Load(bpf.Options{RingBufferSize: 1 << 22, Clsact: how == "clsact"})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer objs.Close()
			if err := objs.SetMailPrefixes([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := livetest.InNS(p.NSMon, func() error { got, err = objs.Attach(p.Mon); return err }); err != nil {
				t.Fatalf("attach: %v", err)
			}
			if got != how {
				t.Fatalf("attached with %s, want %s", got, how)
			}
			if _, err := objs.Attach("orchard-no-such-if"); err == nil {
				t.Error("attach to a missing interface: no error")
			}
			rd, err := objs.NewReader()
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			p.Replay(t, file, 20000)
			st, err := objs.ReadStats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d packets replayed; kernel saw %d, passed %d, flows %d, mail flows %d, ring-buffer drops %d; by reason %v",
				mix.Packets, st.SeenPackets, st.PassedPackets, st.Flows, st.MailFlows, st.RingbufDrops, st.Passed)
			if int(st.SeenPackets) != mix.Packets {
				t.Errorf("kernel saw %d packets, replayed %d", st.SeenPackets, mix.Packets)
			}
			if st.Passed[bpf.ReasonSYN] == 0 || st.Passed[bpf.ReasonDNS] == 0 || st.Passed[bpf.ReasonFirstFlight] == 0 {
				t.Errorf("no SYN, DNS or first-flight packet passed: %v", st.Passed)
			}
			// Every flow is a "mail" flow here: ends are passed.
			if st.MailFlows == 0 || st.MailFlows != st.Flows || st.Passed[bpf.ReasonMail] == 0 {
				t.Errorf("mail flows %d of %d, mail packets passed %d", st.MailFlows, st.Flows, st.Passed[bpf.ReasonMail])
			}
			if st.RingbufDrops != 0 {
				t.Errorf("%d ring-buffer drops with a 4 MiB ring", st.RingbufDrops)
			}
			// A record's header is what ParseEvent expects.
			var n int
			for n < 5 {
				rec, err := rd.Read()
				if err != nil {
					t.Fatal(err)
				}
				ev, data, err := bpf.ParseEvent(rec.RawSample)
				if err != nil || ev.Reason == bpf.ReasonNone || len(data) == 0 || int(ev.Length) < len(data) {
					t.Fatalf("record %d: %+v, %d bytes, %v", n, ev, len(data), err)
				}
				n++
			}
		})
	}
}
