package tlshello

import (
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// freshFill is what Fill must produce: everything computed from scratch by
// the uncached methods.
func freshFill(h *ClientHello, transport byte) observe.ClientHello {
	var o observe.ClientHello
	o.ServerName = h.ServerName
	o.Version = h.LegacyVersion
	o.ALPN = slices.Clone(h.ALPN)
	o.SupportedVersions = slices.Clone(h.SupportedVersions)
	o.CipherSuites = slices.Clone(h.CipherSuites)
	o.Extensions = slices.Clone(h.Extensions)
	o.SupportedGroups = slices.Clone(h.SupportedGroups)
	o.SignatureAlgorithms = slices.Clone(h.SignatureAlgorithms)
	o.JA3String, o.JA3 = h.JA3()
	o.JA4, o.JA4R = h.JA4(transport)
	o.Oddities = slices.Clone(h.Oddities)
	return o
}

func sameFill(t *testing.T, name string, got, want observe.ClientHello) {
	t.Helper()
	if got.ServerName != want.ServerName || got.Version != want.Version ||
		!slices.Equal(got.ALPN, want.ALPN) || !slices.Equal(got.SupportedVersions, want.SupportedVersions) ||
		!slices.Equal(got.CipherSuites, want.CipherSuites) || !slices.Equal(got.Extensions, want.Extensions) ||
		!slices.Equal(got.SupportedGroups, want.SupportedGroups) || !slices.Equal(got.SignatureAlgorithms, want.SignatureAlgorithms) ||
		got.JA3String != want.JA3String || got.JA3 != want.JA3 || got.JA4 != want.JA4 || got.JA4R != want.JA4R ||
		!slices.Equal(got.Oddities, want.Oddities) {
		t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
	}
}

// TestFillCacheEveryInputCounts changes one fingerprint input at a time
// between hellos parsed by the same parser: each must get its own
// fingerprints, and a repeat must give the same as the first time.
func TestFillCacheEveryInputCounts(t *testing.T) {
	base := hello{version: 0x0303, ciphers: []uint16{0x1301, 0x1302, 0xc02b}, exts: []ext{
		{extServerName, sniBody("a.example")},
		{extALPN, alpnBody([]byte("h2"), []byte("http/1.1"))},
		{extSupportedGroups, u16ListBody(2, 0x001d, 0x0017)},
		{extECPointFormats, []byte{1, 0}},
		{extSignatureAlgorithms, u16ListBody(2, 0x0403, 0x0804)},
		{extSupportedVersions, u16ListBody(1, 0x0304, 0x0303)},
	}}
	variant := func(f func(*hello)) hello {
		v := base
		v.ciphers = slices.Clone(base.ciphers)
		v.exts = slices.Clone(base.exts)
		f(&v)
		return v
	}
	hellos := map[string]hello{
		"base":         base,
		"legacy":       variant(func(v *hello) { v.version = 0x0301 }),
		"cipher order": variant(func(v *hello) { v.ciphers[0], v.ciphers[1] = v.ciphers[1], v.ciphers[0] }),
		"cipher added": variant(func(v *hello) { v.ciphers = append(v.ciphers, 0x002f) }),
		"grease a":     variant(func(v *hello) { v.ciphers = append([]uint16{0x0a0a}, v.ciphers...) }),
		// Another GREASE value: the same fingerprints, its own lists.
		"grease b":      variant(func(v *hello) { v.ciphers = append([]uint16{0x1a1a}, v.ciphers...) }),
		"ext order":     variant(func(v *hello) { v.exts[2], v.exts[3] = v.exts[3], v.exts[2] }),
		"no SNI":        variant(func(v *hello) { v.exts = v.exts[1:] }),
		"other SNI":     variant(func(v *hello) { v.exts[0] = ext{extServerName, sniBody("b.example")} }),
		"ALPN first":    variant(func(v *hello) { v.exts[1] = ext{extALPN, alpnBody([]byte("h3"), []byte("http/1.1"))} }),
		"ALPN second":   variant(func(v *hello) { v.exts[1] = ext{extALPN, alpnBody([]byte("h2"))} }),
		"groups":        variant(func(v *hello) { v.exts[2] = ext{extSupportedGroups, u16ListBody(2, 0x0017, 0x001d)} }),
		"point formats": variant(func(v *hello) { v.exts[3] = ext{extECPointFormats, []byte{1, 1}} }),
		"sigs":          variant(func(v *hello) { v.exts[4] = ext{extSignatureAlgorithms, u16ListBody(2, 0x0804, 0x0403)} }),
		"versions":      variant(func(v *hello) { v.exts[5] = ext{extSupportedVersions, u16ListBody(1, 0x0303)} }),
		// A list boundary moved: the same uint16s, split differently.
		"split": variant(func(v *hello) {
			v.exts[2] = ext{extSupportedGroups, u16ListBody(2, 0x001d, 0x0017, 0x0403)}
			v.exts[4] = ext{extSignatureAlgorithms, u16ListBody(2, 0x0804)}
		}),
	}
	var h ClientHello
	first := map[string]observe.ClientHello{}
	for round := range 2 {
		for name, hh := range hellos {
			for _, tr := range []byte{'t', 'q'} {
				if err := h.Unmarshal(buildHello(hh)); err != nil {
					t.Fatal(name, err)
				}
				want := freshFill(&h, tr)
				var got observe.ClientHello
				h.Fill(&got, tr)
				sameFill(t, name, got, want)
				k := name + string(tr)
				if round == 1 && got.JA4R != first[k].JA4R {
					t.Errorf("%s: repeat differs", name)
				}
				first[k] = got
			}
		}
	}
	// "other SNI" shares base's fingerprints (JA4 looks at SNI presence
	// only), "grease b" those of "grease a", and "ext order" is base's
	// stack found by its shape (its own JA3, checked above); every other
	// variant is its own stack, per transport.
	// A slot shared by two stacks costs extra misses (the hash seed is
	// per process, so which stacks share a slot varies between runs):
	// misses are at least the stacks, and at least half of the second
	// round must hit.
	c := h.fp
	if want := uint64(2 * (len(hellos) - 3)); c.misses < want || c.misses+c.hits+c.shapeHits != uint64(4*len(hellos)) || c.hits < want/2 {
		t.Errorf("cache hits %d shape hits %d misses %d", c.hits, c.shapeHits, c.misses)
	}
}

// TestFillCacheCollision puts a different stack under the hash of a cached
// one: the full key comparison must catch it.
func TestFillCacheCollision(t *testing.T) {
	var h ClientHello
	a := buildHello(hello{version: 0x0303, ciphers: []uint16{0x1301}})
	b := buildHello(hello{version: 0x0303, ciphers: []uint16{0x1302}})
	if err := h.Unmarshal(a); err != nil {
		t.Fatal(err)
	}
	var oa observe.ClientHello
	h.Fill(&oa, 't')
	if err := h.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	// Forge a collision: move a's entry to b's slot under b's hash.
	sum := h.fp.hash(h.fpKey(nil, 't'))
	var cached []fpEntry
	for i := range h.fp.slots {
		if e := h.fp.slots[i]; e.key != nil {
			cached = append(cached, e)
			h.fp.slots[i] = fpEntry{}
		}
	}
	if len(cached) != 1 {
		t.Fatalf("%d cached entries, want 1", len(cached))
	}
	cached[0].hash = sum
	h.fp.slots[sum%fpCacheSize] = cached[0]
	var ob observe.ClientHello
	h.Fill(&ob, 't')
	sameFill(t, "collision", ob, freshFill(&h, 't'))
	if ob.JA3 == oa.JA3 {
		t.Errorf("collision returned the other stack's JA3 %s", ob.JA3)
	}
}

// TestFillCacheShared: a repeat stack allocates only the observation's own
// parts, and what it shares cannot be changed through an append.
func TestFillCacheShared(t *testing.T) {
	msg := specHello(true)
	var h ClientHello
	if err := h.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	var o1, o2 observe.ClientHello
	h.Fill(&o1, 't')
	allocs := testing.AllocsPerRun(100, func() {
		if err := h.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		h.Fill(&o2, 't')
	})
	if allocs != 0 {
		t.Errorf("Fill of a repeated stack allocates %.1f times", allocs)
	}
	if &o1.CipherSuites[0] != &o2.CipherSuites[0] {
		t.Error("repeat stack did not share the cached lists")
	}
	_ = append(o2.CipherSuites, 0xffff)
	_ = append(o2.SupportedVersions, 0xffff)
	if !slices.Equal(o1.Extensions, h.Extensions) || !slices.Equal(o1.CipherSuites, h.CipherSuites) {
		t.Error("an append to a shared list wrote into the next one")
	}
}

// TestFillCacheBounded: many distinct stacks keep the cache at its size and
// still fingerprint correctly; an oversized key is not cached.
func TestFillCacheBounded(t *testing.T) {
	var h ClientHello
	for i := range 3 * fpCacheSize {
		if err := h.Unmarshal(buildHello(hello{version: 0x0303, ciphers: []uint16{uint16(i), 0x1301}})); err != nil {
			t.Fatal(err)
		}
		var o observe.ClientHello
		h.Fill(&o, 't')
		if i%97 == 0 {
			sameFill(t, "distinct", o, freshFill(&h, 't'))
		}
	}
	if len(h.fp.slots) != fpCacheSize {
		t.Errorf("cache grew to %d", len(h.fp.slots))
	}
	big := make([]uint16, maxFPKey)
	for i := range big {
		big[i] = uint16(i)
	}
	if err := h.Unmarshal(buildHello(hello{version: 0x0303, ciphers: big})); err != nil {
		t.Fatal(err)
	}
	var o observe.ClientHello
	h.Fill(&o, 't')
	sameFill(t, "oversized", o, freshFill(&h, 't'))
	for _, s := range h.fp.slots {
		if len(s.key) > maxFPKey {
			t.Fatalf("oversized key cached (%d bytes)", len(s.key))
		}
	}
}

func BenchmarkFillRepeat(b *testing.B) {
	stream := goClientStream(b, &tls.Config{ServerName: "outlook.office365.com", NextProtos: []string{"h2", "http/1.1"}})
	msg, err := ExtractHandshake(stream, nil)
	if err != nil {
		b.Fatal(err)
	}
	var h ClientHello
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Unmarshal(msg); err != nil {
			b.Fatal(err)
		}
		o := &observe.ClientHello{}
		h.Fill(o, 't')
	}
}

func BenchmarkFillHit(b *testing.B) {
	h := benchHello(b)
	var o observe.ClientHello
	b.ReportAllocs()
	for b.Loop() {
		h.Fill(&o, 't')
	}
}

// TestFillCacheShuffledExtensions: a stack that permutes its extensions on
// every connection (Chrome) is found by its shape after the first hello.
// Every permutation still gets its own JA3 and extension list, all of it
// equal to a fresh computation; JA4 is shared. The permutations do not
// take exact-key slots, so they cannot evict other stacks.
func TestFillCacheShuffledExtensions(t *testing.T) {
	base := []ext{
		{extServerName, sniBody("www.example.com")},
		{extALPN, alpnBody([]byte("h2"), []byte("http/1.1"))},
		{extSupportedGroups, u16ListBody(2, 0x11ec, 0x001d, 0x0017)},
		{extECPointFormats, []byte{1, 0}},
		{extSignatureAlgorithms, u16ListBody(2, 0x0403, 0x0804, 0x0401)},
		{extSupportedVersions, u16ListBody(1, 0x0304, 0x0303)},
		{0x0017, nil}, {0xff01, []byte{0}}, {0x0023, nil}, {0x0012, nil}, {0x002d, []byte{1, 1}},
		{0x001b, []byte{2, 0, 2}}, {0x4469, []byte{0, 3, 2, 'h', '2'}}, {0xfe0d, []byte{0, 0, 1, 0, 1, 0x2a, 0, 0, 0, 0}},
	}
	r := rand.New(rand.NewPCG(7, 8))
	var h ClientHello
	var first observe.ClientHello
	ja3s := map[string]bool{}
	const n = 300
	for i := range n {
		exts := slices.Clone(base)
		r.Shuffle(len(exts), func(a, b int) { exts[a], exts[b] = exts[b], exts[a] })
		if err := h.Unmarshal(buildHello(hello{version: 0x0303, ciphers: []uint16{0x0a0a, 0x1301, 0x1302, 0xc02b}, exts: exts})); err != nil {
			t.Fatal(err)
		}
		var o observe.ClientHello
		if i%2 == 0 {
			h.Fill(&o, 't')
		} else {
			h.FillBorrowed(&o, 't')
		}
		sameFill(t, fmt.Sprintf("permutation %d", i), o, freshFill(&h, 't'))
		if i == 0 {
			first = o
		} else if o.JA4 != first.JA4 || o.JA4R != first.JA4R {
			t.Fatalf("permutation %d changed JA4: %s, first %s", i, o.JA4, first.JA4)
		}
		ja3s[o.JA3] = true
	}
	c := h.fp
	if c.misses != 1 || c.hits+c.shapeHits != n-1 {
		t.Errorf("misses %d, hits %d, shape hits %d: want 1 miss", c.misses, c.hits, c.shapeHits)
	}
	if len(ja3s) < n/2 {
		t.Errorf("only %d distinct JA3s for %d permutations", len(ja3s), n)
	}
	used := 0
	for _, s := range c.slots {
		if s.key != nil {
			used++
		}
	}
	if used != 1 {
		t.Errorf("%d exact-key slots taken by one stack's permutations, want 1", used)
	}
}

func BenchmarkFillShuffled(b *testing.B) {
	for _, borrow := range []bool{false, true} {
		name := "fresh"
		if borrow {
			name = "borrowed"
		}
		b.Run(name, func(b *testing.B) {
			h := benchHello(b)
			r := rand.New(rand.NewPCG(1, 2))
			var o observe.ClientHello
			b.ReportAllocs()
			for b.Loop() {
				r.Shuffle(len(h.Extensions), func(i, j int) { h.Extensions[i], h.Extensions[j] = h.Extensions[j], h.Extensions[i] })
				if borrow {
					h.FillBorrowed(&o, 't')
				} else {
					h.Fill(&o, 't')
				}
			}
		})
	}
}

// fpShapeKey, the reference for shapeKeyFrom, is fpKey with the extensions in ascending order (GREASE
// values written as 0x0a0a before sorting): the key of the stack whatever
// order it sent its extensions in.
func (h *ClientHello) fpShapeKey(dst []byte, transport byte) []byte {
	var buf [maxShapeExtensions]uint16
	exts := buf[:len(h.Extensions)]
	for i, v := range h.Extensions {
		if isGREASE(v) {
			v = 0x0a0a
		}
		exts[i] = v
	}
	slices.Sort(exts)
	return h.fpKeyLists(dst, transport, exts)
}

// TestSortExtensions: the bitmap sort gives what slices.Sort gives, for
// random lists of up to maxShapeExtensions types drawn from small, large and
// mixed ranges, with and without repeats.
func TestSortExtensions(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pools := [][]uint16{
		{0, 5, 10, 11, 13, 16, 18, 23, 27, 35, 43, 45, 51, 63, 64, 65, 127, 128, 191, 192, 255},
		{0x0a0a, 0x4469, 0x44cd, 0xfe0d, 0xff01, 256, 0xffff, 300},
	}
	for range 20000 {
		n := r.IntN(maxShapeExtensions + 1)
		list := make([]uint16, 0, n)
		seen := map[uint16]bool{}
		repeats := r.IntN(4) == 0
		for len(list) < n {
			var x uint16
			switch r.IntN(3) {
			case 0:
				x = pools[0][r.IntN(len(pools[0]))]
			case 1:
				x = pools[1][r.IntN(len(pools[1]))]
			default:
				x = uint16(r.IntN(65536))
			}
			if seen[x] && x < 256 && !repeats {
				continue
			}
			seen[x] = true
			list = append(list, x)
		}
		want := slices.Clone(list)
		slices.Sort(want)
		got := slices.Clone(list)
		sortExtensions(got)
		if !slices.Equal(got, want) {
			t.Fatalf("sortExtensions(%v) = %v, want %v", list, got, want)
		}
	}
}

// TestAppendMD5Hex: the hand-written hex of the MD5 equals encoding/hex's.
func TestAppendMD5Hex(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		sum := md5.Sum(b)
		want := "x" + hex.EncodeToString(sum[:])
		if got := string(appendMD5Hex([]byte("x"), b)); got != want {
			t.Fatalf("%x: got %s, want %s", b, got, want)
		}
	}
}
