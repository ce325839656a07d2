package tcpfp

import (
	"errors"
	"strconv"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Sentinel errors; wrapped with detail, test with errors.Is.
var (
	ErrTruncated = errors.New("tcpfp: truncated header")
	ErrMalformed = errors.New("tcpfp: malformed header")
	ErrNotSYN    = errors.New("tcpfp: not a SYN (SYN clear or ACK set)")
)

// Quirk names, p0f's where p0f has one. The order is p0f's output order;
// the extras ("ece-cwr", "ae") follow.
const (
	QuirkDF     = "df"     // IPv4 don't-fragment set
	QuirkIDPlus = "id+"    // DF set but IPv4 ID non-zero
	QuirkIDMin  = "id-"    // DF clear but IPv4 ID zero
	QuirkECN    = "ecn"    // ECN in the IP header (ECT/CE) or in the TCP flags (ECE/CWR)
	QuirkZero   = "0+"     // IPv4 reserved ("evil") bit set
	QuirkFlow   = "flow"   // IPv6 flow label non-zero
	QuirkSeqMin = "seq-"   // sequence number zero
	QuirkAckPl  = "ack+"   // ACK clear but acknowledgement number non-zero
	QuirkAckMin = "ack-"   // ACK set but acknowledgement number zero (never on a SYN we accept)
	QuirkUptr   = "uptr+"  // URG clear but urgent pointer non-zero
	QuirkUrgf   = "urgf+"  // URG set
	QuirkPushf  = "pushf+" // PSH set
	QuirkTS1Min = "ts1-"   // own timestamp zero
	QuirkTS2Pl  = "ts2+"   // peer timestamp non-zero on a SYN
	QuirkOptPl  = "opt+"   // non-zero bytes after EOL
	QuirkExws   = "exws"   // window scale above 14
	QuirkBad    = "bad"    // malformed options
	// Not p0f: ECE and CWR both set, the ECN-setup SYN of RFC 3168 (and,
	// with AE, AccECN) that current Apple stacks send. p0f folds it into "ecn".
	QuirkECECWR = "ece-cwr"
	// Not p0f: the AE (formerly NS) flag, set in AccECN setup SYNs.
	QuirkAE = "ae"
)

type quirk uint32

const (
	qDF quirk = 1 << iota
	qIDPlus
	qIDMin
	qECN
	qZero
	qFlow
	qSeqMin
	qAckPl
	qAckMin
	qUptr
	qUrgf
	qPushf
	qTS1Min
	qTS2Pl
	qOptPl
	qExws
	qBad
	qECECWR
	qAE
	numQuirks = iota
)

var quirkNames = [numQuirks]string{QuirkDF, QuirkIDPlus, QuirkIDMin, QuirkECN, QuirkZero, QuirkFlow,
	QuirkSeqMin, QuirkAckPl, QuirkAckMin, QuirkUptr, QuirkUrgf, QuirkPushf, QuirkTS1Min, QuirkTS2Pl,
	QuirkOptPl, QuirkExws, QuirkBad, QuirkECECWR, QuirkAE}

// p0fQuirks are the quirks p0f itself prints; the extras stay out of the
// signature string so it remains comparable with p0f.
const p0fQuirks = qECECWR - 1

// TCP flags (byte 13) and the AE bit (low bit of byte 12).
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
	flagURG = 0x20
	flagECE = 0x40
	flagCWR = 0x80
)

// TCP option kinds.
const (
	optEOL    = 0
	optNOP    = 1
	optMSS    = 2
	optWS     = 3
	optSACKOK = 4
	optSACK   = 5
	optTS     = 8
)

// The header sizes p0f uses to recognise a window that is a multiple of an
// MTU-derived MSS.
const (
	minTCP4 = 40 // IPv4 + TCP headers without options
	minTCP6 = 60 // IPv6 + TCP headers without options
)

// Fingerprint fingerprints a TCP SYN. ip is the IP header from the version
// nibble: the whole IPv4 header with options, or the 40-byte IPv6 fixed
// header (extension headers are not needed). tcp is the TCP segment from
// its header: at least the header with options; payload bytes may follow.
//
// The payload class is "+" when tcp holds bytes beyond the header, or when
// the IP length fields say there are some (IPv4 total length; IPv6 payload
// length when the next header is TCP).
func Fingerprint(ip, tcp []byte) (observe.TCPSyn, error) {
	return (*Cache)(nil).Fingerprint(ip, tcp)
}

// Fingerprint is the package's Fingerprint, with the strings and quirk
// list of SYN shapes seen before taken from c instead of allocated. A nil
// c caches nothing.
func (c *Cache) Fingerprint(ip, tcp []byte) (observe.TCPSyn, error) {
	var s observe.TCPSyn
	var q quirk
	var ipHdrLen, payload int
	if len(ip) < 1 {
		return s, ErrTruncated
	}
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return s, wrap(ErrTruncated, "IPv4 header", len(ip), 20)
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 {
			return s, wrap(ErrMalformed, "IPv4 IHL", ihl, 20)
		}
		if len(ip) < ihl {
			return s, wrap(ErrTruncated, "IPv4 header with options", len(ip), ihl)
		}
		s.IPVersion = 4
		s.TTL = ip[8]
		s.IPOptionLen = uint8(ihl - 20)
		ipHdrLen = ihl
		id := uint16(ip[4])<<8 | uint16(ip[5])
		if ip[6]&0x40 != 0 {
			q |= qDF
			if id != 0 {
				q |= qIDPlus
			}
		} else if id == 0 {
			q |= qIDMin
		}
		if ip[1]&0x03 != 0 {
			q |= qECN
		}
		if ip[6]&0x80 != 0 {
			q |= qZero
		}
		total := int(ip[2])<<8 | int(ip[3])
		payload = total - ihl // minus the TCP header below
	case 6:
		if len(ip) < 40 {
			return s, wrap(ErrTruncated, "IPv6 header", len(ip), 40)
		}
		s.IPVersion = 6
		s.TTL = ip[7]
		ipHdrLen = 40
		if (ip[1]>>4)&0x03 != 0 { // low two bits of the traffic class
			q |= qECN
		}
		if ip[1]&0x0f != 0 || ip[2] != 0 || ip[3] != 0 {
			q |= qFlow
		}
		if ip[6] == 6 { // no extension headers: the length is TCP's alone
			payload = int(ip[4])<<8 | int(ip[5])
		}
	default:
		return s, wrap(ErrMalformed, "IP version", int(ip[0]>>4), 0)
	}

	if len(tcp) < 20 {
		return s, wrap(ErrTruncated, "TCP header", len(tcp), 20)
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 {
		return s, wrap(ErrMalformed, "TCP data offset", doff, 20)
	}
	if len(tcp) < doff {
		return s, wrap(ErrTruncated, "TCP header with options", len(tcp), doff)
	}
	flags := tcp[13]
	if flags&flagSYN == 0 || flags&flagACK != 0 {
		return s, ErrNotSYN
	}
	payload -= doff
	hasPayload := len(tcp) > doff || payload > 0

	s.InitialTTL = initialTTL(s.TTL)
	s.Window = uint16(tcp[14])<<8 | uint16(tcp[15])
	seq := uint32(tcp[4])<<24 | uint32(tcp[5])<<16 | uint32(tcp[6])<<8 | uint32(tcp[7])
	ack := uint32(tcp[8])<<24 | uint32(tcp[9])<<16 | uint32(tcp[10])<<8 | uint32(tcp[11])
	urg := uint16(tcp[18])<<8 | uint16(tcp[19])
	if seq == 0 {
		q |= qSeqMin
	}
	if ack != 0 { // ACK is clear here
		q |= qAckPl
	}
	if flags&flagURG != 0 {
		q |= qUrgf
	} else if urg != 0 {
		q |= qUptr
	}
	if flags&flagPSH != 0 {
		q |= qPushf
	}
	if flags&(flagECE|flagCWR) != 0 {
		q |= qECN
	}
	if flags&(flagECE|flagCWR) == flagECE|flagCWR {
		q |= qECECWR
	}
	if tcp[12]&0x01 != 0 {
		q |= qAE
	}

	opts := tcp[20:doff]
	o := parseOptions(opts, &q)
	s.MSS = o.mss
	s.WindowScale = o.ws

	// A SYN shape seen before: everything but the observed TTL is known.
	var key []byte
	if c != nil {
		key = c.shapeKey(&s, q, o, ipHdrLen+doff, hasPayload, opts)
		if r, ok := c.syns[string(key)]; ok { // no allocation for the lookup
			r.TTL = s.TTL
			return r, nil
		}
	}

	// One buffer holds the p0f signature and then JA4T; both strings are
	// cut from a single conversion.
	var arr [512]byte
	b := arr[:0]
	b = strconv.AppendUint(b, uint64(s.IPVersion), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(s.InitialTTL), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(s.IPOptionLen), 10)
	b = append(b, ':')

	if o.hasMSS {
		b = strconv.AppendUint(b, uint64(o.mss), 10)
	} else {
		b = append(b, '*')
	}
	b = append(b, ':')
	if m, mtu := windowMultiple(s.Window, o, s.IPVersion, ipHdrLen+doff); m > 0 {
		if mtu {
			b = append(b, "mtu*"...)
		} else {
			b = append(b, "mss*"...)
		}
		b = strconv.AppendUint(b, uint64(m), 10)
	} else {
		b = strconv.AppendUint(b, uint64(s.Window), 10)
	}
	b = append(b, ',')
	if o.ws >= 0 {
		b = strconv.AppendUint(b, uint64(o.ws), 10)
	} else {
		b = append(b, '*')
	}
	b = append(b, ':')
	optStart := len(b)
	b = appendLayout(b, opts)
	optEnd := len(b)
	b = append(b, ':')
	first := true
	for i := range numQuirks {
		if q&(1<<i) != 0 && quirk(1<<i)&p0fQuirks != 0 {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, quirkNames[i]...)
		}
	}
	b = append(b, ':')
	if hasPayload {
		b = append(b, '+')
	} else {
		b = append(b, '0')
	}
	fpEnd := len(b)
	b = strconv.AppendUint(b, uint64(s.Window), 10)
	b = append(b, '_')
	b = appendJA4TKinds(b, opts)
	b = append(b, '_')
	b = strconv.AppendUint(b, uint64(o.mss), 10)
	b = append(b, '_')
	if o.ws > 0 {
		b = strconv.AppendUint(b, uint64(o.ws), 10)
	} else {
		b = append(b, '0')
	}

	all := string(b)
	s.Fingerprint = all[:fpEnd]
	s.Options = all[optStart:optEnd]
	s.JA4T = all[fpEnd:]
	if q != 0 {
		l := quirkList(q)
		s.Quirks = l[:len(l):len(l)]
	}
	c.put(key, s)
	return s, nil
}

// quirkList returns the names of the quirks in q, nil for none.
func quirkList(q quirk) []string {
	var l []string
	if q != 0 {
		n := 0
		for i := range numQuirks {
			if q&(1<<i) != 0 {
				n++
			}
		}
		l = make([]string, 0, n)
		for i := range numQuirks {
			if q&(1<<i) != 0 {
				l = append(l, quirkNames[i])
			}
		}
	}
	return l
}

func wrap(err error, what string, got, want int) error {
	return &detailError{err: err, what: what, got: got, want: want}
}

// detailError avoids fmt on the error path; errors are frequent on a
// sensor seeing junk, and the detail is cheap to keep.
type detailError struct {
	err       error
	what      string
	got, want int
}

func (e *detailError) Error() string {
	s := e.err.Error() + ": " + e.what + " " + strconv.Itoa(e.got)
	if e.want > 0 {
		s += ", need " + strconv.Itoa(e.want)
	}
	return s
}

func (e *detailError) Unwrap() error { return e.err }

// initialTTL is p0f's guess: the next of 32, 64, 128, 255 at or above the
// observed TTL.
func initialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 32:
		return 32
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

type options struct {
	mss    uint16
	hasMSS bool
	ws     int8 // -1 absent
	ts1    uint32
}

// parseOptions reads the options p0f cares about and sets option quirks.
// It follows p0f: a malformed option sets "bad" and ends parsing; bytes
// after EOL must be zero ("opt+" otherwise).
func parseOptions(opts []byte, q *quirk) options {
	o := options{ws: -1}
	for i := 0; i < len(opts); {
		kind := opts[i]
		i++
		switch kind {
		case optEOL:
			for _, c := range opts[i:] {
				if c != 0 {
					*q |= qOptPl
					break
				}
			}
			return o
		case optNOP:
			continue
		}
		if i >= len(opts) {
			*q |= qBad
			return o
		}
		l := int(opts[i])
		i++
		if l < 2 || i+l-2 > len(opts) {
			*q |= qBad
			return o
		}
		v := opts[i : i+l-2]
		i += l - 2
		switch kind {
		case optMSS:
			if len(v) != 2 {
				*q |= qBad
				continue
			}
			o.mss = uint16(v[0])<<8 | uint16(v[1])
			o.hasMSS = true
		case optWS:
			if len(v) != 1 {
				*q |= qBad
				continue
			}
			o.ws = int8(min(v[0], 127))
			if v[0] > 14 {
				*q |= qExws
			}
		case optSACKOK:
			if len(v) != 0 {
				*q |= qBad
			}
		case optTS:
			if len(v) != 8 {
				*q |= qBad
				continue
			}
			o.ts1 = uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
			ts2 := uint32(v[4])<<24 | uint32(v[5])<<16 | uint32(v[6])<<8 | uint32(v[7])
			if o.ts1 == 0 {
				*q |= qTS1Min
			}
			if ts2 != 0 {
				*q |= qTS2Pl
			}
		}
	}
	return o
}

// appendLayout writes p0f's option layout: mss, nop, ws, sok, sack, ts,
// ?N for other kinds, eol+N with N the bytes after EOL. It stops where
// parseOptions stops.
func appendLayout(b, opts []byte) []byte {
	start := len(b)
	sep := func(b []byte) []byte {
		if len(b) > start {
			b = append(b, ',')
		}
		return b
	}
	for i := 0; i < len(opts); {
		kind := opts[i]
		i++
		b = sep(b)
		switch kind {
		case optEOL:
			b = append(b, "eol+"...)
			return strconv.AppendUint(b, uint64(len(opts)-i), 10)
		case optNOP:
			b = append(b, "nop"...)
			continue
		case optMSS:
			b = append(b, "mss"...)
		case optWS:
			b = append(b, "ws"...)
		case optSACKOK:
			b = append(b, "sok"...)
		case optSACK:
			b = append(b, "sack"...)
		case optTS:
			b = append(b, "ts"...)
		default:
			b = append(b, '?')
			b = strconv.AppendUint(b, uint64(kind), 10)
		}
		if i >= len(opts) {
			return b
		}
		l := int(opts[i])
		if l < 2 || i+1+l-2 > len(opts) {
			return b
		}
		i += l - 1
	}
	return b
}

// appendJA4TKinds writes every option kind in order, dash-joined. Unlike
// p0f it does not stop at EOL: padding after EOL shows as further 0 kinds
// (macOS: "2-1-3-1-1-8-4-0-0"), which is what FoxIO's implementation emits.
func appendJA4TKinds(b, opts []byte) []byte {
	start := len(b)
	for i := 0; i < len(opts); {
		kind := opts[i]
		if len(b) > start {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(kind), 10)
		i++
		if kind == optEOL || kind == optNOP {
			continue
		}
		if i >= len(opts) {
			return b
		}
		l := int(opts[i])
		if l < 2 || i+l-1 > len(opts) {
			return b
		}
		i += l - 1
	}
	return b
}

// windowMultiple is p0f's detect_win_multi: a SYN window is often a
// multiple of the MSS, of an MSS derived from a 1500-byte MTU, or of the
// MTU itself. It returns the multiplier and whether it is of the MTU, or
// 0 when the window is none of these.
func windowMultiple(win uint16, o options, ver uint8, totHdr int) (int, bool) {
	mss := int(o.mss)
	if win == 0 || !o.hasMSS || mss < 100 {
		return 0, false
	}
	w := int(win)
	div := func(d int) bool { return d > 0 && w%d == 0 }
	switch {
	case div(mss):
		return w / mss, false
	case o.ts1 != 0 && div(mss-12):
		return w / (mss - 12), false
	case div(1500 - minTCP4):
		return w / (1500 - minTCP4), false
	case div(1500 - minTCP4 - 12):
		return w / (1500 - minTCP4 - 12), false
	case ver == 6 && div(1500-minTCP6):
		return w / (1500 - minTCP6), false
	case ver == 6 && div(1500-minTCP6-12):
		return w / (1500 - minTCP6 - 12), false
	case div(mss + minTCP4):
		return w / (mss + minTCP4), true
	case div(mss + totHdr):
		return w / (mss + totHdr), true
	case ver == 6 && div(mss+minTCP6):
		return w / (mss + minTCP6), true
	case div(1500):
		return w / 1500, true
	}
	return 0, false
}
