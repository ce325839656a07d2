package tcpfp

// cacheMax bounds each of a Cache's maps. SYN shapes on a network are few
// (one per OS version and stack setting); a flood of crafted shapes only
// makes the cache start over.
const cacheMax = 1024

// Cache remembers the strings and quirk lists of SYN shapes already seen,
// so that fingerprinting a known shape allocates nothing. It is for one
// worker: not safe for concurrent use. The zero value is ready.
//
// TCPSyn values from the same Cache share their strings and Quirks
// slices; the slices are read-only (capacity capped, so an append copies).
type Cache struct {
	strs   map[string]string
	qlists map[quirk][]string
}

// str returns b as a string, reusing an earlier one with the same bytes
// and the same cut points (so two shapes can never share a string whose
// parts are split differently).
func (c *Cache) str(b []byte, cuts ...int) string {
	if c == nil {
		return string(b)
	}
	n := len(b)
	for _, x := range cuts {
		b = append(b, byte(x>>8), byte(x))
	}
	if s, ok := c.strs[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if c.strs == nil {
		c.strs = make(map[string]string)
	} else if len(c.strs) >= cacheMax {
		clear(c.strs)
	}
	key := string(b)
	s := key[:n]
	c.strs[key] = s
	return s
}

func (c *Cache) quirks(q quirk) []string {
	if c == nil || q == 0 {
		return quirkList(q)
	}
	if l, ok := c.qlists[q]; ok {
		return l
	}
	if c.qlists == nil {
		c.qlists = make(map[quirk][]string)
	} else if len(c.qlists) >= cacheMax {
		clear(c.qlists)
	}
	l := quirkList(q)
	l = l[:len(l):len(l)]
	c.qlists[q] = l
	return l
}
