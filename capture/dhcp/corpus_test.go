package dhcp

import (
	"strconv"
	"testing"

	"github.com/orchard-nsm/orchard/capture/internal/corpustest"
)

func isV4(d corpustest.Datagram) bool {
	return d.SrcPort == 67 || d.SrcPort == 68 || d.DstPort == 67 || d.DstPort == 68
}

func isV6(d corpustest.Datagram) bool {
	return d.SrcPort == 546 || d.SrcPort == 547 || d.DstPort == 546 || d.DstPort == 547
}

// tsharkRows returns frame number → fields for every frame matching filter.
func tsharkRows(t testing.TB, bin, path, filter string, fields ...string) map[int][]string {
	t.Helper()
	rows := map[int][]string{}
	for _, f := range corpustest.Fields(t, bin, path, filter, append([]string{"frame.number"}, fields...)...) {
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark row %q", f)
		}
		rows[n] = f[1:]
	}
	return rows
}
