package agent_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/capture"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/signatures"
)

const corpus = "../../shared/testdata"

// realCaptures are the third-party captures of issue 3's acceptance: the
// Apple host of each Apple capture must get an Apple verdict, and no host
// of the other captures may. The README's "Verdicts on real captures" table
// lists the same rows.
var realCaptures = []struct {
	file  string
	apple []string // host keys (MAC, or IP where there is no L2 header) that must be Apple
	note  string
}{
	{"ja4/pcap/macos_tcp_flags.pcap", []string{"9a:4b:87:d9:e9:6e"}, "macOS, FoxIO"},
	{"ndpi/pcap/safari.pcap", []string{"28:37:37:00:6d:c8"}, "Safari on macOS, nDPI"},
	{"ndpi/pcap/443-safari.pcap", []string{"28:37:37:00:6d:c8"}, "Safari on macOS (TLS 1.2), nDPI"},
	{"ndpi/pcap/imaps.pcap", []string{"00:05:00:d7:f5:8c"}, "macOS Mail over IMAPS, nDPI"},
	{"suricata-verify/ipv6-evasion_ipv6-malformed-fragments-9/frag-9.pcap", []string{"a8:60:b6:0b:27:cd"}, "iMac17,1 announcing over mDNS (suricata-verify mdns test)"},
	{"suricata-verify/tls-alpn-log-detect-02/input.pcap", []string{"10.84.1.49"}, "Safari to p142-contacts.icloud.com"},
	{"suricata-verify/tcp-empty-sack/tcp-opt.pcap", []string{"192.168.0.54"}, "iTunes to p49-buy.itunes.apple.com"},
	{"suricata-verify/tcp-fastopen-10-syn-data-ignore/input.pcap", []string{"192.168.0.45"}, "TFO ClientHello to icloud.com"},
	// Other platforms and browsers. Several of these were recorded on
	// Macs (same SYN as safari.pcap): a Mac SYN with a Chrome, Firefox or
	// curl ClientHello is one kind of evidence and stays below the
	// threshold by design — the browser does not make a host an iPhone.
	{"ndpi/pcap/chrome.pcap", nil, "Chrome"},
	{"ndpi/pcap/443-chrome.pcap", nil, "Chrome"},
	{"ndpi/pcap/443-firefox.pcap", nil, "Firefox"},
	{"ndpi/pcap/443-curl.pcap", nil, "curl"},
	{"ja3/salesforce/ssl-chrome.pcap", nil, "Chrome"},
	{"ja3/salesforce/ssl-curl.pcap", nil, "curl"},
	{"ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng", nil, "Chrome over QUIC"},
	{"ja4/pcap/tls-sni.pcapng", nil, "Chrome on Windows"},
	{"ndpi/pcap/conncheck.pcap", nil, "Android and Linux connectivity checks"},
	{"ndpi/pcap/os_detected.pcapng", nil, "Windows"},
	{"suricata-verify/tls_tls-random-6989/input.pcap", nil, "a non-Apple client visiting www.apple.com"},
	{"ja4/pcap/latest.pcapng", nil, "mixed browsers"},
}

func TestVerdictsOnRealCaptures(t *testing.T) {
	if _, err := os.Stat(corpus); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: CI must run the real-capture verdicts", corpus)
		}
		t.Skipf("%s not found (outside clone): skipping real-capture verdicts", corpus)
	}
	sigs, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range realCaptures {
		t.Run(filepath.Base(rc.file), func(t *testing.T) {
			a, err := agent.New(cfg, sigs, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			eng := capture.NewEngine(capture.Config{}, observe.SinkFunc(a.Observe))
			src, err := capture.OpenFile(filepath.Join(corpus, rc.file))
			if err != nil {
				t.Fatal(err)
			}
			eng.Run(src)
			src.Close()
			eng.Flush()
			a.Flush(eng.Now())
			want := map[string]bool{}
			for _, k := range rc.apple {
				want[k] = true
			}
			found := map[string]bool{}
			for _, h := range a.Hosts() {
				key := hostKey(h)
				if h.Verdict.Apple {
					if !want[key] {
						t.Errorf("%s (%s): host %s called Apple (confidence %.3f), it is not", rc.file, rc.note, key, h.Verdict.Confidence)
					}
					if len(h.Verdict.Evidence) == 0 {
						t.Errorf("%s: Apple verdict for %s without evidence", rc.file, key)
					}
					found[key] = true
				}
				t.Logf("%s: %s apple=%v confidence=%.3f os=%q evidence=%d", rc.file, key, h.Verdict.Apple, h.Verdict.Confidence, h.Verdict.OS, len(h.Verdict.Evidence))
			}
			for k := range want {
				if !found[k] {
					t.Errorf("%s (%s): Apple host %s not found", rc.file, rc.note, k)
				}
			}
		})
	}
}

// hostKey is the MAC of a host, or its first address when no MAC is known.
func hostKey(h agent.HostState) string { return h.Device.Key }
