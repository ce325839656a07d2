package dhcp

import (
	"net/netip"
	"strconv"

	"github.com/orchard-nsm/orchard/capture/observe"
)

var v6Types = [...]string{1: "solicit", 2: "advertise", 3: "request", 4: "confirm", 5: "renew",
	6: "rebind", 7: "reply", 8: "release", 9: "decline", 10: "reconfigure",
	11: "information-request", 12: "relay-forw", 13: "relay-repl"}

const (
	v6RelayForw = 12
	v6RelayRepl = 13
	// A relay header is type, hop count, link and peer address.
	v6RelayHdr = 34
	// Relays may nest; more than this is a loop or an attack.
	v6MaxRelayDepth = 8
)

// DHCPv6 option codes used here (RFC 8415 §21, RFC 4704).
const (
	opt6ClientID    = 1
	opt6IANA        = 3
	opt6IAAddr      = 5
	opt6ORO         = 6
	opt6RelayMsg    = 9
	opt6VendorClass = 16
	opt6FQDN        = 39
)

// ParseV6 decodes a DHCPv6 message (a UDP payload on port 546 or 547).
// For relay messages the innermost relayed message is decoded and the
// oddity "relayed" recorded.
func ParseV6(b []byte) (*observe.DHCP, error) {
	d := &observe.DHCP{V6: true}
	return d, parseV6(d, b, 0, 0)
}

// options6 iterates over a run of DHCPv6 options (code, length, value).
// base is the offset of the run in the outermost message, for errors.
type options6 struct {
	b    []byte
	base int
	off  int
	err  error
}

// next returns the next option and its offset in the outermost message;
// ok is false at the end of the run or on error (then o.err is set).
func (o *options6) next() (code uint16, at int, v []byte, ok bool) {
	if o.off >= len(o.b) || o.err != nil {
		return 0, 0, nil, false
	}
	at = o.base + o.off
	if o.off+4 > len(o.b) {
		if o.off+2 <= len(o.b) {
			code = be16(o.b[o.off:])
		}
		o.err = &OptionError{V6: true, Code: code, Offset: at, Reason: "option header cut short"}
		return 0, 0, nil, false
	}
	code = be16(o.b[o.off:])
	l := int(be16(o.b[o.off+2:]))
	if o.off+4+l > len(o.b) {
		o.err = &OptionError{V6: true, Code: code, Offset: at,
			Reason: "length " + strconv.Itoa(l) + " runs past the end of the message"}
		return 0, 0, nil, false
	}
	v = o.b[o.off+4 : o.off+4+l]
	o.off += 4 + l
	return code, at, v, true
}

// parseV6 decodes b, whose first byte is at offset base of the outermost
// message (for error offsets).
func parseV6(d *observe.DHCP, b []byte, base, depth int) error {
	if len(b) < 4 {
		return ErrTruncated
	}
	t := int(b[0])
	if t == 0 {
		return ErrNotDHCP
	}
	if t == v6RelayForw || t == v6RelayRepl {
		return parseRelay(d, b, base, depth)
	}
	d.MessageType = typeName(v6Types[:], t)
	server := t == 2 || t == 7 // advertise, reply

	// Count first so OptionOrder is one allocation.
	n := 0
	it := options6{b: b[4:], base: base + 4}
	for _, _, _, ok := it.next(); ok; _, _, _, ok = it.next() {
		n++
	}
	d.OptionOrder = make([]uint16, 0, n)

	it = options6{b: b[4:], base: base + 4}
	for {
		code, at, v, ok := it.next()
		if !ok {
			return it.err
		}
		if dup(d.OptionOrder, code) {
			d.Oddities = append(d.Oddities, "duplicate-option-"+strconv.Itoa(int(code)))
			continue
		}
		d.OptionOrder = append(d.OptionOrder, code)
		if !v6Option(d, code, at, v, server) {
			d.Oddities = append(d.Oddities, "bad-length-option-"+strconv.Itoa(int(code)))
		}
	}
}

func dup(order []uint16, code uint16) bool {
	for _, c := range order {
		if c == code {
			return true
		}
	}
	return false
}

// v6Option stores one option; it reports false when the value does not
// have the option's shape (the option is then ignored).
func v6Option(d *observe.DHCP, code uint16, at int, v []byte, server bool) bool {
	switch code {
	case opt6ClientID:
		d.ClientID = append([]byte(nil), v...)
		d.ClientMAC, _ = duidMAC(v)
	case opt6ORO:
		if len(v)%2 != 0 {
			return false
		}
		d.ParamList16 = make([]uint16, 0, len(v)/2)
		for i := 0; i+1 < len(v); i += 2 {
			d.ParamList16 = append(d.ParamList16, be16(v[i:]))
		}
	case opt6FQDN: // flags, then the name in DNS wire format
		if len(v) < 1 {
			return false
		}
		var ok bool
		d.Hostname, ok = fqdnName(v[1:], true)
		return ok
	case opt6VendorClass: // enterprise number, then length-prefixed data items
		var ok bool
		d.VendorClass, ok = vendorClass6(v)
		return ok
	case opt6IANA: // IAID, T1, T2, then IA options; a bad one spoils the IA only
		if len(v) < 12 {
			return false
		}
		it := options6{b: v[12:], base: at + 4 + 12}
		for {
			c, _, a, ok := it.next()
			if !ok {
				return it.err == nil
			}
			if c != opt6IAAddr || len(a) < 24 {
				continue
			}
			addr := netip.AddrFrom16([16]byte(a[:16]))
			if server {
				if !d.AssignedIP.IsValid() {
					d.AssignedIP = addr
					d.LeaseTime = be32(a[20:24]) // valid lifetime
				}
			} else if !d.RequestedIP.IsValid() {
				d.RequestedIP = addr
			}
		}
	}
	return true
}

// parseRelay finds the relayed message (option 9) and decodes it.
func parseRelay(d *observe.DHCP, b []byte, base, depth int) error {
	if len(b) < v6RelayHdr {
		return ErrTruncated
	}
	if depth >= v6MaxRelayDepth {
		return &OptionError{V6: true, Code: opt6RelayMsg, Offset: base, Reason: "relay nesting too deep"}
	}
	if depth == 0 {
		d.Oddities = append(d.Oddities, "relayed")
	}
	it := options6{b: b[v6RelayHdr:], base: base + v6RelayHdr}
	for {
		code, at, v, ok := it.next()
		if !ok {
			break
		}
		if code == opt6RelayMsg {
			return parseV6(d, v, at+4, depth+1)
		}
	}
	if it.err != nil {
		return it.err
	}
	d.MessageType = typeName(v6Types[:], int(b[0]))
	d.Oddities = append(d.Oddities, "relay-without-message")
	return nil
}

// duidMAC extracts the link-layer address of a DUID-LLT (type 1) or
// DUID-LL (type 3) with hardware type Ethernet (RFC 8415 §11).
func duidMAC(duid []byte) (observe.MAC, bool) {
	if len(duid) < 4 || be16(duid[2:]) != 1 {
		return observe.MAC{}, false
	}
	switch be16(duid) {
	case 1:
		if len(duid) == 14 {
			return observe.MAC(duid[8:14]), true
		}
	case 3:
		if len(duid) == 10 {
			return observe.MAC(duid[4:10]), true
		}
	}
	return observe.MAC{}, false
}

// vendorClass6 returns the data items of a vendor class option joined by
// ","; the enterprise number is not kept (observe.DHCP has one string).
func vendorClass6(v []byte) (string, bool) {
	if len(v) < 4 {
		return "", false
	}
	v = v[4:]
	var out []byte
	for len(v) > 0 {
		if len(v) < 2 || 2+int(be16(v)) > len(v) {
			return string(out), false
		}
		l := int(be16(v))
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, v[2:2+l]...)
		v = v[2+l:]
	}
	return string(out), true
}
