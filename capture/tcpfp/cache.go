package tcpfp

import "github.com/orchard-nsm/orchard/capture/observe"

// cacheMax bounds a Cache. SYN shapes on a network are few (one per OS
// version and stack setting); a flood of crafted shapes only makes the
// cache start over.
const cacheMax = 1024

// Cache remembers the fingerprints of SYN shapes already seen, so that
// fingerprinting a known shape formats nothing and allocates nothing. It
// is for one worker: not safe for concurrent use. The zero value is ready.
//
// TCPSyn values from the same Cache share their strings and Quirks
// slices; the slices are read-only (capacity capped, so an append copies).
type Cache struct {
	syns map[string]observe.TCPSyn // by shapeKey; TTL not meaningful
	key  []byte
}

// shapeKey returns the bytes every part of a TCPSyn but the observed TTL
// derives from: the header facts already decoded (version, initial TTL,
// IP option length, header lengths, window, quirk set, MSS, window scale,
// whether the timestamp is non-zero, payload class) and the option bytes
// with timestamp values zeroed. Timestamp values differ in every SYN;
// what they mean (ts1-, ts2+, opt+ after EOL, the MSS-12 window rule) is
// in the quirk set and the ts1 flag, and the option walkers read only
// kinds and lengths, which zeroing leaves alone.
func (c *Cache) shapeKey(s *observe.TCPSyn, q quirk, o options, totHdr int, hasPayload bool, opts []byte) []byte {
	var ts1, pl byte
	if o.ts1 != 0 {
		ts1 = 1
	}
	if hasPayload {
		pl = 1
	}
	var hasMSS byte
	if o.hasMSS {
		hasMSS = 1
	}
	k := append(c.key[:0], s.IPVersion, s.InitialTTL, s.IPOptionLen, byte(totHdr>>8), byte(totHdr),
		byte(s.Window>>8), byte(s.Window), byte(q>>24), byte(q>>16), byte(q>>8), byte(q),
		byte(o.mss>>8), byte(o.mss), hasMSS, byte(o.ws), ts1, pl)
	start := len(k)
	k = append(k, opts...)
	maskTimestamps(k[start:])
	c.key = k
	return k
}

// maskTimestamps zeroes the 8 value bytes of every well-formed timestamp
// option, walking the options as appendJA4TKinds does (the walker that
// goes furthest: on past EOL).
func maskTimestamps(opts []byte) {
	for i := 0; i < len(opts); {
		kind := opts[i]
		i++
		if kind == optEOL || kind == optNOP {
			continue
		}
		if i >= len(opts) {
			return
		}
		l := int(opts[i])
		if l < 2 || i+l-1 > len(opts) {
			return
		}
		if kind == optTS && l == 10 {
			clear(opts[i+1 : i+9])
		}
		i += l - 1
	}
}

// put remembers s under key (nil key or nil c: nothing).
func (c *Cache) put(key []byte, s observe.TCPSyn) {
	if c == nil || key == nil {
		return
	}
	if c.syns == nil {
		c.syns = make(map[string]observe.TCPSyn)
	} else if len(c.syns) >= cacheMax {
		clear(c.syns)
	}
	c.syns[string(key)] = s
}
