package livetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// RequireRoot skips the test unless it runs as root (namespaces, BPF and
// AF_PACKET need it); with CI=true it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (network namespaces, eBPF, AF_PACKET) and CI=true")
		}
		t.Skip("needs root: network namespaces, eBPF and AF_PACKET")
	}
}

// RequireTool skips (fails under CI=true) when a program is not installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (make deps installs it) and CI=true", name)
		}
		t.Skipf("%s not installed (make deps installs it)", name)
	}
	return p
}

// Pair is two network namespaces joined by a veth: tcpreplay sends on Gen
// in NSGen; the capture runs on Mon in NSMon.
type Pair struct {
	NSGen, NSMon string
	Gen, Mon     string
}

// NewPair creates the namespaces and veth (MTU 9000, IPv6 off so the
// kernel adds no packets of its own) and deletes them when the test ends.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	p := &Pair{NSGen: "orch-" + id + "-g", NSMon: "orch-" + id + "-m", Gen: "og" + id, Mon: "om" + id}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.NSGen).Run()
		exec.Command("ip", "netns", "del", p.NSMon).Run()
	})
	steps := [][]string{
		{"ip", "netns", "add", p.NSGen},
		{"ip", "netns", "add", p.NSMon},
		{"ip", "-n", p.NSGen, "link", "add", p.Gen, "mtu", "9000", "type", "veth", "peer", "name", p.Mon, "netns", p.NSMon, "mtu", "9000"},
		{"ip", "netns", "exec", p.NSGen, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"ip", "netns", "exec", p.NSMon, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"ip", "-n", p.NSGen, "link", "set", p.Gen, "up"},
		{"ip", "-n", p.NSMon, "link", "set", p.Mon, "up"},
		{"ip", "-n", p.NSGen, "link", "set", "lo", "up"},
		{"ip", "-n", p.NSMon, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return p
}

// Replay sends a capture file out of Gen with tcpreplay at pps packets per
// second, or as fast as it can (--topspeed) when pps is 0.
func (p *Pair) Replay(t testing.TB, file string, pps int) string {
	t.Helper()
	RequireTool(t, "tcpreplay")
	args := []string{"netns", "exec", p.NSGen, "tcpreplay", "-q", "-i", p.Gen}
	if pps <= 0 {
		args = append(args, "--topspeed")
	} else {
		args = append(args, fmt.Sprintf("--pps=%d", pps))
	}
	args = append(args, file)
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v: %s", err, out)
	}
	return string(out)
}

// InNS runs fn on a thread switched into the named namespace. Sockets and
// BPF links made inside stay bound to that namespace's interfaces.
func InNS(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	defer netns.Set(orig)
	return fn()
}
