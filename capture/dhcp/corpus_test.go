package dhcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const testdataRoot = "../../../shared/testdata"

func corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(testdataRoot, rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus missing under CI: %v", err)
		}
		t.Skipf("shared test corpus not present (%v)", err)
	}
	return p
}

type datagram struct {
	frame            int
	srcPort, dstPort uint16
	payload          []byte
}

// readUDP returns the UDP payloads of a pcap or pcapng file, decoded with
// gopacket, with 1-based frame numbers.
func readUDP(t testing.TB, path string) []datagram {
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
			t.Fatal(err)
		}
		r, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		r, lt = pr, pr.LinkType()
	}
	var out []datagram
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, frame, err)
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true})
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil {
			u := l.(*layers.UDP)
			out = append(out, datagram{frame, uint16(u.SrcPort), uint16(u.DstPort), u.Payload})
		}
	}
}

func isV4(d datagram) bool {
	return d.srcPort == 67 || d.srcPort == 68 || d.dstPort == 67 || d.dstPort == 68
}

func isV6(d datagram) bool {
	return d.srcPort == 546 || d.srcPort == 547 || d.dstPort == 546 || d.dstPort == 547
}

func tshark(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("tshark"); err == nil {
		return p
	}
	if os.Geteuid() == 0 { // the lab machines: install it rather than skip
		cmd := exec.Command("apt-get", "install", "-y", "tshark")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install tshark: %v\n%s", err, out)
		}
		if p, err := exec.LookPath("tshark"); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("tshark is required under CI=true")
	}
	t.Skip("tshark not installed and cannot be installed (not root); skipping tshark comparison")
	return ""
}

// tsharkRows returns frame number → fields for every frame matching filter.
func tsharkRows(t testing.TB, bin, path, filter string, fields ...string) map[int][]string {
	t.Helper()
	args := []string{"-n", "-r", path, "-Y", filter, "-T", "fields", "-E", "separator=/t", "-e", "frame.number"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	rows := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark row %q", sc.Text())
		}
		rows[n] = f[1:]
	}
	return rows
}
