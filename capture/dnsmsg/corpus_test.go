package dnsmsg

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// testdataRoot is the shared third-party corpus, relative to this package
// (the repository is /work/main, the corpus /work/shared/testdata).
const testdataRoot = "../../../shared/testdata"

// corpus returns the path of a corpus file, skipping the test when the
// corpus is absent (failing under CI=true, where it must be present).
func corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(testdataRoot, rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus file missing under CI: %v", err)
		}
		t.Skipf("shared test corpus not present (%v); see /work/shared/testdata/README.md", err)
	}
	return p
}

// l4Payload is one UDP datagram or TCP segment payload, after IP
// reassembly, with the 1-based number of the frame that completed it.
type l4Payload struct {
	frame            int
	tcp              bool
	src, dst         string // addresses, for keying TCP streams
	srcPort, dstPort uint16
	payload          []byte
}

// readL4 decodes every packet of a pcap or pcapng file with gopacket,
// reassembling IPv4 and IPv6 fragments the way tshark does (the payload is
// attributed to the frame that completed it).
func readL4(t testing.TB, path string) []l4Payload {
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
	d4 := ip4defrag.NewIPv4Defragmenter()
	d6 := ip6defrag.NewIPv6Defragmenter()
	var out []l4Payload
	for frame := 1; ; frame++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, frame, err)
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
		var next gopacket.Packet
		var src, dst string
		if l := pkt.Layer(layers.LayerTypeIPv4); l != nil {
			ip := l.(*layers.IPv4)
			src, dst = ip.SrcIP.String(), ip.DstIP.String()
			whole, err := d4.DefragIPv4WithTimestamp(ip, ci.Timestamp)
			if err != nil || whole == nil {
				continue
			}
			if whole != ip {
				next = gopacket.NewPacket(whole.Payload, whole.NextLayerType(), gopacket.Default)
			}
		} else if l := pkt.Layer(layers.LayerTypeIPv6); l != nil {
			ip := l.(*layers.IPv6)
			src, dst = ip.SrcIP.String(), ip.DstIP.String()
			if fl := pkt.Layer(layers.LayerTypeIPv6Fragment); fl != nil {
				whole := d6.DefragIPv6(ip, fl.(*layers.IPv6Fragment))
				if whole == nil {
					continue
				}
				next = gopacket.NewPacket(whole.Payload, fl.(*layers.IPv6Fragment).NextHeader.LayerType(), gopacket.Default)
			}
		}
		if next != nil {
			pkt = next
		}
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil {
			u := l.(*layers.UDP)
			out = append(out, l4Payload{frame: frame, src: src, dst: dst, srcPort: uint16(u.SrcPort), dstPort: uint16(u.DstPort), payload: u.Payload})
		} else if l := pkt.Layer(layers.LayerTypeTCP); l != nil {
			tc := l.(*layers.TCP)
			out = append(out, l4Payload{frame: frame, tcp: true, src: src, dst: dst, srcPort: uint16(tc.SrcPort), dstPort: uint16(tc.DstPort), payload: tc.Payload})
		}
	}
	return out
}

// tshark returns the path of tshark, installing it when running as root,
// skipping the test otherwise (failing under CI=true).
func tshark(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("tshark"); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
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
	t.Skip("tshark not installed and cannot be installed (not root); skipping tshark conformance")
	return ""
}

// tsharkFields runs tshark with a display filter and returns one row of
// tab-separated fields per matching frame.
func tsharkFields(t testing.TB, bin, path, filter string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-n", "-r", path, "-Y", filter, "-T", "fields", "-E", "separator=/t"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rows = append(rows, bytes2fields(sc.Text()))
	}
	return rows
}

func bytes2fields(line string) []string {
	var f []string
	start := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '\t' {
			f = append(f, line[start:i])
			start = i + 1
		}
	}
	return append(f, line[start:])
}
