// Command gencap writes orchard's generated captures: a labelled office day,
// benchmark mixes, a SYN flood and the demo sample.
//
//	go run ./scripts/gencap/cmd/gencap -kind office|bench|handshake|flood|sample -n N -seed S -o FILE.pcap [-labels FILE.json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/orchard-nsm/orchard/scripts/gencap"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gencap:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gencap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "office", "capture: office, bench (office mix), handshake (ClientHello-heavy mix), flood or sample")
	n := fs.Int("n", 0, "size: hosts for office (default 60), packets for bench/handshake (default 200000), SYNs for flood (default 1000000)")
	seed := fs.Uint64("seed", 1, "seed; the same seed gives the same bytes")
	out := fs.String("o", "", "output pcap file (required; - for stdout)")
	labels := fs.String("labels", "", "write ground-truth labels (office, flood, sample) or counts (bench) as JSON to this file")
	mailName := fs.String("mail-name", gencap.DefaultMailName, "work-mail server name (office)")
	mailIP := fs.String("mail-ip", gencap.DefaultMailIP, "work-mail server IPv4 address (office)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return fmt.Errorf("-o is required")
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	start := time.Now()
	var meta any
	var packets int
	var err error
	switch *kind {
	case "office":
		var lb *gencap.Labels
		lb, err = gencap.Office(w, gencap.OfficeOptions{Hosts: *n, Seed: *seed, MailName: *mailName, MailIP: *mailIP})
		if lb != nil {
			meta, packets = lb, lb.Packets
		}
	case "bench", "handshake":
		mix := "office"
		if *kind == "handshake" {
			mix = "handshake"
		}
		var st *gencap.BenchStats
		st, err = gencap.Bench(w, gencap.BenchOptions{Packets: *n, Mix: mix, Seed: *seed})
		if st != nil {
			meta, packets = st, st.Packets
		}
	case "flood":
		if *n == 0 {
			*n = 1000000
		}
		var lb *gencap.Labels
		lb, err = gencap.Flood(w, *n, *seed)
		if lb != nil {
			meta, packets = lb, lb.Packets
		}
	case "sample":
		var lb *gencap.Labels
		lb, err = gencap.Sample(w)
		if lb != nil {
			meta, packets = lb, lb.Packets
		}
	default:
		return fmt.Errorf("unknown -kind %q", *kind)
	}
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *labels != "" && meta != nil {
		b, err := json.MarshalIndent(meta, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*labels, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "gencap: %s: %d packets in %v (%.0f packets/s) -> %s\n", *kind, packets, el.Round(time.Millisecond), float64(packets)/el.Seconds(), *out)
	return nil
}
