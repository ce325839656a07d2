package capture

import (
	"bytes"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/scripts/gencap"
)

// deepCopy copies an observation and the record it carries, and the TLS
// lists (FillBorrowed reuses their backing array); the records' other
// slices are not reused by the engine, so they are shared.
func deepCopy(o *observe.Observation) *observe.Observation {
	c := *o
	c.TLS, c.DNS, c.TCP = clonePtr(o.TLS), clonePtr(o.DNS), clonePtr(o.TCP)
	c.DHCP, c.ARP, c.HTTP, c.Flow = clonePtr(o.DHCP), clonePtr(o.ARP), clonePtr(o.HTTP), clonePtr(o.Flow)
	if h := c.TLS; h != nil {
		h.QUIC = clonePtr(h.QUIC)
		h.SupportedVersions, h.CipherSuites, h.Extensions = slices.Clone(h.SupportedVersions), slices.Clone(h.CipherSuites), slices.Clone(h.Extensions)
		h.SupportedGroups, h.SignatureAlgorithms = slices.Clone(h.SupportedGroups), slices.Clone(h.SignatureAlgorithms)
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func runCapture(t *testing.T, pcap []byte, cfg Config) []*observe.Observation {
	t.Helper()
	var got []*observe.Observation
	sink := observe.SinkFunc(func(o *observe.Observation) {
		if cfg.ReuseObservations {
			o = deepCopy(o)
		}
		got = append(got, o)
	})
	e := NewEngine(cfg, sink)
	src, err := NewFileSource("x", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(src); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	return got
}

// TestReuseObservationsSameStream checks that an engine reusing its
// observations reports exactly what one allocating them does (and one
// leaving Community IDs to be computed on demand, the same IDs), on every
// kind the generators produce (TLS over TCP and QUIC, DNS, mDNS, SYN,
// DHCP, ARP/NDP, HTTP, flows).
func TestReuseObservationsSameStream(t *testing.T) {
	gens := map[string]func(io.Writer) error{
		"office": func(w io.Writer) error {
			_, err := gencap.Office(w, gencap.OfficeOptions{Seed: 3})
			return err
		},
		"sample": func(w io.Writer) error { _, err := gencap.Sample(w); return err },
		"handshake": func(w io.Writer) error {
			_, err := gencap.Bench(w, gencap.BenchOptions{Packets: 20000, Mix: "handshake", Seed: 1})
			return err
		},
	}
	for name, gen := range gens {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := gen(&buf); err != nil {
				t.Fatal(err)
			}
			want := runCapture(t, buf.Bytes(), Config{})
			got := runCapture(t, buf.Bytes(), Config{ReuseObservations: true})
			lazy := runCapture(t, buf.Bytes(), Config{ReuseObservations: true, LazyCommunityID: true})
			if len(got) != len(want) || len(lazy) != len(want) {
				t.Fatalf("%d observations reusing, %d lazy, %d allocating", len(got), len(lazy), len(want))
			}
			kinds := map[observe.Kind]int{}
			ids := 0
			for i := range want {
				kinds[want[i].Kind]++
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("observation %d differs:\nreusing    %+v\nallocating %+v", i, got[i], want[i])
				}
				// Lazy: no Community ID stored, the same one computed.
				if lazy[i].CommunityID != "" || lazy[i].Community() != want[i].CommunityID {
					t.Fatalf("observation %d: lazy Community ID %q, computed %q, want %q", i, lazy[i].CommunityID, lazy[i].Community(), want[i].CommunityID)
				}
				if want[i].CommunityID != "" {
					ids++
				}
				lazy[i].CommunityID = want[i].CommunityID
				if !reflect.DeepEqual(lazy[i], want[i]) {
					t.Fatalf("observation %d differs:\nlazy       %+v\nallocating %+v", i, lazy[i], want[i])
				}
			}
			if ids == 0 {
				t.Fatal("no observation has a Community ID")
			}
			t.Logf("%d observations (%d with a Community ID), by kind %v", len(want), ids, kinds)
		})
	}
}
