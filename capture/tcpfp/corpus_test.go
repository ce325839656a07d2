package tcpfp

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"go.yaml.in/yaml/v3"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
)

type flowKey struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
}

// syn is a SYN as the sensor will hand it to Fingerprint: the innermost IP
// header and the TCP segment (tunnels such as GRE, VXLAN, GTP are decoded
// by gopacket).
type syn struct {
	frame int
	key   flowKey
	ip    []byte
	tcp   []byte
}

func readSYNs(t testing.TB, path string) []syn {
	t.Helper()
	var out []syn
	for frame, pkt := range corpustest.Packets(t, path) {
		var ip gopacket.Layer
		var src, dst netip.Addr
		for _, l := range pkt.Layers() {
			switch v := l.(type) {
			case *layers.IPv4:
				ip = v
				src, _ = netip.AddrFromSlice(v.SrcIP.To4())
				dst, _ = netip.AddrFromSlice(v.DstIP.To4())
			case *layers.IPv6:
				ip = v
				src, _ = netip.AddrFromSlice(v.SrcIP)
				dst, _ = netip.AddrFromSlice(v.DstIP)
			case *layers.TCP:
				if ip == nil || !v.SYN || v.ACK {
					continue
				}
				out = append(out, syn{
					frame: frame,
					key:   flowKey{src, dst, uint16(v.SrcPort), uint16(v.DstPort)},
					ip:    ip.LayerContents(),
					tcp:   append(append([]byte{}, v.Contents...), v.Payload...),
				})
			}
		}
	}
	return out
}

// TestJA4TCorpus checks JA4T against FoxIO's Rust expectations for every
// client SYN the .snap files give a ja4t for.
func TestJA4TCorpus(t *testing.T) {
	snaps, err := filepath.Glob(filepath.Join(corpustest.Path(t, "ja4/expected/rust"), "*.snap"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, snap := range snaps {
		pcap := filepath.Join(corpustest.Dir(t), "ja4/pcap", strings.TrimSuffix(filepath.Base(snap), ".snap"))
		raw, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		// A snap is a YAML header document followed by the expectation list.
		docs := bytes.SplitN(raw, []byte("\n---\n"), 2)
		if len(docs) != 2 {
			continue
		}
		var entries []map[string]any
		if err := yaml.Unmarshal(docs[1], &entries); err != nil {
			t.Fatalf("%s: %v", snap, err)
		}
		want := map[flowKey]string{}
		for _, e := range entries {
			j, ok := e["ja4t"].(string)
			if !ok || e["transport"] != "tcp" {
				continue
			}
			src, err1 := netip.ParseAddr(str(e["src"]))
			dst, err2 := netip.ParseAddr(str(e["dst"]))
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad address in %v", snap, e)
			}
			want[flowKey{src, dst, uint16(num(e["src_port"])), uint16(num(e["dst_port"]))}] = j
		}
		if len(want) == 0 {
			continue
		}
		if _, err := os.Stat(pcap); err != nil {
			t.Logf("%s: capture not in corpus, %d ja4t values not checked", filepath.Base(snap), len(want))
			continue
		}
		t.Run(filepath.Base(pcap), func(t *testing.T) {
			seen := map[flowKey]bool{}
			for _, s := range readSYNs(t, pcap) {
				w, ok := want[s.key]
				if !ok || seen[s.key] {
					continue // FoxIO fingerprints the first SYN of a stream
				}
				seen[s.key] = true
				fp, err := Fingerprint(s.ip, s.tcp)
				if err != nil {
					t.Errorf("frame %d: %v", s.frame, err)
					continue
				}
				if fp.JA4T != w {
					t.Errorf("frame %d %v: JA4T %q, FoxIO %q", s.frame, s.key, fp.JA4T, w)
				}
				checked++
			}
			for k := range want {
				if !seen[k] {
					t.Errorf("no SYN found for expected stream %v", k)
				}
			}
		})
	}
	if checked == 0 {
		t.Fatal("no JA4T value checked")
	}
	t.Logf("%d JA4T values equal FoxIO's", checked)
}

func str(v any) string { s, _ := v.(string); return s }

func num(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return -1
}

var p0fHead = regexp.MustCompile(`^\.-\[ (\S+)/(\d+) -> (\S+)/(\d+) \(syn\) \]-`)

// TestP0fRawSig runs p0f 3 over the SYN-bearing captures and compares its
// raw_sig with our signature. p0f prints the TTL as "observed+distance";
// that sum is the initial TTL guess, which is what our signature (in
// p0f.fp syntax) carries, so raw_sig is rewritten to it before comparing.
func TestP0fRawSig(t *testing.T) {
	bin, err := exec.LookPath("p0f")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("p0f is required under CI=true")
		}
		t.Skip("p0f not installed (apt-get install p0f); skipping p0f comparison")
	}
	fpdb := filepath.Join(corpustest.Path(t, "p0f"), "p0f.fp")
	files, _ := filepath.Glob(filepath.Join(corpustest.Dir(t), "ja4/pcap/*"))
	for i := range files {
		files[i], _ = filepath.Rel(corpustest.Dir(t), files[i])
	}
	files = append(files, "ndpi/pcap/safari.pcap", "ndpi/pcap/443-safari.pcap")
	compared := 0
	for _, f := range files {
		path := filepath.Join(corpustest.Dir(t), f)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command(bin, "-f", fpdb, "-r", path).CombinedOutput()
			if err != nil {
				t.Skipf("p0f cannot read %s (%v): %s", f, err, lastLine(out))
			}
			sigs := map[flowKey]string{}
			var cur *flowKey
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				line := sc.Text()
				if m := p0fHead.FindStringSubmatch(line); m != nil {
					src, _ := netip.ParseAddr(m[1])
					dst, _ := netip.ParseAddr(m[3])
					sp, _ := strconv.Atoi(m[2])
					dp, _ := strconv.Atoi(m[4])
					cur = &flowKey{src, dst, uint16(sp), uint16(dp)}
					continue
				}
				if cur != nil && strings.HasPrefix(line, "| raw_sig  = ") {
					if _, dup := sigs[*cur]; !dup {
						sigs[*cur] = p0fToIttl(strings.TrimPrefix(line, "| raw_sig  = "))
					}
					cur = nil
				}
			}
			seen := map[flowKey]bool{}
			for _, s := range readSYNs(t, path) {
				w, ok := sigs[s.key]
				if !ok || seen[s.key] {
					continue
				}
				seen[s.key] = true
				fp, err := Fingerprint(s.ip, s.tcp)
				if err != nil {
					t.Errorf("frame %d: %v", s.frame, err)
					continue
				}
				if fp.Fingerprint != w {
					t.Errorf("frame %d %v:\n ours %s\n p0f  %s", s.frame, s.key, fp.Fingerprint, w)
				}
				compared++
			}
		})
	}
	if compared == 0 {
		t.Skip("p0f reported no SYN in the corpus captures")
	}
	t.Logf("%d SYN signatures equal p0f's raw_sig", compared)
}

func p0fToIttl(sig string) string {
	f := strings.SplitN(sig, ":", 3)
	if len(f) < 3 {
		return sig
	}
	a, b, ok := strings.Cut(f[1], "+")
	if ok {
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil {
			f[1] = strconv.Itoa(x + y)
		}
	}
	return strings.Join(f, ":")
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
