package quic

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
	"github.com/orchard-nsm/orchard/capture/tlshello"
)

type extracted struct {
	frame            int
	srcPort, dstPort uint16
	dcid             string
	sni, ja4, ja3    string
	ja3hash          string
	exts             []uint16
	alpn             []string
	tps              int
}

func extract(t *testing.T, path string) ([]extracted, Stats) {
	t.Helper()
	tr := NewTracker(64, time.Minute)
	var out []extracted
	var hello tlshello.ClientHello
	for _, d := range corpustest.UDP(t, path) {
		res, ok, _ := tr.DatagramFrom(t0, DirectionFromPorts(d.SrcPort, d.DstPort), d.Payload)
		if !ok {
			continue
		}
		if err := hello.Unmarshal(res.ClientHello); err != nil {
			t.Errorf("%s frame %d: tlshello: %v", path, d.Frame, err)
			continue
		}
		ja4, _ := hello.JA4('q')
		ja3s, ja3 := hello.JA3()
		tps, err := ParseTransportParameters(hello.QUICTransportParams, nil)
		if err != nil {
			t.Errorf("%s frame %d: transport parameters: %v", path, d.Frame, err)
		}
		out = append(out, extracted{d.Frame, d.SrcPort, d.DstPort, hex.EncodeToString(res.DCID),
			hello.ServerName, ja4, ja3s, ja3, slices.Clone(hello.Extensions), slices.Clone(hello.ALPN), len(tps)})
	}
	return out, tr.Stats()
}

var conformanceFiles = []struct {
	path        string
	clientHello int // ClientHellos tshark finds (checked against tshark too when present)
}{
	{"ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng", 1},
	{"ja4/pcap/quic-tls-handshake.pcapng", 1},
	{"ja4/pcap/quic-with-several-tls-frames.pcapng", 1},
	{"ndpi/pcap/quic.pcap", 0}, // gQUIC only
	{"ndpi/pcap/quic-29.pcap", 2},
	{"ndpi/pcap/quic-v2.pcapng", 1},
	{"ndpi/pcap/quic_frags_ch_in_multiple_packets.pcapng", 1},
	{"suricata-verify/quic-ietf-ja3/input.pcap", 1},
	{"suricata-verify/quic-v2-ja3/input.pcap", 1},
	{"suricata-verify/ja4-quic/input.pcap", 11},
	{"suricata-verify/ja4-tls-quic/input.pcap", 1},
}

func TestConformanceCaptures(t *testing.T) {
	root := corpustest.Dir(t)
	tshark := corpustest.OptionalTshark(t)
	for _, tc := range conformanceFiles {
		t.Run(filepath.Base(filepath.Dir(tc.path))+"/"+filepath.Base(tc.path), func(t *testing.T) {
			path := filepath.Join(root, tc.path)
			got, st := extract(t, path)
			if len(got) != tc.clientHello {
				t.Errorf("%d ClientHellos, want %d; stats %+v", len(got), tc.clientHello, st)
			}
			// Every packet of these captures is either a client Initial we
			// open or recognisably not one: no decryption failures.
			if st.Skipped[ReasonDecrypt] != 0 || st.Skipped[ReasonMalformed] != 0 || st.Skipped[ReasonTruncated] != 0 {
				t.Errorf("unexpected skips: %v", skipped(st))
			}
			t.Logf("%d ClientHellos; skipped %v", len(got), skipped(st))
			if tshark == "" {
				return
			}
			// Server names are compared, not frames or DCIDs: in quic-29.pcap
			// the client starts over after a Retry (frame 3, keys from the
			// Retry's CID) and then answers a HelloRetryRequest with a second
			// ClientHello further along the same CRYPTO stream (frame 5).
			// tshark takes frame 3 for a retransmission of frame 1 and
			// reports frame 5; we deliver the first ClientHello of each
			// connection, frames 1 and 3, which is what JA4 fingerprints.
			want := tsharkClientHellos(t, tshark, path)
			var have []string
			for _, e := range got {
				have = append(have, e.sni)
			}
			slices.Sort(have)
			if !slices.Equal(have, want) {
				t.Errorf("(frame, sni) differ from tshark:\n got %q\nwant %q", have, want)
			}
		})
	}
}

func skipped(st Stats) string {
	var b strings.Builder
	for r := Reason(1); r < NumReasons; r++ {
		if st.Skipped[r] > 0 {
			fmt.Fprintf(&b, "%v=%d ", r, st.Skipped[r])
		}
	}
	return b.String()
}

func tsharkClientHellos(t *testing.T, tshark, path string) []string {
	t.Helper()
	out, err := exec.Command(tshark, "-r", path, "-Y", "quic && tls.handshake.type==1",
		"-T", "fields", "-e", "tls.handshake.extensions_server_name").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var rows []string // one line per ClientHello, empty when it has no SNI
	if len(out) > 0 {
		rows = strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	}
	slices.Sort(rows)
	return rows
}

// TestJA4AgainstFoxIOSnapshots checks the JA4 of each extracted ClientHello
// against the FoxIO rust tool's expected output for QUIC streams.
func TestJA4AgainstFoxIOSnapshots(t *testing.T) {
	root := corpustest.Dir(t)
	for _, name := range []string{"chrome-cloudflare-quic-with-secrets.pcapng", "quic-tls-handshake.pcapng", "quic-with-several-tls-frames.pcapng"} {
		raw, err := os.ReadFile(filepath.Join(root, "ja4/expected/rust", name+".snap"))
		if err != nil {
			t.Fatal(err)
		}
		// An insta snapshot: a header document, then the YAML list.
		parts := strings.SplitN(string(raw), "\n---\n", 2)
		var entries []map[string]any
		if err := yaml.Unmarshal([]byte(parts[len(parts)-1]), &entries); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := extract(t, filepath.Join(root, "ja4/pcap", name))
		n := 0
		for _, e := range entries {
			ja4, _ := e["ja4"].(string)
			if !strings.HasPrefix(ja4, "q") {
				continue
			}
			n++
			sport, dport := fmt.Sprint(e["src_port"]), fmt.Sprint(e["dst_port"])
			found := false
			for _, g := range got {
				if strconv.Itoa(int(g.srcPort)) == sport && strconv.Itoa(int(g.dstPort)) == dport {
					found = true
					if g.ja4 != ja4 || g.sni != fmt.Sprint(e["tls_server_name"]) {
						t.Errorf("%s %s->%s: ja4 %s sni %s, want %s %v", name, sport, dport, g.ja4, g.sni, ja4, e["tls_server_name"])
					}
				}
			}
			if !found {
				t.Errorf("%s: no ClientHello for stream %s->%s", name, sport, dport)
			}
		}
		if n == 0 {
			t.Errorf("%s: snapshot has no QUIC entry", name)
		}
	}
}

var ruleRe = regexp.MustCompile(`(ja3\.string|ja3\.hash|ja3s\.string|quic\.version); content:"([^"]*)"; sid:(\d+);`)

// TestSuricataVerifyExpectations checks the quic.ja4, quic.extensions and
// ja3 expectations of the suricata-verify QUIC tests.
func TestSuricataVerifyExpectations(t *testing.T) {
	root := corpustest.Dir(t)
	extNames := map[string]uint16{"server_name": 0, "status_request": 5, "supported_groups": 10, "alpn": 16, "key_share": 51, "supported_versions": 43}
	checked := 0
	for _, test := range []string{"quic-ietf-ja3", "quic-v2-ja3", "ja4-quic", "ja4-tls-quic"} {
		dir := filepath.Join(root, "suricata-verify", test)
		var spec struct {
			Pcap   string
			Checks []struct {
				Filter struct {
					Count int
					Match map[string]any
				}
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, "test.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, &spec); err != nil {
			t.Fatalf("%s: %v", test, err)
		}
		pcap := filepath.Join(dir, "input.pcap")
		if spec.Pcap != "" {
			pcap = filepath.Join(dir, spec.Pcap)
		}
		got, _ := extract(t, pcap)
		rules := map[string][2]string{} // sid -> keyword, content
		if b, err := os.ReadFile(filepath.Join(dir, "test.rules")); err == nil {
			for _, m := range ruleRe.FindAllStringSubmatch(string(b), -1) {
				rules[m[3]] = [2]string{m[1], m[2]}
			}
		}
		for _, c := range spec.Checks {
			m := c.Filter.Match
			count := -1
			switch {
			case m["quic.ja4"] != nil:
				count = 0
				for _, g := range got {
					if g.ja4 == m["quic.ja4"] {
						count++
					}
				}
			case m["event_type"] == "quic" && m["quic.extensions[0].name"] != nil:
				count = 0
				for _, g := range got {
					ok := true
					for k, v := range m {
						var i int
						if _, err := fmt.Sscanf(k, "quic.extensions[%d].name", &i); err == nil {
							ok = ok && i < len(g.exts) && g.exts[i] == extNames[fmt.Sprint(v)]
						}
					}
					if v, has := m["quic.extensions[6].values[0]"]; has {
						ok = ok && len(g.alpn) > 0 && g.alpn[0] == v
					}
					if ok {
						count++
					}
				}
			case m["alert.signature_id"] != nil:
				rule, has := rules[fmt.Sprint(m["alert.signature_id"])]
				if !has || (rule[0] != "ja3.string" && rule[0] != "ja3.hash") {
					continue // server-side or packet-level rule: not a ClientHello property
				}
				count = 0
				for _, g := range got {
					if (rule[0] == "ja3.string" && strings.Contains(g.ja3, rule[1])) || (rule[0] == "ja3.hash" && strings.Contains(g.ja3hash, rule[1])) {
						count++
					}
				}
			default:
				continue
			}
			checked++
			if count != c.Filter.Count {
				t.Errorf("%s: check %v matched %d ClientHellos, want %d", test, m, count, c.Filter.Count)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d suricata-verify checks applied", checked)
	}
}
