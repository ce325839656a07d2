package ecs

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/correlate"
)

// WriteSummary writes the --summary table: one row per alerted device and
// mail server (the latest alert of each), then the counters.
func WriteSummary(w io.Writer, findings []*correlate.Finding, st agent.Stats) error {
	type key struct{ dev, server string }
	latest := map[key]*correlate.Finding{}
	var order []key
	for _, f := range findings {
		k := key{f.Device.Key, f.Mail.Server}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = f
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tOS\tMODEL\tMAIL SERVER\tPROTOCOL\tEVIDENCE\tCONFIDENCE\tALERTS")
	for _, k := range order {
		f := latest[k]
		dev := f.Device.Key
		if f.Device.Hostname != "" {
			dev = f.Device.Hostname + " (" + f.Device.Key + ")"
		}
		proto := strings.Join(f.Mail.Protocols, ",")
		if proto == "" {
			proto = f.Mail.Protocol
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.3f\t%d\n", dev, dash(f.Verdict.OS), dash(f.Verdict.Model),
			f.Mail.Server, dash(proto), len(f.Verdict.Evidence), f.Verdict.Confidence, f.Raise)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nhosts %d, alerts %d, suppressed %d, allowlisted %d, mail flows %d, evicted hosts %d\n",
		st.Hosts, st.Findings, st.Suppressed, st.Allowlisted, st.MailFlows, st.Evicted+st.Expired)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
