package capture

import (
	"bytes"
	"errors"

	"github.com/orchard-nsm/orchard/capture/dnsmsg"
	"github.com/orchard-nsm/orchard/capture/httpreq"
	"github.com/orchard-nsm/orchard/capture/observe"
	"github.com/orchard-nsm/orchard/capture/tlshello"
)

// streamMode is what a flow's client stream turned out to carry.
type streamMode uint8

const (
	modeUnknown streamMode = iota
	modeTLS                // TLS records from tlsOff on
	modeHTTP               // HTTP/1.x request head
	modeMail               // SMTP, IMAP or POP3 commands, maybe STARTTLS
	modeSOCKS              // SOCKS4/5 request, then TLS
	modeDNS                // DNS over TCP: length-prefixed messages both ways
)

// mail protocol flavours for the prologue name.
const (
	mailSMTP = "smtp"
	mailIMAP = "imap"
	mailPOP3 = "pop3"
)

// maxPlainLines bounds the plaintext mail commands scanned before giving up
// on a STARTTLS.
const maxPlainLines = 24

// inspectTCP handles a payload-carrying segment of a flow still being
// inspected.
func (e *Engine) inspectTCP(f *flow, dr dir, seq uint32, payload []byte) {
	if f.mode == modeUnknown && (f.key.loPort == 53 || f.key.hiPort == 53) {
		f.mode = modeDNS
	}
	if dr == toClient && f.mode != modeDNS {
		return // only the client's first flight matters
	}
	s := &e.streams(f)[dr]
	// Fast path: the segment is the start of the stream and nothing is
	// buffered; most ClientHellos and request heads fit in one segment,
	// and most bulk flows are rejected here without a copy.
	if s.buf == nil && s.contig == 0 && (!s.haveBase || seq == s.base) && s.consumed == 0 {
		if !s.haveBase {
			s.base, s.haveBase = seq, true
		}
		switch e.classify(f, dr, payload) {
		case verdictDone:
			e.finishStream(f, dr)
			return
		case verdictNeedMore:
			// fall through to buffering
		}
	}
	if !e.pool.available() && s.buf == nil {
		e.skip(ReasonStreamCapacity, "%d streams already reassembling", e.pool.inUse)
		e.finishStream(f, dr)
		return
	}
	grew, overflow := s.add(seq, payload, e.cfg.StreamLimit, e.pool)
	if grew {
		if e.classify(f, dr, s.data()) == verdictDone {
			e.finishStream(f, dr)
			return
		}
	}
	if overflow || int(s.contig) >= e.cfg.StreamLimit {
		if f.mode != modeDNS {
			e.skip(ReasonStreamOverflow, "first flight larger than %d bytes without a complete message", e.cfg.StreamLimit)
		}
		e.finishStream(f, dr)
	}
}

type verdict uint8

const (
	verdictNeedMore verdict = iota
	verdictDone
)

// finishStream stops inspecting one direction; a flow is done when its
// client stream is (both streams for DNS).
func (e *Engine) finishStream(f *flow, dr dir) {
	f.stream[dr].release(e.pool)
	if f.mode != modeDNS || (f.stream[0].done && f.stream[1].done) {
		f.stream[0].release(e.pool)
		f.stream[1].release(e.pool)
		f.state = inspectDone
		e.putStreams(f)
	}
}

// classify looks at the contiguous stream bytes of one direction.
func (e *Engine) classify(f *flow, dr dir, data []byte) verdict {
	if f.mode == modeUnknown {
		f.mode = sniff(data)
		if f.mode == modeUnknown {
			return verdictDone
		}
	}
	switch f.mode {
	case modeDNS:
		return e.tcpDNS(f, dr, data)
	case modeHTTP:
		return e.httpHead(f, data)
	case modeMail:
		return e.mailPrologue(f, data)
	case modeSOCKS:
		return e.socks(f, data)
	case modeTLS:
		return e.tlsHello(f, data)
	}
	return verdictDone
}

// sniff decides from the first bytes what the client speaks.
func sniff(b []byte) streamMode {
	if len(b) == 0 {
		return modeUnknown
	}
	switch c := b[0]; {
	case c == 0x16:
		if tlshello.LooksLikeTLS(b) || len(b) < 3 {
			return modeTLS
		}
	case c == 0x04 || c == 0x05:
		if looksLikeSOCKS(b) {
			return modeSOCKS
		}
	case c > ' ' && c < 0x7f:
		// Printable: an HTTP method, or a mail command (IMAP tags may
		// be any atom characters, ". CAPABILITY" included).
		if looksLikeHTTP(b) {
			return modeHTTP
		}
		if mailCommand(b) != "" {
			return modeMail
		}
	}
	return modeUnknown
}

func (e *Engine) tlsHello(f *flow, data []byte) verdict {
	off := f.tlsOff()
	if off > len(data) {
		return verdictNeedMore
	}
	msg, err := tlshello.ExtractHandshake(data[off:], e.hsBuf[:0])
	if errors.Is(err, tlshello.ErrNeedMore) {
		return verdictNeedMore
	}
	if msg != nil && cap(msg) > cap(e.hsBuf) && len(msg) <= 64<<10 {
		e.hsBuf = msg[:0] // keep the grown buffer
	}
	if err != nil {
		if !errors.Is(err, tlshello.ErrNotTLS) || f.prologue != "" {
			e.skip(ReasonMalformedTLS, "%v", err)
		}
		return verdictDone
	}
	if err := e.hello.Unmarshal(msg); err != nil {
		if !errors.Is(err, tlshello.ErrNotClientHello) {
			e.skip(ReasonMalformedTLS, "ClientHello: %v", err)
		}
		return verdictDone
	}
	t := &e.dec.tcp
	to := reuse(e.cfg.ReuseObservations, &e.scratch.tls)
	o := &to.o
	e.initObs(o, observe.KindTLS, observe.TransportTCP, uint16(t.SrcPort), uint16(t.DstPort))
	o.TLS = &to.h
	e.fillHello(o.TLS, 't')
	o.TLS.Prologue = f.prologue
	e.emit(o)
	f.helloDone = true
	e.reconsiderFlow(f, o.TLS.ServerName)
	return verdictDone
}

func (e *Engine) httpHead(f *flow, data []byte) verdict {
	var req observe.HTTPRequest
	err := httpreq.Parse(data, &req)
	if errors.Is(err, httpreq.ErrNeedMore) {
		return verdictNeedMore
	}
	if err != nil {
		if !errors.Is(err, httpreq.ErrNotHTTP) {
			e.skip(ReasonMalformedHTTP, "%v", err)
		}
		return verdictDone
	}
	t := &e.dec.tcp
	o := e.newObs(observe.KindHTTP, observe.TransportTCP, uint16(t.SrcPort), uint16(t.DstPort))
	o.HTTP = &req
	e.emit(o)
	if req.Method == "CONNECT" {
		if end := bytes.Index(data, []byte("\r\n\r\n")); end >= 0 {
			f.setTLSOff(end+4, "http-connect")
			return e.tlsHello(f, data)
		}
	}
	return verdictDone
}

// mailCommand names the mail protocol a client command line belongs to, or
// "" if the line is not one.
func mailCommand(b []byte) string {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	} else if len(b) > 512 {
		return ""
	}
	line = bytes.TrimRight(line, "\r")
	word, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(upper(word, 12)) {
	case "EHLO", "HELO", "LHLO", "STARTTLS", "MAIL", "AUTH":
		return mailSMTP
	case "CAPA", "STLS", "USER", "APOP", "UIDL", "STAT":
		return mailPOP3
	case "FEAT", "SYST", "PBSZ", "PROT", "OPTS":
		return "ftp"
	}
	// IMAP: "tag COMMAND ..."
	if len(word) > 0 && len(word) <= 32 && isAtom(word) {
		cmd, _, _ := bytes.Cut(rest, []byte(" "))
		switch string(upper(cmd, 16)) {
		case "CAPABILITY", "STARTTLS", "ID", "LOGIN", "AUTHENTICATE", "NOOP", "ENABLE":
			return mailIMAP
		}
	}
	return ""
}

func isAtom(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// upper returns an upper-cased copy of b if it is at most n bytes, else nil.
// The copy lives on the caller's stack for small n.
func upper(b []byte, n int) []byte {
	if len(b) > n {
		return nil
	}
	var buf [32]byte
	out := buf[:len(b)]
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// mailPrologue walks the client's plaintext command lines. A STARTTLS (SMTP,
// IMAP) or STLS (POP3) command means the next client bytes are a TLS
// ClientHello. The lines are kept, credentials redacted, as evidence.
func (e *Engine) mailPrologue(f *flow, data []byte) verdict {
	if f.prologue != "" {
		return e.tlsHello(f, data)
	}
	pos := int(f.stream[toServer].scanOff)
	for pos < len(data) {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			if len(data)-pos > 1024 {
				return verdictDone
			}
			f.stream[toServer].scanOff = int32(pos)
			return verdictNeedMore
		}
		line := bytes.TrimRight(data[pos:pos+nl], "\r")
		pos += nl + 1
		proto := mailCommand(line)
		if proto == "" {
			// Message content (DATA) or something else: stop here.
			return verdictDone
		}
		if len(f.plain) < maxPlainLines {
			f.plain = append(f.plain, redact(line))
		} else {
			return verdictDone
		}
		word, rest, _ := bytes.Cut(line, []byte(" "))
		cmd := upper(word, 12)
		if proto == mailIMAP {
			c, _, _ := bytes.Cut(rest, []byte(" "))
			cmd = upper(c, 16)
		}
		switch string(cmd) {
		case "AUTH":
			// FTP's AUTH TLS / AUTH SSL (RFC 4217); SMTP's AUTH takes
			// a SASL mechanism instead.
			arg, _, _ := bytes.Cut(rest, []byte(" "))
			if a := string(upper(arg, 8)); a == "TLS" || a == "SSL" || a == "TLS-C" {
				f.setTLSOff(pos, "ftp-auth-tls")
				f.stream[toServer].scanOff = int32(pos)
				return e.tlsHello(f, data)
			}
		case "STARTTLS":
			f.setTLSOff(pos, proto+"-starttls")
			f.stream[toServer].scanOff = int32(pos)
			return e.tlsHello(f, data)
		case "STLS":
			f.setTLSOff(pos, "pop3-stls")
			f.stream[toServer].scanOff = int32(pos)
			return e.tlsHello(f, data)
		}
	}
	f.stream[toServer].scanOff = int32(pos)
	return verdictNeedMore
}

// redact keeps a command line but drops what could be a credential.
func redact(line []byte) string {
	if len(line) > 200 {
		line = line[:200]
	}
	fields := bytes.Fields(line)
	for i, w := range fields {
		switch string(upper(w, 16)) {
		case "LOGIN", "AUTHENTICATE", "AUTH", "USER", "PASS", "APOP":
			// keep the command word, hide its arguments
			out := bytes.Join(fields[:i+1], []byte(" "))
			if i+1 < len(fields) {
				out = append(out, " [redacted]"...)
			}
			return string(out)
		}
	}
	return string(line)
}

// looksLikeSOCKS checks a SOCKS4 CONNECT or SOCKS5 greeting.
func looksLikeSOCKS(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	switch b[0] {
	case 4:
		return b[1] == 1 && len(b) >= 9
	case 5:
		n := int(b[1])
		return n >= 1 && n <= 16 && len(b) >= 2+n
	}
	return false
}

// socks finds the end of a SOCKS4/4a request or a SOCKS5 greeting plus
// CONNECT request; TLS follows.
func (e *Engine) socks(f *flow, data []byte) verdict {
	if f.prologue != "" {
		return e.tlsHello(f, data)
	}
	switch data[0] {
	case 4:
		// ver cmd port(2) ip(4) userid NUL [host NUL if ip is 0.0.0.x]
		if len(data) < 9 {
			return verdictNeedMore
		}
		i := bytes.IndexByte(data[8:], 0)
		if i < 0 {
			return needMoreUnless(len(data) > 512)
		}
		end := 8 + i + 1
		if data[4] == 0 && data[5] == 0 && data[6] == 0 && data[7] != 0 {
			j := bytes.IndexByte(data[end:], 0)
			if j < 0 {
				return needMoreUnless(len(data) > 512)
			}
			end += j + 1
		}
		f.setTLSOff(end, "socks4")
	case 5:
		n := int(data[1])
		p := 2 + n
		if len(data) < p+5 {
			return verdictNeedMore
		}
		if data[p] != 5 {
			return verdictDone
		}
		var alen int
		switch data[p+3] {
		case 1:
			alen = 4
		case 4:
			alen = 16
		case 3:
			alen = 1 + int(data[p+4])
		default:
			return verdictDone
		}
		end := p + 4 + alen + 2
		if len(data) < end {
			return verdictNeedMore
		}
		f.setTLSOff(end, "socks5")
	default:
		return verdictDone
	}
	if !tlshello.LooksLikeTLS(data[f.tlsOff():]) && len(data) > f.tlsOff()+2 {
		return verdictDone
	}
	return e.tlsHello(f, data)
}

func needMoreUnless(giveUp bool) verdict {
	if giveUp {
		return verdictDone
	}
	return verdictNeedMore
}

// tcpDNS parses the length-prefixed DNS messages of one direction.
func (e *Engine) tcpDNS(f *flow, dr dir, data []byte) verdict {
	s := &f.stream[dr]
	t := &e.dec.tcp
	for {
		msg, _, ok := dnsmsg.NextTCP(data[s.consumed:])
		if !ok {
			break
		}
		s.consumed += int32(2 + len(msg))
		e.dnsMessage(msg, false, observe.TransportTCP, uint16(t.SrcPort), uint16(t.DstPort))
	}
	if int(s.consumed) == len(data) && s.buf == nil {
		// Everything was in this segment: later segments start fresh.
		s.base += uint32(s.consumed)
		s.consumed = 0
	}
	return verdictNeedMore
}

// tlsOff is where TLS starts in the client stream, after any prologue.
func (f *flow) tlsOff() int { return int(f.stream[toServer].tlsOff) }

func (f *flow) setTLSOff(off int, prologue string) {
	f.stream[toServer].tlsOff = int32(off)
	f.prologue = prologue
	f.mode = modeTLS
}

var httpMethods = [...]string{"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ", "PROPFIND "}

// looksLikeHTTP checks for an HTTP/1.x method token at the start of b.
func looksLikeHTTP(b []byte) bool {
	for _, m := range httpMethods {
		if len(b) >= len(m) && string(b[:len(m)]) == m {
			return true
		}
		if len(b) < len(m) && string(b) == m[:len(b)] {
			return true // too short to tell yet
		}
	}
	return false
}
