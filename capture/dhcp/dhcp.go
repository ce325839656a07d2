package dhcp

import (
	"errors"
	"net/netip"
	"strconv"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Sentinel errors; test with errors.Is.
var (
	ErrTruncated = errors.New("dhcp: truncated message")
	ErrNotDHCP   = errors.New("dhcp: not a DHCP message")
	ErrMalformed = errors.New("dhcp: malformed option")
)

// OptionError names the option that could not be decoded. It matches
// ErrMalformed with errors.Is.
type OptionError struct {
	V6     bool
	Code   uint16
	Offset int // of the option's code, from the start of the message
	Reason string
}

func (e *OptionError) Error() string {
	v := "v4"
	if e.V6 {
		v = "v6"
	}
	return "dhcp: malformed " + v + " option " + strconv.Itoa(int(e.Code)) + " at offset " +
		strconv.Itoa(e.Offset) + ": " + e.Reason
}

func (e *OptionError) Is(target error) bool { return target == ErrMalformed }

// DHCPv4 fixed layout (RFC 2131 §2).
const (
	v4OffHtype  = 1
	v4OffHlen   = 2
	v4OffYiaddr = 16
	v4OffChaddr = 28
	v4OffCookie = 236
	v4OffOpts   = 240
)

var magicCookie = [4]byte{99, 130, 83, 99}

var v4Types = [...]string{1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
	7: "release", 8: "inform", 9: "forcerenew", 10: "leasequery", 11: "leaseunassigned",
	12: "leaseunknown", 13: "leaseactive", 14: "bulkleasequery", 15: "leasequerydone",
	16: "activeleasequery", 17: "leasequerystatus", 18: "tls"}

func typeName(names []string, t int) string {
	if t < len(names) && names[t] != "" {
		return names[t]
	}
	return "type-" + strconv.Itoa(t)
}

// ParseV4 decodes a DHCPv4 message (a UDP payload on port 67 or 68).
func ParseV4(b []byte) (*observe.DHCP, error) {
	if len(b) < v4OffOpts {
		return nil, ErrTruncated
	}
	if [4]byte(b[v4OffCookie:v4OffOpts]) != magicCookie {
		return nil, ErrNotDHCP
	}
	d := &observe.DHCP{}
	if b[v4OffHtype] == 1 && b[v4OffHlen] == 6 {
		d.ClientMAC = observe.MAC(b[v4OffChaddr : v4OffChaddr+6])
	} else {
		d.Oddities = append(d.Oddities, "non-ethernet-chaddr")
	}
	d.OptionOrder = make([]uint16, 0, countV4Options(b[v4OffOpts:]))
	var seen [256]bool
	var msgType int
	hostnameFromFQDN := ""
	ended := false
	off := v4OffOpts
	for off < len(b) {
		code := b[off]
		if code == 0 { // pad
			off++
			continue
		}
		if code == 255 {
			ended = true
			for _, c := range b[off+1:] {
				if c != 0 {
					d.Oddities = append(d.Oddities, "data-after-end")
					break
				}
			}
			break
		}
		if off+1 >= len(b) {
			finishV4(d, b, msgType, hostnameFromFQDN)
			return d, &OptionError{Code: uint16(code), Offset: off, Reason: "no length byte"}
		}
		l := int(b[off+1])
		if off+2+l > len(b) {
			finishV4(d, b, msgType, hostnameFromFQDN)
			return d, &OptionError{Code: uint16(code), Offset: off,
				Reason: "length " + strconv.Itoa(l) + " runs past the end of the message"}
		}
		v := b[off+2 : off+2+l]
		if seen[code] {
			// RFC 3396 allows splitting long options; we keep the first
			// instance and say so.
			d.Oddities = append(d.Oddities, "duplicate-option-"+strconv.Itoa(int(code)))
		} else {
			seen[code] = true
			d.OptionOrder = append(d.OptionOrder, uint16(code))
			if !v4Option(d, code, v, &msgType, &hostnameFromFQDN) {
				d.Oddities = append(d.Oddities, "bad-length-option-"+strconv.Itoa(int(code)))
			}
		}
		off += 2 + l
	}
	if !ended {
		d.Oddities = append(d.Oddities, "no-end-option")
	}
	finishV4(d, b, msgType, hostnameFromFQDN)
	return d, nil
}

// finishV4 sets the fields that depend on options seen anywhere in the
// message; it also runs on the error path so partial results are useful.
func finishV4(d *observe.DHCP, b []byte, msgType int, hostnameFromFQDN string) {
	if msgType == 0 {
		d.Oddities = append(d.Oddities, "no-message-type") // plain BOOTP with a cookie
		if b[0] == 2 {
			d.MessageType = "bootreply"
		} else {
			d.MessageType = "bootrequest"
		}
	} else {
		d.MessageType = typeName(v4Types[:], msgType)
	}
	if d.Hostname == "" {
		d.Hostname = hostnameFromFQDN
	}
	if msgType == 2 || msgType == 5 { // offer, ack
		d.AssignedIP = netip.AddrFrom4([4]byte(b[v4OffYiaddr : v4OffYiaddr+4]))
	}
}

// countV4Options counts the options before END, to size OptionOrder in
// one allocation. It stops where the main loop would fail.
func countV4Options(opts []byte) int {
	n := 0
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			i++
			continue
		case 255:
			return n
		}
		if i+1 >= len(opts) {
			return n
		}
		n++
		i += 2 + int(opts[i+1])
	}
	return n
}

// v4Option stores one option; it reports false when the length is wrong
// for the option's type (the option is then ignored).
func v4Option(d *observe.DHCP, code byte, v []byte, msgType *int, fqdn *string) bool {
	switch code {
	case 53: // message type
		if len(v) != 1 {
			return false
		}
		*msgType = int(v[0])
	case 61: // client identifier
		if len(v) < 1 {
			return false
		}
		d.ClientID = append([]byte(nil), v...)
	case 50: // requested IP
		if len(v) != 4 {
			return false
		}
		d.RequestedIP = netip.AddrFrom4([4]byte(v))
	case 54: // server identifier
		if len(v) != 4 {
			return false
		}
		d.ServerID = netip.AddrFrom4([4]byte(v))
	case 51: // lease time
		if len(v) != 4 {
			return false
		}
		d.LeaseTime = be32(v)
	case 12: // host name
		h := v
		for len(h) > 0 && h[len(h)-1] == 0 {
			h = h[:len(h)-1]
		}
		if len(h) != len(v) {
			d.Oddities = append(d.Oddities, "hostname-trailing-nul")
		}
		d.Hostname = string(h)
	case 81: // client FQDN (RFC 4702): flags, rcode1, rcode2, name
		if len(v) < 3 {
			return false
		}
		name, ok := fqdnName(v[3:], v[0]&0x04 != 0)
		if !ok {
			return false
		}
		*fqdn = name
	case 60: // vendor class identifier
		d.VendorClass = string(v)
	case 55: // parameter request list
		d.ParamList = append([]uint8(nil), v...)
	case 57: // maximum message size
		if len(v) != 2 {
			return false
		}
		d.MaxMsgSize = be16(v)
	case 52: // option overload: more options hide in sname/file
		d.Oddities = append(d.Oddities, "option-overload")
	}
	return true
}

// fqdnName decodes the name of a client FQDN option: canonical wire format
// (length-prefixed labels, RFC 1035 §3.1, no compression) when wire is
// set, else the deprecated ASCII form. It returns the name without the
// final dot.
func fqdnName(v []byte, wire bool) (string, bool) {
	if !wire {
		for len(v) > 0 && v[len(v)-1] == 0 {
			v = v[:len(v)-1]
		}
		return string(v), true
	}
	buf := make([]byte, 0, len(v))
	for i := 0; i < len(v); {
		l := int(v[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(v) {
			return "", false
		}
		if len(buf) > 0 {
			buf = append(buf, '.')
		}
		buf = append(buf, v[i:i+l]...)
		i += l
	}
	return string(buf), true
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
