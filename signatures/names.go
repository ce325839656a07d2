package signatures

import "strings"

// nameIndex finds the most specific name pattern for a DNS name without
// scanning patterns: exact names in a map, wildcard patterns bucketed by
// their fixed suffix (the labels after the last wildcard), so a lookup costs
// one map probe per label of the name.
type nameIndex struct {
	exact map[string]int32
	wild  map[string][]int32 // fixed suffix -> entries
}

func (ix *nameIndex) add(entries []Entry, i int32) {
	p := entries[i].Pattern
	if !strings.Contains(p, "*") {
		if ix.exact == nil {
			ix.exact = make(map[string]int32)
		}
		ix.exact[p] = i
		return
	}
	if ix.wild == nil {
		ix.wild = make(map[string][]int32)
	}
	key := wildKey(p)
	ix.wild[key] = append(ix.wild[key], i)
}

// wildKey is the part of a wildcard pattern after the label holding the
// last "*" ("push.apple.com" for "*-courier.push.apple.com").
func wildKey(p string) string {
	star := strings.LastIndexByte(p, '*')
	dot := strings.IndexByte(p[star:], '.')
	return p[star+dot+1:]
}

// lookup returns the entry index for name, or -1. name must be lower-case
// without a final dot. An exact pattern beats any wildcard; a longer fixed
// suffix beats a shorter one; within a bucket the pattern with the most
// literal characters wins.
func (ix *nameIndex) lookup(entries []Entry, name string) int32 {
	if i, ok := ix.exact[name]; ok {
		return i
	}
	if len(ix.wild) == 0 {
		return -1
	}
	for off := strings.IndexByte(name, '.'); off >= 0; {
		suffix := name[off+1:]
		if cands, ok := ix.wild[suffix]; ok {
			best, bestLit := int32(-1), -1
			for _, c := range cands {
				p := entries[c].Pattern
				if lit := len(p) - strings.Count(p, "*"); lit > bestLit && globName(p, name) {
					best, bestLit = c, lit
				}
			}
			if best >= 0 {
				return best
			}
		}
		next := strings.IndexByte(suffix, '.')
		if next < 0 {
			break
		}
		off += next + 1
	}
	return -1
}

// globName matches a name against a pattern label by label: "*" matches
// one or more characters within a label; a leading "**." one or more labels.
func globName(p, name string) bool {
	if strings.HasPrefix(p, "**.") {
		rest := p[2:] // ".example.com"
		return len(name) > len(rest) && strings.HasSuffix(name, rest)
	}
	for {
		pi := strings.IndexByte(p, '.')
		ni := strings.IndexByte(name, '.')
		if pi < 0 || ni < 0 {
			if pi >= 0 || ni >= 0 {
				return false // label counts differ
			}
			return globLabel(p, name)
		}
		if !globLabel(p[:pi], name[:ni]) {
			return false
		}
		p, name = p[pi+1:], name[ni+1:]
	}
}

// globLabel matches one label; "*" matches one or more characters.
// Labels are at most 63 bytes, so backtracking stays cheap.
func globLabel(p, s string) bool {
	for len(p) > 0 {
		if p[0] == '*' {
			p = p[1:]
			for i := 1; i <= len(s); i++ {
				if globLabel(p, s[i:]) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 || s[0] != p[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// normalizeName lower-cases a name and drops a final dot. It allocates only
// when the name needs changing, which DNS names from capture never do
// (capture lower-cases them); SNI and HTTP Host may.
func normalizeName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
