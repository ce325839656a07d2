package dnsmsg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
)

// dnsCorpus are the captures whose DNS question names must equal tshark's.
var dnsCorpus = []string{
	"ndpi/pcap/dns.pcap",
	"ndpi/pcap/dns_ambiguous_names.pcap",
	"ndpi/pcap/dns_long_domainname.pcap",
	"ndpi/pcap/malformed_dns.pcap",
	"ndpi/pcap/dns_invert_query.pcapng",
	"ndpi/pcap/dns_fragmented.pcap",
}

// mdnsCapture resolves the capture named by the `pcap:` key of the
// suricata-verify mdns test. The corpus flattens suricata-verify's nested
// test folders into one level joined by "_"
// (tests/ipv6-evasion/ipv6-malformed-fragments-9 → ipv6-evasion_ipv6-malformed-fragments-9).
func mdnsCapture(t *testing.T) string {
	y := corpustest.Path(t, "suricata-verify/mdns/test.yaml")
	raw, err := os.ReadFile(y)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Pcap string `yaml:"pcap"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Pcap == "" {
		t.Fatal("suricata-verify/mdns/test.yaml has no pcap: key")
	}
	rel := strings.TrimPrefix(filepath.ToSlash(spec.Pcap), "../")
	dir, file := filepath.Split(rel)
	return corpustest.Path(t, filepath.Join("suricata-verify", strings.ReplaceAll(strings.Trim(dir, "/"), "/", "_"), file))
}

// ourNames parses every DNS message of a capture the way the sensor will:
// UDP payloads on port 53 or 5353 one by one, TCP port 53 streams split with
// NextTCP. It returns the comma-joined question names per frame, in
// tshark's format, and the number of messages that returned an error.
func ourNames(t *testing.T, path string) (map[int]string, int) {
	var p Parser
	names := map[int]string{}
	errs := 0
	streams := map[string][]byte{}
	add := func(frame int, b []byte, mdns bool) {
		m, err := p.Parse(b, mdns)
		if err != nil {
			errs++
			t.Logf("%s frame %d: %v", filepath.Base(path), frame, err)
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Errorf("frame %d: error %v is neither ErrTruncated nor ErrMalformed", frame, err)
			}
		}
		if m == nil {
			if _, seen := names[frame]; !seen {
				names[frame] = ""
			}
			return
		}
		var qs []string
		if prev := names[frame]; prev != "" {
			qs = append(qs, prev)
		}
		for _, q := range m.Questions {
			qs = append(qs, q.Name)
		}
		names[frame] = strings.Join(qs, ",")
	}
	for _, pl := range readL4(t, path) {
		switch {
		case !pl.tcp && (pl.srcPort == 53 || pl.dstPort == 53):
			add(pl.frame, pl.payload, false)
		case !pl.tcp && (pl.srcPort == 5353 || pl.dstPort == 5353):
			add(pl.frame, pl.payload, true)
		case pl.tcp && (pl.srcPort == 53 || pl.dstPort == 53) && len(pl.payload) > 0:
			key := fmt.Sprintf("%s:%d>%s:%d", pl.src, pl.srcPort, pl.dst, pl.dstPort)
			rest := append(streams[key], pl.payload...)
			for {
				msg, r, ok := NextTCP(rest)
				if !ok {
					break
				}
				add(pl.frame, msg, false)
				rest = r
			}
			streams[key] = rest
		}
	}
	return names, errs
}

// TestTsharkConformance compares question names with tshark 4.x's
// dns.qry.name for every DNS and mDNS message of the corpus.
//
// Deliberate differences, normalised before comparing:
//   - tshark keeps the case on the wire; orchard lower-cases (DNS names are
//     case-insensitive), so names are compared case-insensitively.
//   - tshark prints "<Root>" for the root name; orchard gives "".
//   - tshark prints "<Name too long>" (or similar "<...>" placeholders) and
//     keeps dissecting; miekg/dns rejects the message at that name, so
//     orchard returns ErrMalformed with the questions before it. The
//     placeholder and everything after it are dropped from tshark's list.
//   - tshark -Y dns does not match mDNS (its own dissector, "mdns"), so the
//     filter is "dns || mdns".
func TestTsharkConformance(t *testing.T) {
	bin := corpustest.Tshark(t)
	files := append([]string{}, dnsCorpus...)
	for _, f := range files {
		corpustest.Path(t, f)
	}
	paths := make([]string, 0, len(files)+1)
	for _, f := range files {
		paths = append(paths, corpustest.Path(t, f))
	}
	paths = append(paths, mdnsCapture(t))

	total := 0
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rows := corpustest.Fields(t, bin, path, "dns || mdns", "frame.number", "dns.qry.name")
			if len(rows) == 0 {
				t.Fatal("tshark found no DNS message: wrong capture?")
			}
			ours, _ := ourNames(t, path)
			for _, row := range rows {
				frame, err := strconv.Atoi(row[0])
				if err != nil {
					t.Fatalf("tshark row %q: %v", row, err)
				}
				want := ""
				if len(row) > 1 {
					want = normaliseTshark(row[1])
				}
				got, ok := ours[frame]
				if !ok {
					t.Errorf("frame %d: tshark has a DNS message (%q), we decoded none", frame, want)
					continue
				}
				if !strings.EqualFold(got, want) {
					t.Errorf("frame %d: names %q, tshark %q", frame, got, want)
				}
				delete(ours, frame)
				total++
			}
			for frame, got := range ours {
				t.Errorf("frame %d: we decoded a DNS message (%q) tshark did not", frame, got)
			}
		})
	}
	t.Logf("%d DNS messages compared with tshark", total)
}

// normaliseTshark applies the documented differences to a tshark
// dns.qry.name list.
func normaliseTshark(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if p == "<Root>" {
			parts[i] = ""
			continue
		}
		if strings.HasPrefix(p, "<") && strings.HasSuffix(p, ">") {
			parts = parts[:i]
			break
		}
	}
	return strings.Join(parts, ",")
}
