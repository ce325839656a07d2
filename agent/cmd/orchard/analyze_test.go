package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/miekg/dns"

	"github.com/orchard-nsm/orchard/agent/internal/golden"
	"github.com/orchard-nsm/orchard/scripts/gencap"
)

func orchard(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, bytes.NewReader(stdin), &o, &e)
	return o.String(), e.String(), code
}

// lines decodes JSON lines, failing on any line that is not JSON.
func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var ls []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, l)
		}
		ls = append(ls, m)
	}
	return ls
}

func dataset(m map[string]any) string {
	ev, _ := m["event"].(map[string]any)
	s, _ := ev["dataset"].(string)
	return s
}

// writePcap writes frames as a pcap file with the given link type and snap length.
func writePcap(t *testing.T, path string, lt layers.LinkType, snap uint32, frames ...[]byte) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(snap, lt); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Second), CaptureLength: len(f), Length: len(f)}
		if uint32(len(f)) > snap {
			ci.CaptureLength = int(snap)
			f = f[:snap]
		}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func udpFrame(t *testing.T, sport, dport uint16, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 2}, DstIP: []byte{10, 0, 0, 1}}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, u, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func dnsQuery(t *testing.T, name string) []byte {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnalyzeBrokenInputs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcap")
	writePcap(t, good, layers.LinkTypeEthernet, 65535,
		udpFrame(t, 40000, 53, dnsQuery(t, "mesu.apple.com")),
		udpFrame(t, 40001, 53, []byte{0x12, 0x34, 0x01}), // malformed DNS
		udpFrame(t, 40002, 53, dnsQuery(t, "gdmf.apple.com")),
	)
	goodBytes, _ := os.ReadFile(good)

	badMagic := filepath.Join(dir, "notes.txt")
	os.WriteFile(badMagic, []byte("this is not a capture file at all\n"), 0o644)

	truncated := filepath.Join(dir, "truncated.pcap")
	os.WriteFile(truncated, goodBytes[:len(goodBytes)-20], 0o644)

	unknownLink := filepath.Join(dir, "linktype.pcap")
	writePcap(t, unknownLink, layers.LinkType(147), 65535, []byte{1, 2, 3, 4})

	snapCut := filepath.Join(dir, "snap.pcap")
	writePcap(t, snapCut, layers.LinkTypeEthernet, 60, udpFrame(t, 40003, 53, dnsQuery(t, "a-very-long-label-to-be-cut-by-the-snap-length.apple.com")))

	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)

	t.Run("malformed DNS is counted and named", func(t *testing.T) {
		out, errOut, code := orchard(t, nil, "analyze", "--events", good)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		names := 0
		for _, m := range lines(t, out) {
			if dataset(m) == "orchard.dns" {
				names++
			}
		}
		if names != 2 {
			t.Errorf("%d DNS events, want 2 (the malformed one skipped)", names)
		}
		if !strings.Contains(errOut, good+": packet 2: malformed-dns") || !strings.Contains(errOut, "malformed-dns 1") {
			t.Errorf("stderr does not name file, packet and count:\n%s", errOut)
		}
	})
	t.Run("wrong magic", func(t *testing.T) {
		_, errOut, code := orchard(t, nil, "analyze", badMagic)
		if code != exitFileErr || !strings.Contains(errOut, badMagic+": not a pcap or pcapng file") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		_, errOut, code := orchard(t, nil, "analyze", empty)
		if code != exitFileErr || !strings.Contains(errOut, empty+": not a pcap or pcapng file") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("truncated file keeps what came before", func(t *testing.T) {
		out, errOut, code := orchard(t, nil, "analyze", "--events", truncated)
		if code != exitOK {
			t.Errorf("exit %d, want 0: a truncated file is reported, not fatal", code)
		}
		if !strings.Contains(errOut, truncated+": file truncated in packet 3 (2 whole packets before it)") {
			t.Errorf("stderr:\n%s", errOut)
		}
		if n := len(lines(t, out)); n == 0 {
			t.Errorf("no output kept from before the truncation")
		}
	})
	t.Run("unknown link type", func(t *testing.T) {
		_, errOut, code := orchard(t, nil, "analyze", unknownLink)
		if code != exitFileErr || !strings.Contains(errOut, unknownLink+": unsupported link type 147") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("snap length", func(t *testing.T) {
		_, errOut, code := orchard(t, nil, "analyze", snapCut)
		if code != exitOK || !strings.Contains(errOut, "snaplen 1") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("missing file does not stop the others", func(t *testing.T) {
		out, errOut, code := orchard(t, nil, "analyze", "--events", filepath.Join(dir, "missing.pcap"), good)
		if code != exitFileErr || !strings.Contains(errOut, "missing.pcap") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
		if len(lines(t, out)) == 0 {
			t.Errorf("the readable file was not analysed")
		}
	})
	t.Run("stdin", func(t *testing.T) {
		out, _, code := orchard(t, goodBytes, "analyze", "--events", "-")
		if code != exitOK || !strings.Contains(out, `"file":"-"`) || !strings.Contains(out, "mesu.apple.com") {
			t.Errorf("exit %d, out:\n%s", code, out)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		cfg := filepath.Join(dir, "bad.yaml")
		os.WriteFile(cfg, []byte("sensor: x\nverdict:\n  threshold: 2\n"), 0o644)
		_, errOut, code := orchard(t, nil, "analyze", "-c", cfg, good)
		if code != exitUsage || !strings.Contains(errOut, "bad.yaml:3") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("no file", func(t *testing.T) {
		_, errOut, code := orchard(t, nil, "analyze")
		if code != exitUsage || !strings.Contains(errOut, "no capture file") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
}

// TestAnalyzeSampleGolden runs the whole binary's analyze path on the
// generated sample capture and compares every JSON line with the golden
// file (refresh with go test -run Golden -update, review the diff).
func TestAnalyzeSampleGolden(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "sample.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gencap.Sample(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	out, errOut, code := orchard(t, nil, "analyze", "--events", "--hosts", "sample.pcap")
	os.Chdir(wd)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ls := lines(t, out)
	alerts := 0
	for _, m := range ls {
		if dataset(m) == "orchard.alert" {
			alerts++
			for _, k := range []string{"@timestamp", "rule", "host", "orchard", "observer"} {
				if _, ok := m[k]; !ok {
					t.Errorf("alert without %s", k)
				}
			}
		}
	}
	if alerts != 2 {
		t.Errorf("%d alerts on the sample capture, want 2", alerts)
	}
	golden.Check(t, filepath.Join("testdata", "sample.golden.jsonl"), []byte(out))
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help", "analyze"}, {"analyze", "-h"}, {"help", "run"}, {"help", "signatures"}, {"help", "config"}, {"signatures", "--help"}, {"config", "--help"}} {
		out, errOut, code := orchard(t, nil, args...)
		if code != exitOK || len(out)+len(errOut) < 200 {
			t.Errorf("orchard %v: exit %d, %d bytes of help", args, code, len(out)+len(errOut))
		}
	}
	if _, _, code := orchard(t, nil, "frobnicate"); code != exitUsage {
		t.Errorf("unknown command exit %d", code)
	}
	// -h prints the manual on standard output; a bad flag prints the
	// error and where the manual is, not the whole manual.
	for _, args := range [][]string{{"analyze", "-h"}, {"run", "-h"}, {"signatures", "list", "-h"}, {"config", "show", "--help"}} {
		if out, _, code := orchard(t, nil, args...); code != exitOK || !strings.HasPrefix(out, "NAME") {
			t.Errorf("orchard %v: exit %d, stdout starts %.20q", args, code, out)
		}
	}
	for _, args := range [][]string{{"analyze", "--bogus"}, {"run", "--bogus"}, {"signatures", "list", "--bogus"}, {"config", "show", "--bogus"}} {
		out, errOut, code := orchard(t, nil, args...)
		want := "flag provided but not defined: -bogus\n\nSee: orchard help " + args[0] + "\n"
		if code != exitUsage || out != "" || errOut != want {
			t.Errorf("orchard %v: exit %d, stdout %q, stderr %q; want exit %d and stderr %q", args, code, out, errOut, exitUsage, want)
		}
	}
}

func TestSignaturesAndConfigCommands(t *testing.T) {
	out, _, code := orchard(t, nil, "signatures", "list", "--kind", "dns-name")
	if code != exitOK || !strings.Contains(out, "push.apple.com") {
		t.Errorf("signatures list: exit %d", code)
	}
	out, _, code = orchard(t, nil, "signatures", "check")
	if code != exitOK || !strings.Contains(out, "signatures ok") {
		t.Errorf("signatures check: exit %d %s", code, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "apple-dns.yaml"), []byte("version: x\nentries:\n  - id: a\n    kind: nope\n"), 0o644)
	_, errOut, code := orchard(t, nil, "signatures", "check", dir)
	if code != exitUsage || !strings.Contains(errOut, "apple-dns.yaml:4") {
		t.Errorf("broken signature dir: exit %d %s", code, errOut)
	}
	out, _, code = orchard(t, nil, "config", "show")
	if code != exitOK || !strings.Contains(out, "mail.corp.example") {
		t.Errorf("config show: exit %d %s", code, out)
	}
	_ = binary.BigEndian
}
