package capture

// Conformance of the whole capture pipeline (file reader, decoder, flow
// table, reassembly, parsers) against the third-party reference outputs in
// ../shared/testdata: FoxIO's JA4 (Rust) for every ClientHello, tshark's JA3,
// SNI and DNS names. The captures are read in place, never copied.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// analyzeFile runs a capture through a fresh engine.
func analyzeFile(t testing.TB, path string) (*collect, *Engine, error) {
	t.Helper()
	c := &collect{}
	e := NewEngine(Config{}, c)
	src, err := OpenFile(path)
	if err != nil {
		return c, e, err
	}
	defer src.Close()
	err = e.Run(src)
	e.Flush()
	return c, e, err
}

type flowID struct {
	src, dst     string
	sport, dport uint16
}

func (f flowID) String() string { return fmt.Sprintf("%s:%d>%s:%d", f.src, f.sport, f.dst, f.dport) }

func helloFlows(c *collect, quic bool) map[flowID][]*observe.Observation {
	m := map[flowID][]*observe.Observation{}
	for _, o := range c.kind(observe.KindTLS) {
		if (o.TLS.QUIC != nil) != quic {
			continue
		}
		k := flowID{o.Src.String(), o.Dst.String(), o.SrcPort, o.DstPort}
		m[k] = append(m[k], o)
	}
	return m
}

type snapEntry struct {
	Transport string `yaml:"transport"`
	Src       string `yaml:"src"`
	Dst       string `yaml:"dst"`
	SrcPort   uint16 `yaml:"src_port"`
	DstPort   uint16 `yaml:"dst_port"`
	SNI       string `yaml:"tls_server_name"`
	JA4       string `yaml:"ja4"`
	JA4R      string `yaml:"ja4_r"`
}

func readSnap(t testing.TB, path string) []snapEntry {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// insta snapshots: a YAML header document, then the list.
	parts := bytes.SplitN(b, []byte("\n---\n"), 2)
	body := parts[len(parts)-1]
	var entries []snapEntry
	if err := yaml.Unmarshal(body, &entries); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return entries
}

// TestJA4MatchesFoxIO: JA4 (and JA4_r where given) equals FoxIO's reference
// for every ClientHello, TCP and QUIC, in every capture of ja4/pcap.
func TestJA4MatchesFoxIO(t *testing.T) {
	dir := corpustest.Dir(t)
	snaps, _ := filepath.Glob(filepath.Join(dir, "ja4/expected/rust/*.snap"))
	if len(snaps) == 0 {
		t.Fatal("no .snap files")
	}
	var checked [2]int
	for _, snap := range snaps {
		pcap := filepath.Join(dir, "ja4/pcap", strings.TrimSuffix(filepath.Base(snap), ".snap"))
		entries := readSnap(t, snap)
		var want []snapEntry
		for _, e := range entries {
			if e.Transport == "udp" {
				e.Transport = "quic" // FoxIO's tool says udp for QUIC streams
			}
			if e.JA4 != "" && (e.Transport == "tcp" || e.Transport == "quic") {
				want = append(want, e)
			}
		}
		if len(want) == 0 {
			continue
		}
		c, _, err := analyzeFile(t, pcap)
		if err != nil {
			t.Errorf("%s: %v", pcap, err)
		}
		for _, w := range want {
			quic := w.Transport == "quic"
			got := helloFlows(c, quic)[flowID{w.Src, w.Dst, w.SrcPort, w.DstPort}]
			id := fmt.Sprintf("%s %s %s:%d>%s:%d", filepath.Base(pcap), w.Transport, w.Src, w.SrcPort, w.Dst, w.DstPort)
			if len(got) == 0 {
				t.Errorf("%s: no ClientHello found, FoxIO has %s", id, w.JA4)
				continue
			}
			if got[0].TLS.JA4 != w.JA4 {
				t.Errorf("%s: JA4 %s, FoxIO %s", id, got[0].TLS.JA4, w.JA4)
			}
			if w.JA4R != "" && got[0].TLS.JA4R != w.JA4R {
				t.Errorf("%s: JA4_r %s, FoxIO %s", id, got[0].TLS.JA4R, w.JA4R)
			}
			if w.SNI != "" && got[0].TLS.ServerName != w.SNI {
				t.Errorf("%s: SNI %q, FoxIO %q", id, got[0].TLS.ServerName, w.SNI)
			}
			if quic {
				checked[1]++
			} else {
				checked[0]++
			}
		}
	}
	t.Logf("JA4 equal to FoxIO for %d TCP and %d QUIC ClientHellos", checked[0], checked[1])
	if checked[0] < 50 || checked[1] < 3 {
		t.Errorf("only %d TCP and %d QUIC ClientHellos checked", checked[0], checked[1])
	}
}

// TestQUICSuricataVerify checks the expectations of the suricata-verify
// QUIC tests (their test.yaml) through the whole pipeline.
func TestQUICSuricataVerify(t *testing.T) {
	dir := corpustest.Dir(t)
	quicHellos := func(name string) (q, tcp []*observe.ClientHello) {
		c, _, err := analyzeFile(t, filepath.Join(dir, "suricata-verify", name, "input.pcap"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range c.kind(observe.KindTLS) {
			if o.TLS.QUIC != nil {
				q = append(q, o.TLS)
			} else {
				tcp = append(tcp, o.TLS)
			}
		}
		return q, tcp
	}
	// ja4-quic: 11 QUIC ClientHellos, all q13d0310h3_55b375c5d22e_cd85d2d88918.
	q, _ := quicHellos("ja4-quic")
	if len(q) != 11 {
		t.Errorf("ja4-quic: %d QUIC ClientHellos, want 11", len(q))
	}
	for _, h := range q {
		if h.JA4 != "q13d0310h3_55b375c5d22e_cd85d2d88918" {
			t.Errorf("ja4-quic: %s JA4 %s", h.ServerName, h.JA4)
		}
	}
	// ja4-tls-quic: one TLS and one QUIC hello.
	q, tcp := quicHellos("ja4-tls-quic")
	if len(q) != 1 || q[0].JA4 != "q13d0310h3_55b375c5d22e_cd85d2d88918" {
		t.Errorf("ja4-tls-quic: QUIC hellos %d %+v", len(q), q)
	}
	if len(tcp) != 1 || tcp[0].JA4 != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("ja4-tls-quic: TLS hellos %d", len(tcp))
	}
	// quic-v2-ja3: QUIC v2, JA3 string of the rule, status_request first and
	// ALPN seventh with h3.
	q, _ = quicHellos("quic-v2-ja3")
	if len(q) != 1 {
		t.Fatalf("quic-v2-ja3: %d QUIC hellos, want 1", len(q))
	}
	h := q[0]
	if h.QUIC.Version != 0x6b3343cf {
		t.Errorf("quic-v2-ja3: version %#x", h.QUIC.Version)
	}
	if h.JA3String != "771,4865-4866-4867,5-10-11-13-65281-23-16-18-43-51-57,29-23-24-25,0" {
		t.Errorf("quic-v2-ja3: JA3 string %s", h.JA3String)
	}
	if len(h.Extensions) < 7 || h.Extensions[0] != 5 || h.Extensions[6] != 16 || len(h.ALPN) == 0 || h.ALPN[0] != "h3" {
		t.Errorf("quic-v2-ja3: extensions %v alpn %v", h.Extensions, h.ALPN)
	}
	if len(h.QUIC.TransportParameters) == 0 {
		t.Errorf("quic-v2-ja3: no transport parameters")
	}
	// quic-ietf-ja3: one QUIC v1 hello with a JA3.
	q, _ = quicHellos("quic-ietf-ja3")
	if len(q) != 1 || q[0].JA3 == "" || q[0].QUIC.Version != 1 {
		t.Errorf("quic-ietf-ja3: %d hellos %+v", len(q), q)
	}
}

// TestQUICSNIMatchesTshark: the SNI of every QUIC ClientHello tshark
// decrypts in every corpus capture equals orchard's for that flow.
func TestQUICSNIMatchesTshark(t *testing.T) {
	bin := corpustest.Tshark(t)
	total := 0
	for _, path := range corpustest.Captures(t) {
		rows := corpustest.LastFields(t, bin, path, "quic && tls.handshake.type==1", "ip.src", "ipv6.src", "udp.srcport",
			"ip.dst", "ipv6.dst", "udp.dstport", "tls.handshake.extensions_server_name")
		if len(rows) == 0 {
			continue
		}
		c, _, _ := analyzeFile(t, path)
		ours := helloFlows(c, true)
		seen := map[flowID]bool{}
		for _, r := range rows {
			if len(r) < 7 {
				continue
			}
			id := flowID{firstNonEmpty(r[0], r[1]), firstNonEmpty(r[3], r[4]), atou16(r[2]), atou16(r[5])}
			if seen[id] {
				continue // a later ClientHello of the connection (after Retry or HelloRetryRequest)
			}
			seen[id] = true
			got := ours[id]
			if len(got) == 0 {
				t.Errorf("%s %s: tshark has a QUIC ClientHello (sni %q), orchard none", filepath.Base(path), id, r[6])
				continue
			}
			if got[0].TLS.ServerName != r[6] {
				t.Errorf("%s %s: SNI %q, tshark %q", filepath.Base(path), id, got[0].TLS.ServerName, r[6])
			}
			total++
		}
	}
	t.Logf("QUIC SNI equal to tshark for %d ClientHellos", total)
	if total < 15 {
		t.Errorf("only %d QUIC ClientHellos compared", total)
	}
}

// TestJA3AndSNIMatchTshark: for every TCP ClientHello tshark dissects in
// every corpus capture, orchard finds the ClientHello of that flow with the
// same JA3 MD5 and SNI.
func TestJA3AndSNIMatchTshark(t *testing.T) {
	bin := corpustest.Tshark(t)
	total, files := 0, 0
	for _, path := range corpustest.Captures(t) {
		rows := corpustest.LastFields(t, bin, path, "tls.handshake.type==1 && tcp", "ip.src", "ipv6.src", "tcp.srcport",
			"ip.dst", "ipv6.dst", "tcp.dstport", "tls.handshake.ja3", "tls.handshake.extensions_server_name")
		if len(rows) == 0 {
			continue
		}
		files++
		c, _, _ := analyzeFile(t, path)
		ours := helloFlows(c, false)
		seen := map[flowID]bool{}
		for _, r := range rows {
			if len(r) < 8 {
				continue
			}
			if r[6] == "" {
				continue // SSLv2-compatible hello: JA3 is not defined for it, tshark prints none
			}
			src, dst := firstNonEmpty(r[0], r[1]), firstNonEmpty(r[3], r[4])
			id := flowID{src, dst, atou16(r[2]), atou16(r[5])}
			if seen[id] {
				continue // a second ClientHello on one flow (HelloRetryRequest, duplicate): orchard fingerprints the first
			}
			seen[id] = true
			got := ours[id]
			if len(got) == 0 {
				t.Errorf("%s %s: tshark has a ClientHello (ja3 %s, sni %q), orchard none", filepath.Base(path), id, r[6], r[7])
				continue
			}
			if got[0].TLS.JA3 != r[6] {
				t.Errorf("%s %s: JA3 %s, tshark %s", filepath.Base(path), id, got[0].TLS.JA3, r[6])
			}
			if got[0].TLS.ServerName != r[7] {
				t.Errorf("%s %s: SNI %q, tshark %q", filepath.Base(path), id, got[0].TLS.ServerName, r[7])
			}
			total++
		}
	}
	t.Logf("JA3 and SNI equal to tshark for %d TCP ClientHellos in %d captures", total, files)
	if total < 100 {
		t.Errorf("only %d ClientHellos compared", total)
	}
}

// TestDNSNamesMatchTshark: the question names of every DNS message (UDP and
// TCP, port 53 and mDNS 5353) equal tshark's dns.qry.name, per packet.
func TestDNSNamesMatchTshark(t *testing.T) {
	bin := corpustest.Tshark(t)
	total, files := 0, 0
	for _, path := range corpustest.Captures(t) {
		rows := corpustest.LastFields(t, bin, path, "dns && !icmp && !icmpv6 && !_ws.malformed && !_ws.expert.severity==error && (udp.port==53 || tcp.port==53 || udp.port==5353) && dns.count.queries>0",
			"frame.number", "dns.qry.name")
		if len(rows) == 0 {
			continue
		}
		files++
		c, _, _ := analyzeFile(t, path)
		ours := map[uint64]string{}
		for _, o := range c.obs {
			if (o.Kind == observe.KindDNS || o.Kind == observe.KindMDNS) && len(o.DNS.Questions) > 0 {
				ours[o.Packet] = o.DNS.Questions[0].Name
			}
		}
		for _, r := range rows {
			if len(r) < 2 {
				continue
			}
			n := uint64(atou32(r[0]))
			if strings.EqualFold(r[1], "<name too long>") {
				// tshark gives up on the name; miekg/dns stops at the fault
				// and orchard keeps what came before it. Nothing to compare.
				continue
			}
			want := normaliseName(r[1])
			got, ok := ours[n]
			if !ok {
				t.Errorf("%s packet %d: tshark has DNS question %q, orchard none", filepath.Base(path), n, want)
				continue
			}
			if got != want {
				t.Errorf("%s packet %d: question %q, tshark %q", filepath.Base(path), n, got, want)
			}
			total++
		}
	}
	t.Logf("DNS question names equal to tshark for %d messages in %d captures", total, files)
	if total < 100 {
		t.Errorf("only %d DNS messages compared", total)
	}
}

// normaliseName maps tshark's display of a name to orchard's form:
// lower case, "<Root>" as the empty root name.
func normaliseName(s string) string {
	if s == "<Root>" {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// TestEveryCorpusCaptureAnalyses: every capture goes through the engine
// without a panic; unreadable files give an error naming the file.
func TestEveryCorpusCaptureAnalyses(t *testing.T) {
	var packets, skips uint64
	for _, path := range corpustest.Captures(t) {
		c, e, err := analyzeFile(t, path)
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name the file: %v", err)
		}
		s := e.Stats()
		packets += s.Packets
		skips += s.Skips()
		_ = c
	}
	t.Logf("%d packets analysed, %d skips/anomalies counted", packets, skips)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func atou16(s string) uint16 { return uint16(atou32(s)) }

func atou32(s string) uint32 {
	var n uint32
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}
