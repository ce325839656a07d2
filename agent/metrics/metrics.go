package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is every counter at one moment. Totals only grow while the
// process runs; gauges (ActiveFlows, Hosts) go up and down.
type Snapshot struct {
	Mode string // capture mode in use: "ebpf" or "afpacket"

	Packets uint64 // packets that reached user space (decoded by the engines)
	Bytes   uint64

	// Kernel-side counters: in eBPF mode what the TC program saw and
	// passed; in AF_PACKET mode what the sockets received.
	KernelPackets       uint64
	KernelBytes         uint64
	KernelPassedPackets uint64
	KernelDrops         uint64 // AF_PACKET ring full (packets the kernel could not queue)
	RingbufDrops        uint64 // eBPF ring buffer full
	QueueDrops          uint64 // observations dropped between capture and agent

	Observations map[string]uint64 // by kind
	ParseErrors  map[string]uint64 // by reason
	Flows        uint64            // flows created
	ActiveFlows  int
	Hosts        int
	MailFlows    uint64
	Alerts       uint64
	Reloads      uint64
	ReloadErrors uint64
}

// Server is the metrics and health endpoint.
type Server struct {
	reg     *prometheus.Registry
	mux     *http.ServeMux
	healthy atomic.Pointer[string] // nil: healthy; else why not
}

var ns = "orchard"

type collector struct {
	snap  func() Snapshot
	descs map[string]*prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
}

func newCollector(snap func() Snapshot) *collector {
	return &collector{snap: snap, descs: map[string]*prometheus.Desc{
		"packets":       desc("packets_total", "Packets decoded in user space.", "mode"),
		"bytes":         desc("bytes_total", "Bytes (on the wire) of packets decoded in user space.", "mode"),
		"kpackets":      desc("kernel_packets_total", "Packets the kernel saw on the capture interfaces (eBPF: all packets; AF_PACKET: received by the sockets).", "mode"),
		"kbytes":        desc("kernel_bytes_total", "Bytes the eBPF program saw.", "mode"),
		"kpassed":       desc("kernel_passed_packets_total", "Packets the eBPF program passed to user space.", "mode"),
		"kdrops":        desc("kernel_drops_total", "Packets the AF_PACKET rings had no room for.", "mode"),
		"rbdrops":       desc("ringbuf_drops_total", "Packets the eBPF program could not pass because the ring buffer was full.", "mode"),
		"qdrops":        desc("queue_drops_total", "Observations dropped because the agent fell behind the capture.", "mode"),
		"observations":  desc("observations_total", "Observations made, by kind.", "kind"),
		"parse_errors":  desc("parse_errors_total", "Packets or messages skipped or flagged, by reason.", "reason"),
		"flows":         desc("flows_total", "Flows created.", "mode"),
		"active_flows":  desc("flows_active", "Flows in the engines' tables.", "mode"),
		"hosts":         desc("hosts", "Hosts tracked."),
		"mail_flows":    desc("mail_flows_total", "Flows to work-mail servers."),
		"alerts":        desc("alerts_total", "Alerts raised."),
		"reloads":       desc("reloads_total", "Configuration reloads (SIGHUP)."),
		"reload_errors": desc("reload_errors_total", "Reloads refused because the new configuration or signatures did not load."),
	}}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	ctr := func(name string, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, labels...)
	}
	ctr("packets", s.Packets, s.Mode)
	ctr("bytes", s.Bytes, s.Mode)
	ctr("kpackets", s.KernelPackets, s.Mode)
	ctr("kbytes", s.KernelBytes, s.Mode)
	ctr("kpassed", s.KernelPassedPackets, s.Mode)
	ctr("kdrops", s.KernelDrops, s.Mode)
	ctr("rbdrops", s.RingbufDrops, s.Mode)
	ctr("qdrops", s.QueueDrops, s.Mode)
	for k, v := range s.Observations {
		ctr("observations", v, k)
	}
	for r, v := range s.ParseErrors {
		ctr("parse_errors", v, r)
	}
	ctr("flows", s.Flows, s.Mode)
	gauge("active_flows", float64(s.ActiveFlows), s.Mode)
	gauge("hosts", float64(s.Hosts))
	ctr("mail_flows", s.MailFlows)
	ctr("alerts", s.Alerts)
	ctr("reloads", s.Reloads)
	ctr("reload_errors", s.ReloadErrors)
}

// New builds the endpoint; snap is called on every scrape, from the HTTP
// goroutine, so it must be safe for that.
func New(snap func() Snapshot) *Server {
	s := &Server{reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	s.reg.MustRegister(newCollector(snap), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if why := s.healthy.Load(); why != nil {
			http.Error(w, "unhealthy: "+*why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return s
}

// SetHealth marks the daemon unhealthy with a reason, or healthy with nil.
func (s *Server) SetHealth(err error) {
	if err == nil {
		s.healthy.Store(nil)
		return
	}
	why := err.Error()
	s.healthy.Store(&why)
}

// Handler serves /metrics and /healthz.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve listens on addr and serves until Close. It returns once listening.
func (s *Server) Serve(addr string) (*http.Server, net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.SetHealth(err)
		}
	}()
	return hs, l.Addr(), nil
}
