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
		if len(b) < v6RelayHdr {
			return ErrTruncated
		}
		if depth >= v6MaxRelayDepth {
			return &OptionError{V6: true, Code: opt6RelayMsg, Offset: base, Reason: "relay nesting too deep"}
		}
		if depth == 0 {
			d.Oddities = append(d.Oddities, "relayed")
		}
		var inner []byte
		innerOff := 0
		err := walkV6(b[v6RelayHdr:], base+v6RelayHdr, func(code uint16, off int, v []byte) error {
			if code == opt6RelayMsg && inner == nil {
				inner, innerOff = v, off+4
			}
			return nil
		})
		if err != nil {
			return err
		}
		if inner == nil {
			d.MessageType = typeName(v6Types[:], t)
			d.Oddities = append(d.Oddities, "relay-without-message")
			return nil
		}
		return parseV6(d, inner, innerOff, depth+1)
	}
	d.MessageType = typeName(v6Types[:], t)
	server := t == 2 || t == 7 // advertise, reply
	var seen map[uint16]bool
	return walkV6(b[4:], base+4, func(code uint16, off int, v []byte) error {
		for _, c := range d.OptionOrder {
			if c == code {
				if seen == nil {
					seen = map[uint16]bool{}
				}
				if !seen[code] {
					seen[code] = true
					d.Oddities = append(d.Oddities, "duplicate-option-"+strconv.Itoa(int(code)))
				}
				return nil
			}
		}
		d.OptionOrder = append(d.OptionOrder, code)
		ok := true
		switch code {
		case opt6ClientID:
			d.ClientID = append([]byte(nil), v...)
			d.ClientMAC, _ = duidMAC(v)
		case opt6ORO:
			if len(v)%2 != 0 {
				ok = false
				break
			}
			d.ParamList16 = make([]uint16, 0, len(v)/2)
			for i := 0; i+1 < len(v); i += 2 {
				d.ParamList16 = append(d.ParamList16, be16(v[i:]))
			}
		case opt6FQDN: // flags, then the name in DNS wire format
			if len(v) < 1 {
				ok = false
				break
			}
			d.Hostname, ok = fqdnName(v[1:], true)
		case opt6VendorClass: // enterprise number, then length-prefixed data items
			d.VendorClass, ok = vendorClass6(v)
		case opt6IANA: // IAID, T1, T2, then IA options
			if len(v) < 12 {
				ok = false
				break
			}
			// A bad IA sub-option spoils the IA, not the message.
			err := walkV6(v[12:], off+4+12, func(c uint16, _ int, a []byte) error {
				if c != opt6IAAddr || len(a) < 24 {
					return nil
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
				return nil
			})
			ok = err == nil
		}
		if !ok {
			d.Oddities = append(d.Oddities, "bad-length-option-"+strconv.Itoa(int(code)))
		}
		return nil
	})
}

// walkV6 calls fn for each option (code, offset of the option header
// relative to the outermost message, value) in order.
func walkV6(b []byte, base int, fn func(code uint16, off int, v []byte) error) error {
	for off := 0; off < len(b); {
		if off+4 > len(b) {
			code := uint16(0)
			if off+2 <= len(b) {
				code = be16(b[off:])
			}
			return &OptionError{V6: true, Code: code, Offset: base + off, Reason: "option header cut short"}
		}
		code := be16(b[off:])
		l := int(be16(b[off+2:]))
		if off+4+l > len(b) {
			return &OptionError{V6: true, Code: code, Offset: base + off,
				Reason: "length " + strconv.Itoa(l) + " runs past the end of the message"}
		}
		if err := fn(code, base+off, b[off+4:off+4+l]); err != nil {
			return err
		}
		off += 4 + l
	}
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
