package tlshello

import (
	"hash/maphash"
	"math/bits"
	"slices"
)

// fpCacheSize is the number of fingerprint cache slots. An office has a few
// dozen distinct TLS stacks (browsers, mail clients, OS services); 1024
// slots hold them all with room for the odd scanner.
const fpCacheSize = 1024

// maxFPKey bounds the key of a cacheable ClientHello. Real hellos give keys
// of 100-300 bytes; a hostile one with thousands of ciphers or extensions
// is fingerprinted without the cache rather than pinning memory.
const maxFPKey = 2048

// fpCache memoises what Fill derives from the fingerprinted fields of a
// ClientHello: the JA3 string, JA3, JA4, JA4_r and copies of the lists. It
// belongs to one ClientHello (one worker), so it needs no locking.
//
// It is direct-mapped: a slot is chosen by the key's hash and a new key
// replaces whatever was there. A hit compares the whole key, so a hash
// collision costs a recomputation, never a wrong fingerprint.
type fpCache struct {
	seed  maphash.Seed
	slots []fpEntry
	key   []byte // scratch for building the key
	// shapes holds the same entries keyed by the stack's shape: the key
	// with the extensions in sorted order. Chrome and its kin permute
	// their extensions on every connection, so their exact keys never
	// repeat; the shape does, and with it JA4, JA4_r and the lists, leaving
	// only JA3 (which hashes the order) to compute. A hello found by shape
	// is not stored by its exact key: one-off orders would evict every
	// other stack from the direct-mapped slots.
	shapes   []fpEntry
	shapeKey []byte
	variant  fpEntry // the entry returned for a hello found by shape
	// borrowed backs the lists FillBorrowed hands out (reused per call).
	borrowed []uint16
	// hits, shapeHits and misses are for tests and benchmarks.
	hits, shapeHits, misses uint64
}

// maxShapeExtensions bounds the extension lists the shape key sorts on the
// stack; a hello with more is keyed exactly only.
const maxShapeExtensions = 64

// fpEntry is one cached fingerprint set. Everything in it is immutable once
// stored: Fill hands the same strings and slices to every observation of
// the same stack.
type fpEntry struct {
	hash uint64
	key  []byte // nil: empty slot

	ja3String, ja3, ja4, ja4r string
	// ja3Ext is where the extension list is in ja3String: a hello found
	// by shape keeps the rest and writes its own order in between.
	ja3Ext [2]int

	alpn                []string
	supportedVersions   []uint16
	cipherSuites        []uint16
	extensions          []uint16
	supportedGroups     []uint16
	signatureAlgorithms []uint16
}

// fpKey appends to dst exactly the inputs of the cached values: the
// transport byte, legacy version, each list with its length, and the ALPN
// values (JA4 uses the first; Fill copies them all). SNI presence for JA4
// is the extension list's business, so it is covered too. GREASE values
// are all written as 0x0a0a: no fingerprint depends on which one a client
// drew (Chrome draws anew per connection), so the strings are shared; the
// lists, which keep the GREASE values, are compared on a hit (see lists).
func (h *ClientHello) fpKey(dst []byte, transport byte) []byte {
	return h.fpKeyLists(dst, transport, h.Extensions)
}

// fpKeyLists is fpKey with exts standing for the extension list.
func (h *ClientHello) fpKeyLists(dst []byte, transport byte, exts []uint16) []byte {
	dst = append(dst, transport, byte(h.LegacyVersion>>8), byte(h.LegacyVersion))
	for _, l := range [...][]uint16{h.CipherSuites, exts, h.SupportedGroups, h.SignatureAlgorithms, h.SupportedVersions} {
		dst = appendLen(dst, len(l))
		for _, v := range l {
			if isGREASE(v) {
				v = 0x0a0a // every fingerprint drops GREASE: one value stands for all
			}
			dst = append(dst, byte(v>>8), byte(v))
		}
	}
	dst = appendLen(dst, len(h.ECPointFormats))
	dst = append(dst, h.ECPointFormats...)
	dst = appendLen(dst, len(h.ALPN))
	for _, a := range h.ALPN {
		dst = appendLen(dst, len(a))
		dst = append(dst, a...)
	}
	return dst
}

// appendLen appends n as a 4-byte big-endian length: keys of different
// list splits can never be equal.
func appendLen(dst []byte, n int) []byte {
	return append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (c *fpCache) hash(key []byte) uint64 { return maphash.Bytes(c.seed, key) }

// fingerprints returns the cached entry for h and transport, computing and
// storing it on a miss. Its lists may hold other GREASE values than h's:
// use lists to read them.
func (h *ClientHello) fingerprints(transport byte) *fpEntry {
	c := h.fp
	if c == nil {
		c = &fpCache{seed: maphash.MakeSeed(), slots: make([]fpEntry, fpCacheSize), shapes: make([]fpEntry, fpCacheSize)}
		h.fp = c
	}
	c.key = h.fpKey(c.key[:0], transport)
	sum := c.hash(c.key)
	slot := &c.slots[sum%fpCacheSize]
	if slot.key != nil && slot.hash == sum && string(slot.key) == string(c.key) {
		c.hits++
		return slot
	}
	var shape *fpEntry
	var ssum uint64
	if len(h.Extensions) <= maxShapeExtensions && len(c.key) <= maxFPKey {
		c.shapeKey = h.shapeKeyFrom(c.shapeKey[:0], c.key)
		ssum = c.hash(c.shapeKey)
		shape = &c.shapes[ssum%fpCacheSize]
		if shape.key != nil && shape.hash == ssum && string(shape.key) == string(c.shapeKey) {
			// The same stack in another extension order: everything but
			// JA3 is the same.
			c.shapeHits++
			v := &c.variant
			*v = *shape
			var buf [1024]byte
			b := append(buf[:0], shape.ja3String[:shape.ja3Ext[0]]...)
			b = appendDecimalList(b, h.Extensions)
			b = append(b, shape.ja3String[shape.ja3Ext[1]:]...)
			n := len(b)
			b = appendMD5Hex(b, b[:n])
			all := string(b)
			v.ja3String, v.ja3 = all[:n], all[n:]
			v.key = nil
			return v
		}
	}
	c.misses++
	e := h.computeFingerprints(transport)
	if len(c.key) <= maxFPKey {
		e.hash = sum
		e.key = slices.Clone(c.key)
		*slot = e
		if shape != nil {
			*shape = e
			shape.hash = ssum
			shape.key = slices.Clone(c.shapeKey)
		}
		return slot
	}
	return &e
}

// shapeKeyFrom appends to dst the shape key made from h's exact key
// (fpKey): the same bytes with the extension section sorted (GREASE
// values are 0x0a0a there already), the key of the stack whatever order
// it sent its extensions in. A copy and a sort, not a second walk of
// every list (fpShapeKey in the tests is that walk, the reference).
func (h *ClientHello) shapeKeyFrom(dst, exact []byte) []byte {
	n := len(dst)
	dst = append(dst, exact...)
	// transport and version, the ciphers with their length, the
	// extensions' length: then the extensions, 2 bytes each.
	start := n + 3 + 4 + 2*len(h.CipherSuites) + 4
	sec := dst[start : start+2*len(h.Extensions)]
	var buf [maxShapeExtensions]uint16
	exts := buf[:len(h.Extensions)]
	for i := range exts {
		exts[i] = uint16(sec[2*i])<<8 | uint16(sec[2*i+1])
	}
	sortExtensions(exts)
	for i, v := range exts {
		sec[2*i], sec[2*i+1] = byte(v>>8), byte(v)
	}
	return dst
}

// sortExtensions sorts a list of at most maxShapeExtensions extension
// types as slices.Sort does, in fewer steps for the usual list: types below
// 256 (most of them) go through a bitmap, the few others (GREASE, ALPS,
// ECH, renegotiation_info) through an insertion sort. A repeated type below
// 256 (an oddity) falls back to slices.Sort.
func sortExtensions(exts []uint16) {
	var low [4]uint64
	var high [maxShapeExtensions]uint16
	nh := 0
	for _, x := range exts {
		if x < 256 {
			b := uint64(1) << (x & 63)
			if low[x>>6]&b != 0 {
				slices.Sort(exts)
				return
			}
			low[x>>6] |= b
			continue
		}
		// Insertion into high[:nh], ascending.
		i := nh
		for ; i > 0 && high[i-1] > x; i-- {
			high[i] = high[i-1]
		}
		high[i] = x
		nh++
	}
	k := 0
	for w, m := range low {
		for ; m != 0; m &= m - 1 {
			exts[k] = uint16(w<<6 + bits.TrailingZeros64(m))
			k++
		}
	}
	copy(exts[k:], high[:nh])
}

// computeFingerprints builds an entry from scratch: one backing array for
// the five lists and one string for the four fingerprints.
func (h *ClientHello) computeFingerprints(transport byte) fpEntry {
	var e fpEntry
	if len(h.ALPN) > 0 {
		e.alpn = slices.Clip(slices.Clone(h.ALPN))
	}
	h.copyLists(&e)

	var buf [2048]byte
	b, es, ee := h.appendJA3Parts(buf[:0])
	e.ja3Ext = [2]int{es, ee}
	i1 := len(b)
	b = appendMD5Hex(b, b[:i1])
	i2 := len(b)
	b = h.AppendJA4R(b, transport)
	i3 := len(b)
	b = appendJA4FromRaw(b, b[i2:i3]) // JA4 hashes the raw form: sort and format once
	all := string(b)
	e.ja3String, e.ja3, e.ja4r, e.ja4 = all[:i1], all[i1:i2], all[i2:i3], all[i3:]
	return e
}

// lists returns e's lists if they equal h's (same GREASE values too), else
// fresh copies of h's, so that an observation always carries its own
// hello's values. With borrow (FillBorrowed) they are always copies, in
// the cache's buffer that the next call overwrites: one memmove per list
// costs less than comparing them element by element.
func (h *ClientHello) lists(e *fpEntry, borrow bool) (versions, ciphers, exts, groups, sigs []uint16) {
	if borrow {
		var c fpEntry
		h.fp.borrowed = h.carveLists(&c, h.fp.borrowed[:0])
		return c.supportedVersions, c.cipherSuites, c.extensions, c.supportedGroups, c.signatureAlgorithms
	}
	if slices.Equal(e.cipherSuites, h.CipherSuites) && slices.Equal(e.extensions, h.Extensions) &&
		slices.Equal(e.supportedGroups, h.SupportedGroups) && slices.Equal(e.supportedVersions, h.SupportedVersions) &&
		slices.Equal(e.signatureAlgorithms, h.SignatureAlgorithms) {
		return e.supportedVersions, e.cipherSuites, e.extensions, e.supportedGroups, e.signatureAlgorithms
	}
	var c fpEntry
	h.copyLists(&c)
	return c.supportedVersions, c.cipherSuites, c.extensions, c.supportedGroups, c.signatureAlgorithms
}

// copyLists copies h's five lists into e, in one new backing array.
func (h *ClientHello) copyLists(e *fpEntry) { h.carveLists(e, nil) }

// carveLists copies h's five lists into e, appending them to backing
// (which it returns, grown if it had to be).
func (h *ClientHello) carveLists(e *fpEntry, backing []uint16) []uint16 {
	n := len(h.SupportedVersions) + len(h.CipherSuites) + len(h.Extensions) + len(h.SupportedGroups) + len(h.SignatureAlgorithms)
	backing = slices.Grow(backing, n)
	carve := func(v []uint16) []uint16 {
		start := len(backing)
		backing = append(backing, v...)
		// Capacity capped: an append by a consumer copies instead of
		// writing into the next list.
		return backing[start:len(backing):len(backing)]
	}
	e.supportedVersions = carve(h.SupportedVersions)
	e.cipherSuites = carve(h.CipherSuites)
	e.extensions = carve(h.Extensions)
	e.supportedGroups = carve(h.SupportedGroups)
	e.signatureAlgorithms = carve(h.SignatureAlgorithms)
	return backing
}
