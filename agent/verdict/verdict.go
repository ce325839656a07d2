// Package verdict owns the per-host Apple verdict: evidence from the
// signature matcher is summed as log-odds on top of a configurable prior,
// with diminishing returns per signature (each distinct detail of one
// signature adds half as much as the previous one, so at most twice its
// weight) and a cap per signal kind and direction (fifty Apple names from one
// browser tab are one signal, not fifty). Evidence for another platform
// (Windows, Android, Linux, ChromeOS, a cross-platform browser) counts
// against Apple.
//
// The result is Apple yes/no, a confidence (the sigmoid of the log-odds), the
// OS family where the evidence tells it, the model where mDNS names it, the
// bounded and deduplicated evidence list, and the signature file versions
// used. It imports signatures (for Evidence) and nothing else of the project;
// it has no errors.
package verdict

import (
	"math"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/orchard-nsm/orchard/signatures"
)

// Params tune the verdict; build them from config.Verdict.
type Params struct {
	Prior       float64            // probability before evidence, 0..1 exclusive
	Threshold   float64            // confidence at or above which a host is Apple
	KindCaps    map[string]float64 // per kind cap of |log-odds| in each direction
	DefaultCap  float64
	MaxEvidence int
	// Repeat is the factor each further distinct detail of one signature
	// is worth relative to the previous one; 0.5 unless set.
	Repeat float64
}

func (p *Params) capFor(kind string) float64 {
	if c, ok := p.KindCaps[kind]; ok {
		return c
	}
	return p.DefaultCap
}

// Item is one deduplicated evidence entry of a host: the first time it was
// seen, how often, and when last.
type Item struct {
	signatures.Evidence
	Count int
	Last  time.Time
	key   uint64 // detailKey(Detail)
}

// maxDetails bounds the distinct details tracked per signature; beyond it a
// signature's contribution is already within 1% of its limit.
const maxDetails = 8

type sigState struct {
	// Repeats are the common case (the same JA4, SYN shape or name from
	// the same host): the last detail seen, its key, the item it went to
	// (plus one; 0 unknown, -1 not kept) and the last set name spare the
	// hash and the scans. A repeat of the last detail is counted here
	// (pend, and pendLast in Unix nanoseconds) and folded into its item
	// when the detail changes or Result reads the items, so it touches
	// only this first cache line of the state.
	lastDetail string
	lastKey    uint64
	lastItem   int32
	pend       int32
	pendLast   int64
	lastSet    string
	llr        float64 // log-likelihood ratio for Apple of one occurrence

	id      string
	kind    string
	n       int
	contrib float64
	details [maxDetails]uint64
	_       [16]byte // 192 bytes: three whole cache lines
}

type itemIdx struct {
	key   uint64
	absW  float64 // |Weight|
	sig   int     // index in sigs
	count int     // Item.Count, filled in by Result
	last  time.Time
}

type kindSum struct {
	kind     string
	pos, neg float64
}

// Accumulator is one host's verdict state. The zero value is ready.
type Accumulator struct {
	sigs  []sigState
	ids   []string // sigs[i].id: the lookup reads 16 bytes a signature
	items []Item
	// idx parallels items with what the scans of addItem read: a key
	// match or the weakest entry is found in a few cache lines instead
	// of striding over whole items.
	idx []itemIdx
	// slots is an open-addressing table over idx (item index plus one,
	// 0 empty; at most half full) keyed by detail key and signature: a
	// new detail, the common case for flows, is known new in a probe or
	// two. weakest is the index of the first weakest item.
	slots    []int32
	weakest  int
	sets     []string
	model    string
	modelOS  string
	os       [3]float64                   // iOS, iPadOS, macOS
	other    [len(otherPlatforms)]float64 // counter-evidence per other platform
	logOdds  float64
	hasApple bool // at least one Apple-favouring signature
	apple    bool
	since    time.Time // when the verdict last became Apple
	last     time.Time // latest Apple-favouring evidence
}

// Apple reports the current verdict.
func (a *Accumulator) Apple() bool { return a.apple }

// Confidence is the probability the host is Apple.
func (a *Accumulator) Confidence(p *Params) float64 {
	if len(a.sigs) == 0 {
		return p.Prior
	}
	return sigmoid(a.logOdds)
}

// AppleSince is when the verdict last turned Apple (zero if it is not).
func (a *Accumulator) AppleSince() time.Time { return a.since }

// LastApple is the time of the latest Apple-favouring evidence.
func (a *Accumulator) LastApple() time.Time { return a.last }

// Evidence is the number of evidence items kept.
func (a *Accumulator) Evidence() int { return len(a.items) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// appleLLR is the evidence weight turned toward Apple.
func appleLLR(e *signatures.Evidence) float64 {
	if signatures.IsApple(e.Platform) {
		return e.Weight
	}
	return -e.Weight
}

// namePrefixes are how the matcher says where a name was seen; one name
// seen in a DNS query, its answer and a TLS SNI is one sighting, not three.
var namePrefixes = [...]string{"dns query ", "dns response ", "tls sni ", "quic sni ", "http host "}

// detailKey hashes a detail without its name prefix.
func detailKey(d string) uint64 {
	for _, p := range namePrefixes {
		if r, ok := strings.CutPrefix(d, p); ok {
			d = r
			break
		}
	}
	// FNV-1a: cheap, no allocation.
	h := uint64(14695981039346656037)
	for i := 0; i < len(d); i++ {
		h ^= uint64(d[i])
		h *= 1099511628211
	}
	return h
}

// Add folds one piece of evidence in. It reports whether the verdict's
// Apple/not-Apple outcome changed.
func (a *Accumulator) Add(e *signatures.Evidence, p *Params) (changed bool) {
	llr := appleLLR(e)
	si := a.sig(e.SignatureID, e.Kind, llr)
	s := &a.sigs[si]
	var dk uint64
	repeat := s.lastItem != 0 && e.Detail == s.lastDetail
	if repeat {
		dk = s.lastKey
	} else {
		dk = detailKey(e.Detail)
		a.flush(s)
		s.lastDetail, s.lastKey, s.lastItem = e.Detail, dk, -1
	}
	a.addItem(si, s, e, dk, p)
	if e.Model != "" {
		a.model, a.modelOS = e.Model, e.Platform
	}
	if e.Set != "" && e.Set != s.lastSet {
		a.addSet(e.Set)
		s.lastSet = e.Set
	}
	if llr > 0 {
		switch e.Platform {
		case signatures.PlatformAppleIOS:
			a.os[0] += llr
		case signatures.PlatformAppleIPadOS:
			a.os[1] += llr
		case signatures.PlatformAppleMacOS:
			a.os[2] += llr
		}
		a.hasApple = true
		if e.Time.After(a.last) {
			a.last = e.Time
		}
	} else if llr < 0 && !signatures.IsApple(e.Platform) {
		for i, p := range otherPlatforms {
			if p.platform == e.Platform {
				a.other[i] -= llr
			}
		}
	}

	// The last detail again was added to details when it was new (or
	// details were full): nothing new, known without the walk.
	if repeat {
		return false
	}
	for i := 0; i < s.n; i++ {
		if s.details[i] == dk {
			return false // same signature, same detail: nothing new
		}
	}
	if s.n == maxDetails {
		return false
	}
	s.details[s.n] = dk
	s.n++
	r := p.Repeat
	if r <= 0 || r >= 1 {
		r = 0.5
	}
	// Geometric series: llr * (1 + r + ... + r^(n-1)).
	s.contrib = s.llr * (1 - math.Pow(r, float64(s.n))) / (1 - r)

	was := a.apple
	a.logOdds = a.sum(p)
	a.apple = a.hasApple && sigmoid(a.logOdds) >= p.Threshold
	switch {
	case a.apple && !was:
		a.since = e.Time
	case !a.apple:
		a.since = time.Time{}
	}
	return a.apple != was
}

// Recompute re-evaluates the verdict under new parameters (config reload).
func (a *Accumulator) Recompute(p *Params, now time.Time) {
	was := a.apple
	a.logOdds = a.sum(p)
	a.apple = a.hasApple && sigmoid(a.logOdds) >= p.Threshold
	if a.apple && !was {
		a.since = now
	} else if !a.apple {
		a.since = time.Time{}
	}
}

// sig returns the index of signature id's state. A new one has lastItem
// 0, which Add reads as "no detail seen yet" (item indexes are stored plus
// one).
func (a *Accumulator) sig(id, kind string, llr float64) int {
	// Signature ids come from the loaded set's entries, so a known one
	// is nearly always the very same string: compare pointers first.
	p := unsafe.StringData(id)
	for i, x := range a.ids {
		if unsafe.StringData(x) == p && len(x) == len(id) {
			return i
		}
	}
	for i, x := range a.ids {
		if x == id {
			return i
		}
	}
	a.sigs = append(a.sigs, sigState{id: id, kind: kind, llr: llr})
	a.ids = append(a.ids, id)
	return len(a.sigs) - 1
}

func (a *Accumulator) sum(p *Params) float64 {
	// Kinds are few (about a dozen): sum on the stack, not per host.
	var buf [24]kindSum
	kinds := buf[:0]
	for i := range a.sigs {
		s := &a.sigs[i]
		j := 0
		for ; j < len(kinds) && kinds[j].kind != s.kind; j++ {
		}
		if j == len(kinds) {
			kinds = append(kinds, kindSum{kind: s.kind})
		}
		if s.contrib > 0 {
			kinds[j].pos += s.contrib
		} else {
			kinds[j].neg -= s.contrib
		}
	}
	lo := logit(p.Prior)
	for _, k := range kinds {
		c := p.capFor(k.kind)
		lo += math.Min(k.pos, c) - math.Min(k.neg, c)
	}
	return lo
}

// flush folds s's pending repeats into its last item.
func (a *Accumulator) flush(s *sigState) {
	if s.pend == 0 {
		return
	}
	if j := int(s.lastItem) - 1; j >= 0 {
		x := &a.idx[j]
		x.count += int(s.pend)
		if t := time.Unix(0, s.pendLast).UTC(); t.After(x.last) {
			x.last = t
		}
	}
	s.pend, s.pendLast = 0, 0
}

// flushAll folds every signature's pending repeats into the items.
func (a *Accumulator) flushAll() {
	for i := range a.sigs {
		a.flush(&a.sigs[i])
	}
}

// addItem counts e in its item, or adds one. s.lastItem caches, plus one,
// the index of the item of s.lastKey (0: unknown, -1: not kept). It is
// always right: an item replaced when the list is full clears the
// lastItem pointing to it. A hit is counted in s (see sigState).
// Counts and last times live in idx (Result copies them into the items).
func (a *Accumulator) addItem(si int, s *sigState, e *signatures.Evidence, dk uint64, p *Params) {
	if s.lastItem > 0 {
		// pendLast holds Unix nanoseconds (years 1678 to 2262); a time
		// outside, and a full pend, go to the item at once.
		if sec := e.Time.Unix(); sec > -9e9 && sec < 9e9 && s.pend < math.MaxInt32 {
			t := e.Time.UnixNano()
			if s.pend++; s.pend == 1 || t > s.pendLast {
				s.pendLast = t
			}
			return
		}
		a.flush(s)
		x := &a.idx[s.lastItem-1]
		x.count++
		if e.Time.After(x.last) {
			x.last = e.Time
		}
		return
	}
	if i := a.find(dk, si); i >= 0 {
		x := &a.idx[i]
		x.count++
		if e.Time.After(x.last) {
			x.last = e.Time
		}
		s.lastItem = int32(i + 1)
		return
	}
	max := p.MaxEvidence
	if max <= 0 {
		max = 32
	}
	it := Item{Evidence: *e, key: dk}
	ix := itemIdx{key: dk, absW: math.Abs(e.Weight), sig: si, count: 1, last: e.Time}
	if len(a.items) < max {
		a.items = append(a.items, it)
		a.idx = append(a.idx, ix)
		n := len(a.idx) - 1
		if n == 0 || ix.absW < a.idx[a.weakest].absW {
			a.weakest = n
		}
		if 2*len(a.idx) > len(a.slots) {
			a.rehash(max)
		} else {
			a.insert(n)
		}
		s.lastItem = int32(len(a.items))
		return
	}
	// Full: keep the strongest; replace the weakest if the new one is stronger.
	if w := a.weakest; ix.absW > a.idx[w].absW {
		// The item goes: so do the repeats pending for it, and the
		// pointer to it.
		if old := &a.sigs[a.idx[w].sig]; int(old.lastItem) == w+1 {
			old.lastItem, old.pend, old.pendLast = 0, 0, 0
		}
		a.items[w] = it
		a.idx[w] = ix
		s.lastItem = int32(w + 1)
		a.rehash(max)
		a.weakest = 0
		for i := range a.idx {
			if a.idx[i].absW < a.idx[a.weakest].absW {
				a.weakest = i
			}
		}
	}
}

func slotHash(dk uint64, si int) uint64 {
	return (dk ^ uint64(si)*0x9e3779b97f4a7c15) * 0xff51afd7ed558ccd
}

// find returns the index of the item of (dk, si), or -1.
func (a *Accumulator) find(dk uint64, si int) int {
	if len(a.slots) == 0 {
		return -1
	}
	mask := uint64(len(a.slots) - 1)
	for h := slotHash(dk, si) >> 32 & mask; ; h = (h + 1) & mask {
		v := int(a.slots[h]) - 1
		if v < 0 {
			return -1
		}
		if x := &a.idx[v]; x.key == dk && x.sig == si {
			return v
		}
	}
}

func (a *Accumulator) insert(i int) {
	mask := uint64(len(a.slots) - 1)
	h := slotHash(a.idx[i].key, a.idx[i].sig) >> 32 & mask
	for a.slots[h] != 0 {
		h = (h + 1) & mask
	}
	a.slots[h] = int32(i + 1)
}

// rehash rebuilds slots for max items (or as many as there are).
func (a *Accumulator) rehash(max int) {
	n := 16
	for n < 2*max || n < 2*len(a.idx) {
		n *= 2
	}
	if len(a.slots) != n {
		a.slots = make([]int32, n)
	} else {
		clear(a.slots)
	}
	for i := range a.idx {
		a.insert(i)
	}
}

func (a *Accumulator) addSet(s string) {
	for _, x := range a.sets {
		if x == s {
			return
		}
	}
	if len(a.sets) < 16 {
		a.sets = append(a.sets, s)
	}
}

// Result is a verdict as reported.
type Result struct {
	Apple      bool
	Confidence float64
	LogOdds    float64
	OS         string // "iOS", "iPadOS", "macOS"; for non-Apple hosts the leading other platform ("Windows", ...); "" if unknown
	Model      string
	Evidence   []Item   // in time order
	Signatures []string // "file@version", sorted
	AppleSince time.Time
	LastApple  time.Time
}

// Result returns the verdict with copies of the evidence list.
func (a *Accumulator) Result(p *Params) Result {
	a.flushAll()
	r := Result{
		Apple:      a.apple,
		Confidence: a.Confidence(p),
		LogOdds:    a.logOdds,
		Model:      a.model,
		Evidence:   append([]Item(nil), a.items...),
		Signatures: append([]string(nil), a.sets...),
		AppleSince: a.since,
		LastApple:  a.last,
	}
	for i := range r.Evidence {
		r.Evidence[i].Count, r.Evidence[i].Last = a.idx[i].count, a.idx[i].last
	}
	if len(a.sigs) == 0 {
		r.LogOdds = logit(p.Prior)
	}
	sort.SliceStable(r.Evidence, func(i, j int) bool { return r.Evidence[i].Time.Before(r.Evidence[j].Time) })
	sort.Strings(r.Signatures)
	r.OS = a.osFamily()
	return r
}

var osNames = [3]string{"iOS", "iPadOS", "macOS"}

var otherPlatforms = [...]struct{ platform, name string }{
	{signatures.PlatformWindows, "Windows"},
	{signatures.PlatformAndroid, "Android"},
	{signatures.PlatformLinux, "Linux"},
	{signatures.PlatformChromeOS, "ChromeOS"},
}

func (a *Accumulator) osFamily() string {
	if !a.apple {
		best, bw := "", 0.0
		for i, w := range a.other {
			if w > bw {
				best, bw = otherPlatforms[i].name, w
			}
		}
		return best
	}
	switch a.modelOS {
	case signatures.PlatformAppleIOS:
		return "iOS"
	case signatures.PlatformAppleIPadOS:
		return "iPadOS"
	case signatures.PlatformAppleMacOS:
		return "macOS"
	}
	// The strongest family wins only if clearly ahead: iOS and iPadOS
	// share most behaviour.
	b, s := -1, -1
	for i, w := range a.os {
		if w <= 0 {
			continue
		}
		if b < 0 || w > a.os[b] {
			b, s = i, b
		} else if s < 0 || w > a.os[s] {
			s = i
		}
	}
	if b < 0 {
		return ""
	}
	if s >= 0 && a.os[b] < 2*a.os[s] {
		if b != 2 && s != 2 {
			return "iOS/iPadOS" // they share most behaviour: say so rather than guess
		}
		return ""
	}
	return osNames[b]
}
