package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsAndHealth(t *testing.T) {
	n := uint64(0)
	s := New(func() Snapshot {
		n++
		return Snapshot{Mode: "ebpf", Packets: 10 * n, KernelPackets: 1000, RingbufDrops: 2, QueueDrops: 3,
			Observations: map[string]uint64{"tls": 4}, ParseErrors: map[string]uint64{"malformed-dns": 5}, Hosts: 6, Alerts: 7}
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", 200)
	for _, want := range []string{
		`orchard_packets_total{mode="ebpf"} 10`,
		`orchard_kernel_packets_total{mode="ebpf"} 1000`,
		`orchard_ringbuf_drops_total{mode="ebpf"} 2`,
		`orchard_queue_drops_total{mode="ebpf"} 3`,
		`orchard_observations_total{kind="tls"} 4`,
		`orchard_parse_errors_total{reason="malformed-dns"} 5`,
		`orchard_hosts 6`,
		`orchard_alerts_total 7`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Counters are read at scrape time.
	if body := get(t, srv.URL+"/metrics", 200); !strings.Contains(body, `orchard_packets_total{mode="ebpf"} 20`) {
		t.Error("second scrape did not read a new snapshot")
	}
	if body := get(t, srv.URL+"/healthz", 200); body != "ok\n" {
		t.Errorf("healthz %q", body)
	}
	s.SetHealth(errors.New("capture stopped"))
	if body := get(t, srv.URL+"/healthz", 503); !strings.Contains(body, "capture stopped") {
		t.Errorf("unhealthy healthz %q", body)
	}
}

func TestServeBadAddress(t *testing.T) {
	s := New(func() Snapshot { return Snapshot{} })
	if _, _, err := s.Serve("256.0.0.1:bad"); err == nil || !strings.HasPrefix(err.Error(), "metrics:") {
		t.Errorf("err %v", err)
	}
}

func get(t *testing.T, url string, code int) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != code {
		t.Fatalf("%s: status %d, want %d", url, r.StatusCode, code)
	}
	return string(b)
}
