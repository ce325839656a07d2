package tcpfp

import (
	"reflect"
	"testing"
)

// TestCacheSameAsUncached runs many SYN shapes (and repeats of them)
// through one Cache: every result equals the uncached one, including the
// observed TTL and timestamps that vary between SYNs of one shape.
func TestCacheSameAsUncached(t *testing.T) {
	var c Cache
	check := func(name string, ip, tcp []byte) {
		t.Helper()
		want, werr := Fingerprint(ip, tcp)
		got, gerr := c.Fingerprint(ip, tcp)
		if !sameErr(gerr, werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v %v\nwant %+v %v", name, got, gerr, want, werr)
		}
	}
	for round := range 3 {
		for ttl := 30; ttl < 260; ttl += 7 {
			for _, flags := range []byte{flagSYN, flagSYN | flagECE | flagCWR, flagSYN | flagPSH} {
				ip, tcp := macSYN()
				ip[8] = byte(ttl)
				tcp[13] = flags
				tcp[32+round] = byte(ttl) // timestamp value: not part of the shape
				check("ttl/flags", ip, tcp)
				tcp[14], tcp[15] = 0x16, 0xd0 // 5840 = 4*1460: mss multiple
				check("window", ip, tcp)
				tcp[36], tcp[37], tcp[38], tcp[39] = 0, 0, 0, byte(round) // ts2 non-zero or not
				check("ts2", ip, tcp)
				tcp[32], tcp[33], tcp[34], tcp[35] = 0, 0, 0, 0 // ts1 zero: quirk and mss-12 rule
				check("ts1", ip, tcp)
				tcp[43] = byte(round) // after EOL: opt+ or not
				check("after eol", ip, tcp)
				ip[6] = 0
				check("no DF", ip, tcp)
			}
		}
	}
	// Bounded: a flood of distinct shapes restarts the cache.
	ip, tcp := macSYN()
	for w := range 3 * cacheMax {
		tcp[14], tcp[15] = byte(w>>8), byte(w)
		check("flood", ip, tcp)
	}
	if len(c.syns) > cacheMax {
		t.Errorf("cache grew to %d shapes", len(c.syns))
	}
}

func TestCacheAllocs(t *testing.T) {
	var c Cache
	ip, tcp := macSYN()
	if _, err := c.Fingerprint(ip, tcp); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(200, func() {
		tcp[35]++ // a new timestamp: same shape
		ip[8]--   // TTL 64 counting down: same bucket
		if ip[8] < 33 {
			ip[8] = 64
		}
		_, _ = c.Fingerprint(ip, tcp)
	})
	if n != 0 {
		t.Errorf("%v allocations for a repeated SYN shape, want 0", n)
	}
	s1, _ := c.Fingerprint(ip, tcp)
	_ = append(s1.Quirks, "x")
	s2, _ := c.Fingerprint(ip, tcp)
	if !reflect.DeepEqual(s1.Quirks, s2.Quirks) {
		t.Error("an append to a cached quirk list changed the next result")
	}
}

func sameErr(a, b error) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Error() == b.Error())
}

// fuzzCache persists across fuzz inputs, so that inputs differing only in
// bytes outside the shape (timestamps, TTL) meet an entry made by another.
var fuzzCache Cache

func FuzzCacheSameAsUncached(f *testing.F) {
	ip, tcp := macSYN()
	f.Add(ip, tcp)
	ip6 := make([]byte, 40)
	ip6[0] = 0x60
	f.Add(ip6, tcp)
	odd := append([]byte(nil), tcp...)
	odd[41] = 0 // after EOL: a timestamp-looking tail
	f.Add(ip, append(odd[:42:42], 8, 10, 1, 2, 3, 4, 5, 6, 7, 8))
	f.Fuzz(func(t *testing.T, ip, tcp []byte) {
		want, werr := Fingerprint(ip, tcp)
		for range 2 { // the first may fill the cache, the second must hit
			got, gerr := fuzzCache.Fingerprint(ip, tcp)
			if !sameErr(gerr, werr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("cached\n got %+v %v\nwant %+v %v", got, gerr, want, werr)
			}
		}
	})
}

func BenchmarkCacheFingerprint(b *testing.B) {
	var c Cache
	ip, tcp := macSYN()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Fingerprint(ip, tcp); err != nil {
			b.Fatal(err)
		}
	}
}
