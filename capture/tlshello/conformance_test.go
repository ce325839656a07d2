package tlshello

// Conformance against third-party reference outputs, read in place from
// /work/shared/testdata (see its README.md and MANIFEST.tsv):
//   - FoxIO's Rust ja4 snapshots (ja4 per TCP stream) and Python JSON (JA4_r),
//   - Salesforce's JA3 test logs,
//   - tshark's tls.handshake.ja3 and SNI for every TCP ClientHello of every
//     capture in the folder.
// The small flow extractor here is test-only; the engine has its own.

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
)

// flowKey is a client-to-server direction of a TCP connection.
type flowKey struct {
	src, dst     netip.Addr
	sport, dport uint16
}

func (k flowKey) String() string {
	return fmt.Sprintf("%s:%d->%s:%d", k.src, k.sport, k.dst, k.dport)
}

type segment struct {
	seq  uint32
	data []byte
}

// tcpStream is one direction of one connection: its segments as captured.
type tcpStream struct {
	isn     uint32 // sequence number of the first payload byte, if haveISN
	haveISN bool
	segs    []segment
}

// bytes concatenates the payload in sequence order, dropping
// retransmitted bytes and stopping at the first gap.
func (s *tcpStream) bytes() []byte {
	if len(s.segs) == 0 {
		return nil
	}
	base := s.isn
	if !s.haveISN {
		base = s.segs[0].seq
		for _, g := range s.segs {
			if int32(g.seq-base) < 0 {
				base = g.seq
			}
		}
	}
	segs := slices.Clone(s.segs)
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(int32(a.seq-base), int32(b.seq-base)) })
	var out []byte
	for _, g := range segs {
		off, data := int(int32(g.seq-base)), g.data
		if off < 0 {
			if off+len(data) <= 0 {
				continue
			}
			data, off = data[-off:], 0
		}
		if off > len(out) {
			break // gap: nothing after it is usable
		}
		if off+len(data) > len(out) {
			out = append(out, data[len(out)-off:]...)
		}
		if len(out) > 1<<18 {
			break
		}
	}
	return out
}

// readTCPStreams returns the TCP streams of a pcap or pcapng file, by
// direction, each direction's connections in capture order (a new SYN with a
// new sequence number starts a new stream on a reused 4-tuple).
func readTCPStreams(path string) (map[flowKey][]*tcpStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	type packetReader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r packetReader
	var linkType func(ci gopacket.CaptureInfo) layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, err
		}
		r = ng
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			if iface, err := ng.Interface(ci.InterfaceIndex); err == nil {
				return iface.LinkType
			}
			return ng.LinkType()
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, err
		}
		r = pr
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return pr.LinkType() }
	}

	streams := make(map[flowKey][]*tcpStream)
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return streams, err
		}
		p := gopacket.NewPacket(data, linkType(ci), gopacket.DecodeOptions{NoCopy: true})
		var src, dst netip.Addr
		var tcp *layers.TCP
		for _, l := range p.Layers() { // innermost IP and TCP win (tunnels)
			switch l := l.(type) {
			case *layers.IPv4:
				src, _ = netip.AddrFromSlice(l.SrcIP.To4())
				dst, _ = netip.AddrFromSlice(l.DstIP.To4())
			case *layers.IPv6:
				src, _ = netip.AddrFromSlice(l.SrcIP)
				dst, _ = netip.AddrFromSlice(l.DstIP)
			case *layers.TCP:
				tcp = l
			}
		}
		if tcp == nil || !src.IsValid() {
			continue
		}
		key := flowKey{src, dst, uint16(tcp.SrcPort), uint16(tcp.DstPort)}
		list := streams[key]
		if tcp.SYN && !tcp.ACK {
			if n := len(list); n == 0 || list[n-1].haveISN && list[n-1].isn != tcp.Seq+1 || !list[n-1].haveISN && len(list[n-1].segs) > 0 {
				list = append(list, &tcpStream{})
			}
			cur := list[len(list)-1]
			cur.isn, cur.haveISN = tcp.Seq+1, true
			streams[key] = list
		}
		if len(tcp.Payload) == 0 {
			continue
		}
		if len(list) == 0 {
			list = append(list, &tcpStream{})
			streams[key] = list
		}
		seq := tcp.Seq
		if tcp.SYN {
			seq++ // data on a SYN (TCP Fast Open) starts after it
		}
		cur := list[len(list)-1]
		cur.segs = append(cur.segs, segment{seq, tcp.Payload})
	}
	return streams, nil
}

// streamHellos finds the ClientHellos in a client stream: the first one,
// then any later ones in the records that follow (a second hello after a
// HelloRetryRequest, a duplicate). A stream that does not start with TLS
// records (SOCKS, HTTP CONNECT, STARTTLS) is searched for the first record
// that holds a hello; helloResult.prologue reports that.
func streamHellos(stream []byte) (out []*helloResult) {
	start := -1
	var h ClientHello
	for i := 0; i+6 <= len(stream); i++ {
		if i > 0 && (!LooksLikeTLS(stream[i:]) || stream[i+5] != typeClientHello) {
			continue
		}
		if msg, err := ExtractHandshake(stream[i:], nil); err == nil && h.Unmarshal(msg) == nil {
			start = i
			break
		}
	}
	if start < 0 {
		return nil
	}
	// Walk the records from there, skipping those a message spans.
	covered := 0 // handshake bytes of the last hello still to skip
	for off := start; off+recordHeaderLen <= len(stream); {
		typ, recLen, err := recordHeader(stream[off:])
		if err != nil || off+recordHeaderLen+recLen > len(stream) {
			break
		}
		payload := stream[off+recordHeaderLen : off+recordHeaderLen+recLen]
		if typ == contentTypeHandshake && covered == 0 && payload[0] == typeClientHello {
			if msg, err := ExtractHandshake(stream[off:], nil); err == nil && h.Unmarshal(msg) == nil {
				ja4, ja4r := h.JA4('t')
				_, ja3 := h.JA3()
				out = append(out, &helloResult{ja4, ja4r, ja3, h.ServerName, start > 0})
				covered = len(msg)
			}
		}
		if typ == contentTypeHandshake {
			covered = max(0, covered-recLen)
		}
		off += recordHeaderLen + recLen
	}
	return out
}

// helloResult is what the parser made of one ClientHello.
type helloResult struct {
	ja4, ja4r, ja3, sni string
	prologue            bool
}

// captureHellos parses the ClientHellos of every TCP stream of a capture,
// per client direction, connections in capture order.
func captureHellos(t *testing.T, path string) map[flowKey][]*helloResult {
	t.Helper()
	streams, err := readTCPStreams(path)
	if err != nil && len(streams) == 0 {
		t.Logf("%s: %v", path, err)
	}
	out := make(map[flowKey][]*helloResult)
	for key, list := range streams {
		for _, s := range list {
			out[key] = append(out[key], streamHellos(s.bytes())...)
		}
	}
	return out
}

// firstHello returns the first stream's hello of key, if any.
func firstHello(m map[flowKey][]*helloResult, key flowKey) *helloResult {
	if list := m[key]; len(list) > 0 {
		return list[0]
	}
	return nil
}

// snapEntry is one stream of a FoxIO Rust snapshot.
type snapEntry struct {
	fields map[string]string
}

// parseSnap reads the top-level entries of an insta YAML snapshot: a list
// of maps whose scalar fields sit at two spaces of indent.
func parseSnap(b []byte) []snapEntry {
	var out []snapEntry
	for _, line := range strings.Split(string(b), "\n") {
		var kv string
		switch {
		case strings.HasPrefix(line, "- "):
			out = append(out, snapEntry{map[string]string{}})
			kv = line[2:]
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && len(out) > 0:
			kv = line[2:]
		default:
			continue
		}
		k, v, ok := strings.Cut(kv, ": ")
		if !ok {
			continue
		}
		out[len(out)-1].fields[k] = strings.Trim(v, "'\"")
	}
	return out
}

// knownJA4Deviation lists reference values this package deliberately does
// not reproduce, with the value it produces instead.
// It is empty: orchard reproduces FoxIO's reference outputs exactly (for a
// non-ASCII ALPN byte that means the tools' '9', see appendALPNChars).
var knownJA4Deviation = map[string]struct{ want, reason string }{}

func TestConformanceJA4Rust(t *testing.T) {
	dir := corpustest.Dir(t)
	snaps, err := filepath.Glob(filepath.Join(dir, "ja4/expected/rust/*.snap"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no Rust snapshots under %s: %v", dir, err)
	}
	var compared, matched, deviations, prologues, files int
	for _, snap := range snaps {
		b, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		var entries []snapEntry
		for _, e := range parseSnap(b) {
			if e.fields["transport"] == "tcp" && e.fields["ja4"] != "" {
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			continue
		}
		files++
		pcap := filepath.Join(dir, "ja4/pcap", strings.TrimSuffix(filepath.Base(snap), ".snap"))
		hellos := captureHellos(t, pcap)
		for _, e := range entries {
			key, err := entryKey(e.fields["src"], e.fields["dst"], e.fields["src_port"], e.fields["dst_port"])
			if err != nil {
				t.Errorf("%s: %v", snap, err)
				continue
			}
			compared++
			got := firstHello(hellos, key)
			if got == nil {
				t.Errorf("%s %s: no ClientHello found, want ja4 %s", filepath.Base(pcap), key, e.fields["ja4"])
				continue
			}
			if got.prologue {
				prologues++
			}
			want := e.fields["ja4"]
			if dev, ok := knownJA4Deviation[want]; ok {
				if got.ja4 != dev.want {
					t.Errorf("%s %s: ja4 %s, want %s (%s)", filepath.Base(pcap), key, got.ja4, dev.want, dev.reason)
				} else {
					deviations++
					t.Logf("%s %s: known deviation %s instead of Rust's %s: %s", filepath.Base(pcap), key, got.ja4, want, dev.reason)
				}
				continue
			}
			if got.ja4 != want {
				t.Errorf("%s %s: ja4 %s, want %s (raw %s)", filepath.Base(pcap), key, got.ja4, want, got.ja4r)
				continue
			}
			if sni := e.fields["tls_server_name"]; sni != "" && got.sni != sni {
				t.Errorf("%s %s: SNI %q, want %q", filepath.Base(pcap), key, got.sni, sni)
				continue
			}
			matched++
		}
	}
	t.Logf("Rust JA4 snapshots: %d files, %d TCP ClientHellos compared, %d equal, %d known deviations, %d found after a plaintext prologue",
		files, compared, matched, deviations, prologues)
	if compared == 0 {
		t.Fatal("no TCP ja4 entries found in the snapshots")
	}
}

func entryKey(src, dst, sport, dport string) (flowKey, error) {
	s, err1 := netip.ParseAddr(src)
	d, err2 := netip.ParseAddr(dst)
	sp, err3 := strconv.ParseUint(sport, 10, 16)
	dp, err4 := strconv.ParseUint(dport, 10, 16)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return flowKey{}, fmt.Errorf("bad flow %s:%s->%s:%s: %w", src, sport, dst, dport, err)
	}
	return flowKey{s, d, uint16(sp), uint16(dp)}, nil
}

// TestConformanceJA4RawPython compares JA4_r with FoxIO's Python output,
// which is the only reference that records the raw form.
func TestConformanceJA4RawPython(t *testing.T) {
	dir := corpustest.Dir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "ja4/expected/python/*.json"))
	var compared, matched int
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var entries []map[string]any
		if err := json.Unmarshal(b, &entries); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var hellos map[flowKey][]*helloResult
		for _, e := range entries {
			raw, _ := e["JA4_r.1"].(string)
			if raw == "" || raw[0] != 't' {
				continue
			}
			if hellos == nil {
				hellos = captureHellos(t, filepath.Join(dir, "ja4/pcap", strings.TrimSuffix(filepath.Base(file), ".json")))
			}
			key, err := entryKey(fmt.Sprint(e["src"]), fmt.Sprint(e["dst"]), fmt.Sprint(e["srcport"]), fmt.Sprint(e["dstport"]))
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			compared++
			got := firstHello(hellos, key)
			switch {
			case got == nil:
				t.Errorf("%s %s: no ClientHello found, want JA4_r %s", filepath.Base(file), key, raw)
			case got.ja4r == raw:
				matched++
			default:
				t.Errorf("%s %s: JA4_r\n got %s\nwant %s", filepath.Base(file), key, got.ja4r, raw)
			}
		}
	}
	t.Logf("Python JA4_r: %d TCP ClientHellos compared, %d equal", compared, matched)
	if compared == 0 {
		t.Fatal("no TCP JA4_r entries found")
	}
}

// TestConformanceJA3Salesforce compares with the ja3 column of the Zeek logs
// in Salesforce's own JA3 tests.
func TestConformanceJA3Salesforce(t *testing.T) {
	dir := filepath.Join(corpustest.Dir(t), "ja3/salesforce")
	compared := 0
	for _, name := range []string{"ssl-chrome", "ssl-curl"} {
		log, err := os.ReadFile(filepath.Join(dir, name+".expected.ssl.log"))
		if err != nil {
			t.Fatal(err)
		}
		hellos := captureHellos(t, filepath.Join(dir, name+".pcap"))
		var cols []string
		for _, line := range strings.Split(string(log), "\n") {
			if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
				cols = strings.Split(rest, "\t")
			}
			if line == "" || line[0] == '#' {
				continue
			}
			rec := map[string]string{}
			for i, v := range strings.Split(line, "\t") {
				if i < len(cols) {
					rec[cols[i]] = v
				}
			}
			key, err := entryKey(rec["id.orig_h"], rec["id.resp_h"], rec["id.orig_p"], rec["id.resp_p"])
			if err != nil {
				t.Fatal(err)
			}
			compared++
			got := firstHello(hellos, key)
			if got == nil || got.ja3 != rec["ja3"] || got.sni != rec["server_name"] {
				t.Errorf("%s %s: got %+v, want ja3 %s sni %s", name, key, got, rec["ja3"], rec["server_name"])
			}
		}
	}
	if compared != 2 {
		t.Errorf("compared %d Salesforce records, want 2", compared)
	}
}

// tsharkHello is one TCP ClientHello as tshark sees it.
type tsharkHello struct {
	key      flowKey
	ja3, sni string
}

func runTshark(tshark, path string) ([]tsharkHello, error) {
	cmd := exec.Command(tshark, "-n", "-r", path, "-Y", "tls.handshake.type==1 && tcp", "-T", "fields",
		"-E", "separator=/t", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tls.handshake.ja3", "-e", "tls.handshake.extensions_server_name")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark -r %s: %w", path, err)
	}
	last := func(s string) string { // tunnels give one value per layer
		return s[strings.LastIndexByte(s, ',')+1:]
	}
	first := func(s string) string { // several hellos in one frame
		v, _, _ := strings.Cut(s, ",")
		return v
	}
	var rows []tsharkHello
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			continue
		}
		src, dst := last(f[0]), last(f[2])
		if f[1] != "" {
			src, dst = last(f[1]), last(f[3])
		}
		key, err := entryKey(src, dst, last(f[4]), last(f[5]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, tsharkHello{key, first(f[6]), first(f[7])})
	}
	return rows, nil
}

// TestConformanceTshark compares JA3 (MD5) and SNI with tshark for the TCP
// ClientHellos of every capture under the shared testdata.
func TestConformanceTshark(t *testing.T) {
	dir := corpustest.Dir(t)
	if testing.Short() {
		t.Skip("runs tshark over every capture; skipped with -short")
	}
	tshark := corpustest.Tshark(t)
	var captures []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.Contains(path, "expected") {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".pcap", ".pcapng", ".cap":
			captures = append(captures, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// tshark is the slow part: two at a time on this 2-core machine.
	results := make([][]tsharkHello, len(captures))
	errs := make([]error, len(captures))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, c := range captures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = runTshark(tshark, c)
		}()
	}
	wg.Wait()

	var withHellos, compared, equal, noJA3, extra int
	for i, c := range captures {
		if errs[i] != nil {
			t.Errorf("%v", errs[i])
			continue
		}
		if len(results[i]) == 0 {
			continue
		}
		withHellos++
		hellos := captureHellos(t, c)
		next := map[flowKey]int{} // which of our streams the next row of a key is
		name, _ := filepath.Rel(dir, c)
		for _, row := range results[i] {
			if row.ja3 == "" {
				t.Logf("%s %s: tshark shows a ClientHello without JA3", name, row.key)
				noJA3++
				continue
			}
			idx := next[row.key]
			list := hellos[row.key]
			if idx >= len(list) {
				if len(list) > 0 {
					// tshark dissects a retransmitted hello again (seen with
					// TCP Fast Open data on a rejected SYN); the parser
					// sees the stream once.
					extra++
					t.Logf("%s %s: tshark shows more hellos than the stream holds (ja3 %s)", name, row.key, row.ja3)
					continue
				}
				t.Errorf("%s %s: tshark sees a ClientHello (ja3 %s, sni %q), parser found none", name, row.key, row.ja3, row.sni)
				continue
			}
			next[row.key] = idx + 1
			got := list[idx]
			compared++
			if got.ja3 != row.ja3 || got.sni != row.sni {
				t.Errorf("%s %s: ja3 %s sni %q, tshark ja3 %s sni %q", name, row.key, got.ja3, got.sni, row.ja3, row.sni)
				continue
			}
			equal++
		}
	}
	t.Logf("tshark: %d captures, %d with TCP ClientHellos; %d hellos compared, %d equal; %d tshark rows without JA3, %d rows beyond the hellos in the stream",
		len(captures), withHellos, compared, equal, noJA3, extra)
	if compared == 0 {
		t.Fatal("no TCP ClientHello compared with tshark")
	}
}
