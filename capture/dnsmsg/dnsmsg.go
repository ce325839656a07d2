package dnsmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// Sentinel errors. Wrapped errors carry miekg/dns's text; test with errors.Is.
var (
	// ErrTruncated: the message ends before its header, or before a name or
	// record it announces is complete.
	ErrTruncated = errors.New("dnsmsg: truncated message")
	// ErrMalformed: miekg/dns rejected the message (bad compression
	// pointer, over-long name, bad RDATA, ...).
	ErrMalformed = errors.New("dnsmsg: malformed message")
)

const headerLen = 12

// mDNS reuses the top bit of the class: "unicast response wanted" in
// questions (RFC 6762 §5.4), "cache flush" in records (§10.2).
const mdnsClassTopBit = 0x8000

// Parser decodes DNS messages. One Parser per worker: it reuses its
// dns.Msg between calls. It is not safe for concurrent use.
type Parser struct {
	msg dns.Msg
	buf []byte // scratch for name presentation
}

// Parse decodes one DNS message (a UDP payload, or one message of a TCP
// stream without its length prefix). mdns selects mDNS class handling.
//
// On error the returned message, if not nil, holds what was decoded before
// the fault; it is nil only when not even the header could be read.
func (p *Parser) Parse(b []byte, mdns bool) (*observe.DNSMessage, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), headerLen)
	}
	// Sections are reset explicitly: miekg leaves the old ones in place
	// when it fails early, and they must not leak into this message.
	p.msg.Question, p.msg.Answer, p.msg.Ns, p.msg.Extra = nil, nil, nil, nil
	uerr := p.msg.Unpack(b)
	m := &p.msg

	out := &observe.DNSMessage{
		ID:       m.Id,
		Response: m.Response,
		Opcode:   m.Opcode,
		Rcode:    m.Rcode,
	}
	if len(m.Question) > 0 {
		out.Questions = make([]observe.DNSQuestion, len(m.Question))
		for i, q := range m.Question {
			class := q.Qclass
			if mdns {
				class &^= mdnsClassTopBit
			}
			out.Questions[i] = observe.DNSQuestion{
				Name:  p.name(q.Name),
				Type:  typeString(q.Qtype),
				Class: class,
			}
		}
	}
	out.Answers = p.records(out.Answers, m.Answer)
	out.Extra = p.records(out.Extra, m.Ns)
	out.Extra = p.records(out.Extra, m.Extra)

	if uerr != nil {
		return out, classify(uerr)
	}
	// miekg stops quietly when the bytes end exactly on a record boundary
	// and the header promised more; for a sensor that is a cut capture.
	if want := headerCount(b); len(m.Question)+len(m.Answer)+len(m.Ns)+len(m.Extra) < want {
		return out, fmt.Errorf("%w: header counts %d entries, message holds %d",
			ErrTruncated, want, len(m.Question)+len(m.Answer)+len(m.Ns)+len(m.Extra))
	}
	return out, nil
}

// headerCount sums QDCOUNT, ANCOUNT, NSCOUNT and ARCOUNT. miekg does not
// expose the counts it read; len(b) >= headerLen is checked by the caller.
func headerCount(b []byte) int {
	n := 0
	for i := 4; i < headerLen; i += 2 {
		n += int(b[i])<<8 | int(b[i+1])
	}
	return n
}

func classify(err error) error {
	if errors.Is(err, dns.ErrBuf) || strings.Contains(err.Error(), "overflow unpacking") {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// typeString is miekg's name of t, "TYPEn" for types it does not know.
func typeString(t uint16) string { return dns.Type(t).String() }

func (p *Parser) records(dst []observe.DNSRecord, rrs []dns.RR) []observe.DNSRecord {
	if len(rrs) == 0 {
		return dst
	}
	if dst == nil {
		dst = make([]observe.DNSRecord, 0, len(rrs))
	}
	for _, rr := range rrs {
		if rr == nil {
			continue
		}
		h := rr.Header()
		r := observe.DNSRecord{
			Name: p.name(h.Name),
			Type: typeString(h.Rrtype),
			TTL:  h.Ttl,
		}
		switch v := rr.(type) {
		case *dns.A:
			r.Addr = addr(v.A)
			r.Data = r.Addr.String()
		case *dns.AAAA:
			r.Addr = addr(v.AAAA)
			r.Data = r.Addr.String()
		case *dns.TXT:
			r.TXT = make([]string, len(v.Txt))
			for i, t := range v.Txt {
				r.TXT[i] = p.text(t)
			}
			r.Data = rdata(rr)
		case *dns.PTR:
			r.Data = p.name(v.Ptr)
		case *dns.CNAME:
			r.Data = p.name(v.Target)
		case *dns.NS:
			r.Data = p.name(v.Ns)
		case *dns.DNAME:
			r.Data = p.name(v.Target)
		case *dns.MX:
			r.Data = strconv.Itoa(int(v.Preference)) + " " + p.name(v.Mx)
		case *dns.SRV:
			r.Data = strconv.Itoa(int(v.Priority)) + " " + strconv.Itoa(int(v.Weight)) + " " +
				strconv.Itoa(int(v.Port)) + " " + p.name(v.Target)
		case *dns.OPT:
			// OPT is a pseudo-record: its "TTL" and class are EDNS flags and
			// payload size, and miekg prints it as a multi-line comment.
			r.Data = "udp=" + strconv.Itoa(int(v.UDPSize()))
			if v.Do() {
				r.Data += " do"
			}
		default:
			r.Data = rdata(rr)
		}
		dst = append(dst, r)
	}
	return dst
}

func addr(ip []byte) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// rdata is miekg's presentation of rr without the owner/TTL/class/type
// header. The header is four tab-separated fields; escaped names never
// contain a raw tab (miekg writes it as \009).
func rdata(rr dns.RR) string {
	s := rr.String()
	for range 4 {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	return s
}

// name turns miekg's presentation form of a domain name into orchard's:
// ASCII lower case, no final dot, UTF-8 kept when the name is valid and
// printable UTF-8, miekg's escapes kept otherwise. The root is "".
func (p *Parser) name(s string) string {
	s = strings.TrimSuffix(s, ".")
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || ('A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return s // the common case: already what we want, no copy
	}
	if u, ok := p.unescapeUTF8(s, true); ok {
		return u
	}
	return lowerASCII(s)
}

// text is a TXT character-string as orchard shows it: the raw bytes when
// they are printable UTF-8 ("model=iMac17,1", "name=John’s iMac"), else
// miekg's escaped form. Case is kept: TXT values are not names.
func (p *Parser) text(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	if u, ok := p.unescapeUTF8(s, false); ok {
		return u
	}
	return s
}

// unescapeUTF8 resolves miekg's escapes into the raw bytes. For names it
// keeps the escapes that preserve label structure (\. and \\) and
// lower-cases ASCII. It reports false when the result is not printable
// UTF-8, in which case the escaped form is the honest one.
func (p *Parser) unescapeUTF8(s string, name bool) (string, bool) {
	b := p.buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if name {
				c = lower(c)
			}
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false // dangling escape: keep miekg's form
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v > 255 {
				return "", false
			}
			c = byte(v)
			i += 4
		} else {
			c = s[i+1]
			i += 2
		}
		switch {
		case name && (c == '.' || c == '\\'):
			b = append(b, '\\', c)
		case c < 0x80:
			if c < ' ' || c == 0x7f {
				return "", false
			}
			if name {
				c = lower(c)
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	p.buf = b
	if !utf8.Valid(b) {
		return "", false
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x80 && !unicode.IsPrint(r) {
			return "", false
		}
		i += n
	}
	return string(b), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}
