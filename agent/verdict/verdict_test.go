package verdict

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/signatures"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func params() Params {
	return Params{Prior: 0.05, Threshold: 0.9, DefaultCap: 4, MaxEvidence: 32}
}

func ev(id, kind, platform, detail string, w float64, sec int) *signatures.Evidence {
	return &signatures.Evidence{Time: t0.Add(time.Duration(sec) * time.Second), Kind: kind, Detail: detail,
		SignatureID: id, Platform: platform, Weight: w, Set: kind + ".yaml@1"}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPrior(t *testing.T) {
	p := params()
	var a Accumulator
	if r := a.Result(&p); r.Apple || !near(r.Confidence, 0.05) || len(r.Evidence) != 0 {
		t.Fatalf("empty verdict %+v", r)
	}
	// A high prior alone never makes a host Apple: a verdict needs evidence.
	p.Prior = 0.95
	a.Add(ev("windows.x", "dns-name", "windows", "dns query x", 0.01, 0), &p)
	if a.Apple() {
		t.Error("Apple without Apple evidence")
	}
	// The prior shifts the log-odds.
	var b, c Accumulator
	pl, ph := params(), params()
	pl.Prior, ph.Prior = 0.01, 0.5
	b.Add(ev("s", "tcp-syn", "apple", "syn", 2, 0), &pl)
	c.Add(ev("s", "tcp-syn", "apple", "syn", 2, 0), &ph)
	if !near(b.Result(&pl).LogOdds, math.Log(0.01/0.99)+2) || !near(c.Result(&ph).LogOdds, 2) {
		t.Errorf("log-odds %v %v", b.Result(&pl).LogOdds, c.Result(&ph).LogOdds)
	}
}

func TestCapPerKind(t *testing.T) {
	p := params()
	var a Accumulator
	// Fifty Apple names from one browser tab.
	for i := 0; i < 50; i++ {
		a.Add(ev(fmt.Sprintf("apple.dns.n%d", i), "dns-name", "apple", fmt.Sprintf("dns query n%d.apple.com", i), 1.5, i), &p)
	}
	r := a.Result(&p)
	if want := math.Log(0.05/0.95) + 4; !near(r.LogOdds, want) {
		t.Errorf("log-odds %v, want prior + cap %v", r.LogOdds, want)
	}
	if r.Apple {
		t.Error("one kind of signal alone made the host Apple")
	}
	if len(r.Evidence) != 32 {
		t.Errorf("evidence list %d, want bounded at 32", len(r.Evidence))
	}
	// A second kind lifts it over the threshold.
	if !a.Add(ev("apple.tcp", "tcp-syn", "apple-ios", "syn 64:65535", 3, 60), &p) || !a.Apple() {
		t.Errorf("second kind did not make it Apple: %+v", a.Result(&p).Confidence)
	}
	if got := a.AppleSince(); !got.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("since %v", got)
	}
	// Per-kind caps come from the config.
	p.KindCaps = map[string]float64{"dns-name": 1}
	var b Accumulator
	b.Add(ev("a", "dns-name", "apple", "a", 3, 0), &p)
	if !near(b.Result(&p).LogOdds, math.Log(0.05/0.95)+1) {
		t.Errorf("kind cap not applied: %v", b.Result(&p).LogOdds)
	}
}

func TestDiminishingPerSignature(t *testing.T) {
	p := params()
	p.DefaultCap = 100
	var a Accumulator
	base := math.Log(0.05 / 0.95)
	// Same signature, same detail, many times: counted once.
	for i := 0; i < 20; i++ {
		a.Add(ev("apple.push", "dns-name", "apple", "dns query 1-courier.push.apple.com", 2, i), &p)
	}
	if r := a.Result(&p); !near(r.LogOdds, base+2) || r.Evidence[0].Count != 20 || len(r.Evidence) != 1 {
		t.Fatalf("repeat: %+v", r)
	}
	// The answer to the same question is not a second sighting.
	a.Add(ev("apple.push", "dns-name", "apple", "dns response 1-courier.push.apple.com", 2, 21), &p)
	if !near(a.Result(&p).LogOdds, base+2) {
		t.Errorf("dns response counted again: %v", a.Result(&p).LogOdds)
	}
	// Distinct details of one signature: w, w/2, w/4 ... at most 2w.
	a.Add(ev("apple.push", "dns-name", "apple", "dns query 2-courier.push.apple.com", 2, 22), &p)
	if !near(a.Result(&p).LogOdds, base+3) {
		t.Errorf("second detail: %v, want %v", a.Result(&p).LogOdds, base+3)
	}
	for i := 3; i < 40; i++ {
		a.Add(ev("apple.push", "dns-name", "apple", fmt.Sprintf("dns query %d-courier.push.apple.com", i), 2, 22+i), &p)
	}
	if lo := a.Result(&p).LogOdds; lo > base+4 || lo < base+3.9 {
		t.Errorf("many details: %v, want just under %v", lo, base+4)
	}
}

func TestCounterEvidence(t *testing.T) {
	p := params()
	var a Accumulator
	a.Add(ev("apple.dns.push", "dns-name", "apple", "push", 3.5, 0), &p)
	a.Add(ev("apple.tls", "tls-ja4", "apple-macos", "ja4 x", 3, 1), &p)
	if !a.Apple() {
		t.Fatalf("not Apple: %v", a.Result(&p).Confidence)
	}
	if !a.Add(ev("windows.tcp", "tcp-syn", "windows", "syn ttl 128", 2.5, 2), &p) || a.Apple() {
		t.Errorf("Windows SYN did not overturn: %v", a.Result(&p).Confidence)
	}
	r := a.Result(&p)
	if want := math.Log(0.05/0.95) + 3.5 + 3 - 2.5; !near(r.LogOdds, want) {
		t.Errorf("log-odds %v want %v", r.LogOdds, want)
	}
	if r.OS != "Windows" || !r.AppleSince.IsZero() {
		t.Errorf("os %q since %v", r.OS, r.AppleSince)
	}
	// Counter-evidence is capped per kind too.
	var b Accumulator
	for i := 0; i < 10; i++ {
		b.Add(ev(fmt.Sprintf("w%d", i), "dns-name", "windows", fmt.Sprint(i), 3, i), &p)
	}
	if !near(b.Result(&p).LogOdds, math.Log(0.05/0.95)-4) {
		t.Errorf("negative cap: %v", b.Result(&p).LogOdds)
	}
}

func TestOSAndModel(t *testing.T) {
	p := params()
	var a Accumulator
	a.Add(ev("i1", "dns-name", "apple-ios", "time-ios", 3.5, 0), &p)
	a.Add(ev("i2", "tcp-syn", "apple", "syn", 3, 0), &p)
	if r := a.Result(&p); r.OS != "iOS" || !r.Apple {
		t.Errorf("os %q apple %v", r.OS, r.Apple)
	}
	a.Add(ev("m", "mdns-model", "apple-ipados", "mdns model iPad13,4", 5, 1), &p)
	a.items[len(a.items)-1].Model = "iPad Pro 11-inch (3rd generation)"
	a.model, a.modelOS = "iPad Pro 11-inch (3rd generation)", "apple-ipados"
	if r := a.Result(&p); r.OS != "iPadOS" || r.Model == "" {
		t.Errorf("model did not decide: %q %q", r.OS, r.Model)
	}
	var m Accumulator
	e := ev("mm", "mdns-model", "apple-macos", "mdns model MacBookPro18,1", 5, 0)
	e.Model = "MacBook Pro (16-inch, 2021)"
	m.Add(e, &p)
	if r := m.Result(&p); r.Model != "MacBook Pro (16-inch, 2021)" || r.Signatures[0] != "mdns-model.yaml@1" {
		t.Errorf("model %q sets %v", r.Model, r.Signatures)
	}
}

func TestEvidenceKeepsStrongest(t *testing.T) {
	p := params()
	p.MaxEvidence = 3
	var a Accumulator
	for i, w := range []float64{0.5, 0.3, 0.4, 3, 0.2} {
		a.Add(ev(fmt.Sprint("s", i), fmt.Sprint("k", i), "apple", fmt.Sprint(i), w, i), &p)
	}
	r := a.Result(&p)
	if len(r.Evidence) != 3 {
		t.Fatalf("%d items", len(r.Evidence))
	}
	ws := []float64{r.Evidence[0].Weight, r.Evidence[1].Weight, r.Evidence[2].Weight}
	if ws[0] != 0.5 || ws[1] != 0.4 || ws[2] != 3 { // time order, weakest dropped
		t.Errorf("kept %v", ws)
	}
}

// A Windows PC running iCloud for Windows and browsing apple.com stays
// non-Apple with the embedded signatures.
func TestWindowsWithICloudIsNotApple(t *testing.T) {
	set, err := signatures.Embedded()
	if err != nil {
		t.Fatalf("embedded signatures: %v", err)
	}
	p := params()
	pc := observe.MAC{0x3c, 0x52, 0x82, 1, 2, 3}
	meta := func(i int) observe.Meta {
		return observe.Meta{Time: t0.Add(time.Duration(i) * time.Second), SrcMAC: pc, Src: netip.MustParseAddr("192.168.1.30"),
			Dst: netip.MustParseAddr("192.168.1.1"), SrcPort: 50000, DstPort: 53, Transport: observe.TransportUDP}
	}
	var obs []*observe.Observation
	names := []string{
		"gateway.icloud.com", "p52-keyvalueservice.icloud.com", "setup.icloud.com", "p52-contacts.icloud.com",
		"p52-caldav.icloud.com", "www.icloud.com", "icloud.com", "www.apple.com", "apple.com",
		"images.apple.com", "itunes.apple.com", "p52-buy.itunes.apple.com", "api.apple-cloudkit.com",
	}
	for i, n := range names {
		obs = append(obs, &observe.Observation{Kind: observe.KindDNS, Meta: meta(i),
			DNS: &observe.DNSMessage{Questions: []observe.DNSQuestion{{Name: n, Type: "A", Class: 1}}}})
	}
	for i, n := range names {
		m := meta(100 + i)
		m.DstPort = 443
		m.Transport = observe.TransportTCP
		obs = append(obs, &observe.Observation{Kind: observe.KindTLS, Meta: m, TLS: &observe.ClientHello{ServerName: n}})
	}
	var a Accumulator
	var buf []signatures.Evidence
	apple := 0
	for _, o := range obs {
		buf = set.Match(o, buf[:0])
		for i := range buf {
			if signatures.IsApple(buf[i].Platform) {
				apple++
			}
			a.Add(&buf[i], &p)
		}
	}
	if apple == 0 {
		t.Fatal("no Apple evidence at all: the test does not exercise the caps")
	}
	if r := a.Result(&p); r.Apple {
		t.Fatalf("Windows PC with iCloud called Apple: confidence %.3f, %d items", r.Confidence, len(r.Evidence))
	}
	// Windows' own behaviour pushes it further away.
	win := []*observe.Observation{
		{Kind: observe.KindDNS, Meta: meta(200), DNS: &observe.DNSMessage{Questions: []observe.DNSQuestion{{Name: "www.msftconnecttest.com", Type: "A", Class: 1}}}},
		{Kind: observe.KindDHCP, Meta: meta(201), DHCP: &observe.DHCP{MessageType: "request", ClientMAC: pc, VendorClass: "MSFT 5.0",
			ParamList: []uint8{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252}}},
	}
	for _, o := range win {
		buf = set.Match(o, buf[:0])
		for i := range buf {
			a.Add(&buf[i], &p)
		}
	}
	if r := a.Result(&p); r.Apple || r.Confidence > 0.5 || r.OS != "Windows" {
		t.Errorf("after Windows evidence: apple %v conf %.3f os %q", r.Apple, r.Confidence, r.OS)
	}
}

func BenchmarkAdd(b *testing.B) {
	p := params()
	evs := []*signatures.Evidence{
		ev("apple.dns.push", "dns-name", "apple", "dns query 1-courier.push.apple.com", 3.5, 0),
		ev("apple.tcp", "tcp-syn", "apple-ios", "syn", 3, 1),
		ev("apple.ja4", "tls-ja4", "apple", "ja4 t13d2014h2_a09f3c656075_14788d8d241b", 2, 2),
		ev("apple.dns.push", "dns-name", "apple", "dns response 1-courier.push.apple.com", 3.5, 3),
	}
	var a Accumulator
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Add(evs[i&3], &p)
	}
}

func TestAddDoesNotAllocateOnRepeat(t *testing.T) {
	p := params()
	e := ev("apple.dns.push", "dns-name", "apple", "dns query 1-courier.push.apple.com", 3.5, 0)
	var a Accumulator
	a.Add(e, &p)
	if n := testing.AllocsPerRun(1000, func() { a.Add(e, &p) }); n != 0 {
		t.Errorf("repeat Add allocates %v", n)
	}
}

// TestItemsUnderRepeatsAndReplacement: the repeat shortcuts (last detail,
// last item per signature) keep exactly the items a plain scan keeps,
// also while a full list replaces its weakest entries and signatures
// interleave, detail strings are rebuilt, and the prefixes differ.
func TestItemsUnderRepeatsAndReplacement(t *testing.T) {
	p := params()
	p.MaxEvidence = 5
	type key struct{ id, detail string }
	type ref struct {
		k      key
		w      float64
		count  int
		last   time.Time
		detail string
	}
	var want []ref
	strip := func(d string) string {
		for _, p := range []string{"dns query ", "tls sni "} {
			if r, ok := strings.CutPrefix(d, p); ok {
				return r
			}
		}
		return d
	}
	refAdd := func(e *signatures.Evidence) {
		k := key{e.SignatureID, strip(e.Detail)}
		for i := range want {
			if want[i].k == k {
				want[i].count++
				if e.Time.After(want[i].last) {
					want[i].last = e.Time
				}
				return
			}
		}
		r := ref{k, e.Weight, 1, e.Time, e.Detail}
		if len(want) < p.MaxEvidence {
			want = append(want, r)
			return
		}
		w := 0
		for i := range want {
			if math.Abs(want[i].w) < math.Abs(want[w].w) {
				w = i
			}
		}
		if math.Abs(e.Weight) > math.Abs(want[w].w) {
			want[w] = r
		}
	}
	var a Accumulator
	seed := uint32(7)
	rnd := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>16) % n }
	for i := range 5000 {
		id := fmt.Sprintf("sig.%d", rnd(4))
		// dns query and dns response of one name are one detail.
		via := [2]string{"dns query ", "tls sni "}[rnd(2)]
		detail := via + fmt.Sprintf("n%d", rnd(3+rnd(4)))
		// Rising weights keep a full list replacing its weakest entry.
		w := float64(1 + i/4 + rnd(6))
		e := ev(id, "k"+id, "apple-ios", detail, w, i)
		if rnd(2) == 0 {
			e.Detail = string([]byte(detail)) // same text, another string
		}
		refAdd(e)
		a.Add(e, &p)
		if len(a.items) != len(want) {
			t.Fatalf("step %d: %d items, want %d", i, len(a.items), len(want))
		}
		// Without folding pending repeats in (that would change the state
		// the next step sees): an item's count is its own plus the
		// repeats its signature holds for it.
		for j, r := range want {
			it, x := &a.items[j], &a.idx[j]
			count, last := x.count, x.last
			if s := &a.sigs[x.sig]; int(s.lastItem) == j+1 && s.pend > 0 {
				count += int(s.pend)
				if pl := time.Unix(0, s.pendLast); pl.After(last) {
					last = pl
				}
			}
			if it.SignatureID != r.k.id || strip(it.Detail) != r.k.detail || count != r.count || !last.Equal(r.last) {
				t.Fatalf("step %d item %d: got %s %q count %d last %v, want %+v", i, j, it.SignatureID, it.Detail, count, last, r)
			}
		}
	}
	// Result folds them in: the same counts through the public view.
	res := a.Result(&p)
	for _, r := range want {
		found := false
		for _, it := range res.Evidence {
			if it.SignatureID == r.k.id && strip(it.Detail) == r.k.detail {
				found = true
				if it.Count != r.count || !it.Last.Equal(r.last) {
					t.Errorf("Result item %s %q: count %d last %v, want %d %v", it.SignatureID, it.Detail, it.Count, it.Last, r.count, r.last)
				}
			}
		}
		if !found {
			t.Errorf("Result lacks %+v", r.k)
		}
	}
}

// BenchmarkAddManyDetails: one host's flows to ever other destinations
// under one signature, with the evidence list full (a new detail each
// time half the time, a kept one the other half).
func BenchmarkAddManyDetails(b *testing.B) {
	p := params()
	var a Accumulator
	evs := make([]*signatures.Evidence, 64)
	for i := range evs {
		evs[i] = ev(fmt.Sprintf("apple.net.%d", i%3), "address-port", "apple", fmt.Sprintf("flow to 17.0.%d.%d:443", i/7, i), 1, i)
	}
	for _, e := range evs {
		a.Add(e, &p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Add(evs[i&63], &p)
		i += 7
	}
}

// TestPendingRepeatEdges: repeats counted in a signature's state give the
// item's count and last time whatever the times are (before 1970, beyond
// what Unix nanoseconds hold, out of order) and however many there are.
func TestPendingRepeatEdges(t *testing.T) {
	p := params()
	at := func(e *signatures.Evidence, tm time.Time) *signatures.Evidence { e.Time = tm; return e }
	cases := []struct {
		name  string
		times []time.Time
	}{
		{"before 1970", []time.Time{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1965, 6, 1, 0, 0, 0, 5, time.UTC)}},
		{"beyond 2262", []time.Time{t0, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), t0.Add(time.Hour)}},
		{"out of order", []time.Time{t0.Add(time.Hour), t0, t0.Add(2 * time.Hour), t0.Add(time.Minute)}},
	}
	for _, c := range cases {
		var a Accumulator
		var last time.Time
		for i, tm := range c.times {
			a.Add(at(ev("apple.x", "dns-name", "apple", "dns query a.example", 1, 0), tm), &p)
			if i == 0 || tm.After(last) {
				last = tm
			}
		}
		r := a.Result(&p)
		if len(r.Evidence) != 1 || r.Evidence[0].Count != len(c.times) || !r.Evidence[0].Last.Equal(last) {
			t.Errorf("%s: %+v, want count %d last %v", c.name, r.Evidence, len(c.times), last)
		}
	}
	// A full pending count goes to the item before it would overflow.
	var a Accumulator
	a.Add(ev("apple.x", "dns-name", "apple", "dns query a.example", 1, 0), &p)
	a.Add(ev("apple.x", "dns-name", "apple", "dns query a.example", 1, 1), &p)
	a.sigs[0].pend = math.MaxInt32 - 1
	for i := range 3 {
		a.Add(ev("apple.x", "dns-name", "apple", "dns query a.example", 1, 2+i), &p)
	}
	r := a.Result(&p)
	if want := 1 + (math.MaxInt32 - 1) + 3; len(r.Evidence) != 1 || r.Evidence[0].Count != want || !r.Evidence[0].Last.Equal(t0.Add(4*time.Second)) {
		t.Errorf("near-full pending count: %+v, want count %d", r.Evidence, want)
	}
}
