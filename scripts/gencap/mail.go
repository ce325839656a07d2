package gencap

import (
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// readMail is one mail-client session over proto; for MailHTTPS, server
// picks the corporate name or the Microsoft 365 front end. The DNS answer
// for the server name always reaches the host before it connects.
func (h *host) readMail(t time.Time, proto, server string) time.Time {
	w := h.w
	name := w.mailName
	if proto == MailHTTPS && server != "" {
		name = server
	}
	t, addr := h.lookup(t, name, dns.TypeA)
	if !addr.IsValid() {
		return t
	}
	h.lbl.ReadsMail = true
	if !slices.Contains(h.lbl.MailProtocols, proto) {
		h.lbl.MailProtocols = append(h.lbl.MailProtocols, proto)
	}
	if !slices.Contains(h.lbl.MailServers, name) {
		h.lbl.MailServers = append(h.lbl.MailServers, name)
	}
	k := h.prof.mail
	noALPN := helloOpts{alpn: []string{}}
	switch proto {
	case MailIMAPS:
		return h.tlsSession(t, name, addr, 993, k, noALPN, w.r.between(1500, 6000), w.r.between(8000, 120000), nil)
	case MailSubmission:
		return h.tlsSession(t, name, addr, 587, k, noALPN, w.r.between(3000, 40000), w.r.between(500, 2000), func(f *flow) {
			f.t = f.t.Add(f.rtt)
			f.send(false, []byte("220 "+w.mailName+" ESMTP Postfix\r\n"))
			f.send(true, []byte("EHLO "+h.ehloName()+"\r\n"))
			f.send(false, []byte("250-"+w.mailName+"\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n"))
			f.send(true, []byte("STARTTLS\r\n"))
			f.send(false, []byte("220 2.0.0 Ready to start TLS\r\n"))
		})
	case MailIMAP:
		return h.tlsSession(t, name, addr, 143, k, noALPN, w.r.between(1500, 6000), w.r.between(8000, 120000), func(f *flow) {
			f.t = f.t.Add(f.rtt)
			f.send(false, []byte("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n"))
			if h.lbl.Apple {
				f.send(true, []byte(fmt.Sprintf("1 ID (\"name\" \"iPhone Mail\" \"version\" \"22B83\" \"os\" \"iOS\" \"os-version\" \"18.1 (22B83)\")\r\n")))
				f.send(false, []byte("* ID (\"name\" \"Dovecot\")\r\n1 OK ID completed.\r\n"))
			}
			f.send(true, []byte("2 STARTTLS\r\n"))
			f.send(false, []byte("2 OK Begin TLS negotiation now.\r\n"))
		})
	default: // MailHTTPS: ActiveSync/EWS
		return h.tlsSession(t, name, addr, 443, k, helloOpts{alpn: []string{"http/1.1"}}, w.r.between(2000, 8000), w.r.between(10000, 90000), nil)
	}
}

func (h *host) ehloName() string {
	if h.lbl.Apple {
		return "[" + h.ip.String() + "]"
	}
	if h.hostname != "" {
		return h.hostname
	}
	return "localhost"
}

const (
	ncsiReq     = "GET /connecttest.txt HTTP/1.1\r\nConnection: Close\r\nUser-Agent: Microsoft NCSI\r\nHost: www.msftconnecttest.com\r\n\r\n"
	ncsiResp    = "HTTP/1.1 200 OK\r\nContent-Length: 22\r\nContent-Type: text/plain\r\nCache-Control: max-age=30, must-revalidate\r\n\r\nMicrosoft Connect Test"
	androidReq  = "GET /generate_204 HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.32 Safari/537.36\r\nHost: connectivitycheck.gstatic.com\r\nConnection: Keep-Alive\r\nAccept-Encoding: gzip\r\n\r\n"
	androidResp = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nDate: Mon, 02 Nov 2026 08:00:00 GMT\r\n\r\n"
	ubuntuReq   = "GET / HTTP/1.1\r\nHost: connectivity-check.ubuntu.com\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	ubuntuResp  = "HTTP/1.1 204 No Content\r\nServer: nginx\r\nX-NetworkManager-Status: online\r\nConnection: close\r\n\r\n"
)

// windowsWake: NCSI probe, settings and login services (SChannel), Edge.
func (h *host) windowsWake(t time.Time) time.Time {
	w := h.w
	t, _ = h.lookup(t, "www.msftconnecttest.com", dns.TypeA)
	t = h.httpGet(t, "www.msftconnecttest.com", ncsiReq, ncsiResp)
	t, _ = h.lookup(t, "dns.msftncsi.com", dns.TypeA)
	for _, n := range []string{"settings-win.data.microsoft.com", "login.live.com", "v10.events.data.microsoft.com", "fe3cr.delivery.mp.microsoft.com"} {
		t = h.visit(t.Add(w.r.dur(100*time.Millisecond, 10*time.Second)), n, helloSChannel, w.r.between(800, 4000), w.r.between(2000, 20000))
	}
	return t
}

// icloudForWindows is the iCloud app on a PC: Apple names, but Windows
// stacks (SChannel and the Chromium-based web views).
func (h *host) icloudForWindows(t time.Time) time.Time {
	w := h.w
	for _, n := range []string{"setup.icloud.com", "gateway.icloud.com", fmt.Sprintf("p%d-contacts.icloud.com", w.r.between(20, 70)), fmt.Sprintf("p%d-caldav.icloud.com", w.r.between(20, 70)), "www.icloud.com"} {
		k := helloSChannel
		if w.r.chance(0.4) {
			k = helloChrome
		}
		t = h.visit(t.Add(w.r.dur(100*time.Millisecond, 5*time.Second)), n, k, w.r.between(800, 6000), w.r.between(4000, 60000))
	}
	return t
}

// androidWake: captive probe, Play services and FCM on 5228.
func (h *host) androidWake(t time.Time) time.Time {
	w := h.w
	t, _ = h.lookup(t, "connectivitycheck.gstatic.com", dns.TypeA, dns.TypeAAAA)
	t = h.httpGet(t, "connectivitycheck.gstatic.com", androidReq, androidResp)
	t = h.visit(t, "android.clients.google.com", helloOkHttp, 1200, 9000)
	t, addr := h.lookup(t, "mtalk.google.com", dns.TypeA, dns.TypeAAAA)
	if addr.IsValid() {
		t = h.tlsSession(t, "mtalk.google.com", addr, 5228, helloOkHttp, helloOpts{alpn: []string{}}, 600, 900, nil)
	}
	t = h.visit(t.Add(w.r.dur(time.Second, 20*time.Second)), "www.googleapis.com", helloChrome, 1000, 12000)
	return t
}

// linuxWake: NetworkManager's probe, then Firefox and apt.
func (h *host) linuxWake(t time.Time) time.Time {
	w := h.w
	t, _ = h.lookup(t, "connectivity-check.ubuntu.com", dns.TypeA, dns.TypeAAAA)
	t = h.httpGet(t, "connectivity-check.ubuntu.com", ubuntuReq, ubuntuResp)
	t = h.visit(t.Add(w.r.dur(time.Second, 30*time.Second)), "archive.ubuntu.com", helloFirefox, 800, 6000)
	t = h.visit(t.Add(w.r.dur(time.Second, 30*time.Second)), "firefox.settings.services.mozilla.com", helloFirefox, 800, 16000)
	return t
}

// browseSites are ordinary destinations any device's browser reaches.
var browseSites = []string{"www.wikipedia.org", "github.com", "www.bbc.co.uk", "news.ycombinator.com",
	"www.nytimes.com", "docs.corp-wiki.example", "www.youtube.com", "www.reddit.com", "stackoverflow.com"}

// appleSites are Apple's public web sites, which any browser may visit.
var appleSites = []string{"www.apple.com", "support.apple.com", "apps.apple.com"}

func (h *host) browse(t time.Time, n int, sites []string) time.Time {
	w := h.w
	for i := 0; i < n; i++ {
		t = h.visit(t.Add(w.r.dur(500*time.Millisecond, 40*time.Second)), pick(w.r, sites), h.prof.browser, w.r.between(600, 3000), w.r.between(5000, 150000))
	}
	return t
}
