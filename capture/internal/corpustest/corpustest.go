// Package corpustest is the test-only access to the third-party conformance
// corpus (/work/shared/testdata, beside the repository) shared by the
// capture packages' tests: it finds the corpus, lists its captures, finds
// or installs tshark and runs `tshark -T fields`, and reads the UDP
// payloads of a pcap or pcapng file with gopacket.
//
// Only tests import it. It may import gopacket (with pcapgo and layers) and
// the standard library, nothing of orchard. It has no errors of its own:
// every helper takes a testing.TB and reports through it. A corpus or a
// tshark that is absent skips the test, except under CI=true, where it
// fails it, because CI must run the conformance suite.
package corpustest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (required under CI=true)", args...)
	}
	t.Skipf(format, args...)
}

// Find returns the corpus folder, ../shared/testdata from the module root
// (the first directory holding go.mod above the working directory), and
// whether it is present. It is for a test with a corpus part it may leave
// out; the others call Dir.
func Find() (string, bool) {
	root, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		if up == root {
			return "", false
		}
		root = up
	}
	dir := filepath.Join(root, "..", "shared", "testdata")
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Dir returns the corpus folder (see Find), skipping the test when it is
// absent (failing under CI=true).
func Dir(t testing.TB) string {
	t.Helper()
	dir, ok := Find()
	if !ok {
		unavailable(t, "shared third-party corpus not present at %s (see its README.md); skipping", dir)
	}
	return dir
}

// Path returns the corpus file or folder rel (slash-separated, relative to
// the corpus), skipping the test when it is absent (failing under CI=true).
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		unavailable(t, "corpus file missing: %v", err)
	}
	return p
}

// Captures lists every capture file (.pcap, .pcapng, .cap) of the corpus,
// sorted; it fails the test when there are suspiciously few.
func Captures(t testing.TB) []string {
	t.Helper()
	dir := Dir(t)
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".pcap", ".pcapng", ".cap":
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	if len(out) < 50 {
		t.Fatalf("only %d captures under %s", len(out), dir)
	}
	return out
}

// findTshark returns tshark's path, installing Debian's package with
// apt-get when it is missing and we run as root (the lab machines), or "".
func findTshark(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("tshark"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		return ""
	}
	// A stale package index is the usual reason install fails: update once.
	for _, step := range [][]string{{"install", "-y", "-qq", "tshark"}, {"update", "-qq"}, {"install", "-y", "-qq", "tshark"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "apt-get", step...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Logf("apt-get %s: %v\n%s", strings.Join(step, " "), err, out)
		}
		if p, err := exec.LookPath("tshark"); err == nil {
			return p
		}
	}
	return ""
}

// Tshark returns tshark's path, installing it when root; otherwise the test
// is skipped (failed under CI=true).
func Tshark(t testing.TB) string {
	t.Helper()
	p := findTshark(t)
	if p == "" {
		unavailable(t, "tshark not installed and cannot be installed (not root); skipping the tshark comparison")
	}
	return p
}

// OptionalTshark is Tshark for a test that has more to check than the
// comparison: outside CI it returns "" (after a log) instead of skipping.
func OptionalTshark(t testing.TB) string {
	t.Helper()
	p := findTshark(t)
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is required under CI=true and could not be installed")
		}
		t.Log("tshark not available: skipping the comparison with tshark")
	}
	return p
}

// Fields runs `tshark -T fields` over path with a display filter and
// returns one row of the tab-separated fields per matching frame. A tshark
// that fails fails the test.
func Fields(t testing.TB, bin, path, filter string, fields ...string) [][]string {
	t.Helper()
	return runFields(t, bin, path, filter, false, fields)
}

// LastFields is Fields keeping only the last occurrence of each field (the
// innermost header of a tunnelled packet), and tolerating the exit status
// tshark gives a truncated capture after printing what it read.
func LastFields(t testing.TB, bin, path, filter string, fields ...string) [][]string {
	t.Helper()
	return runFields(t, bin, path, filter, true, fields)
}

func runFields(t testing.TB, bin, path, filter string, last bool, fields []string) [][]string {
	t.Helper()
	args := []string{"-n", "-r", path, "-Y", filter, "-T", "fields", "-E", "separator=/t"}
	if last {
		args = append(args, "-E", "occurrence=l")
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(last && errors.As(err, &ee)) {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("tshark %v output: %v", args, err)
	}
	return rows
}

// Packets yields every frame of a pcap or pcapng file with its 1-based
// frame number (tshark's frame.number), decoded by gopacket with the
// file's (first interface's) link type. A read error fails the test.
func Packets(t testing.TB, path string) iter.Seq2[int, gopacket.Packet] {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r reader
	var lt layers.LinkType
	if len(raw) >= 4 && bytes.Equal(raw[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, lt = pr, pr.LinkType()
	}
	return func(yield func(int, gopacket.Packet) bool) {
		for frame := 1; ; frame++ {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("%s frame %d: %v", path, frame, err)
			}
			pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true})
			pkt.Metadata().CaptureInfo = ci
			if !yield(frame, pkt) {
				return
			}
		}
	}
}

// Datagram is the payload of one UDP datagram of a capture.
type Datagram struct {
	Frame            int // 1-based, as tshark numbers frames
	SrcPort, DstPort uint16
	Payload          []byte // owned by the Datagram
}

// UDP returns the UDP payloads of a pcap or pcapng file, in capture order.
// IP fragments are not reassembled.
func UDP(t testing.TB, path string) []Datagram {
	t.Helper()
	var out []Datagram
	for frame, pkt := range Packets(t, path) {
		if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out = append(out, Datagram{frame, uint16(u.SrcPort), uint16(u.DstPort), bytes.Clone(u.Payload)})
		}
	}
	return out
}
