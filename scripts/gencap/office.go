package gencap

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// ErrOption reports an option out of range.
var ErrOption = errors.New("gencap: option")

// OfficeOptions configure Office.
type OfficeOptions struct {
	Hosts    int    // devices on the LAN; default 60, at least 12
	Seed     uint64 // same seed, same bytes
	MailName string // corporate mail server name; default mail.corp.example
	MailIP   string // its address; default 192.0.2.10
}

var firstNames = []string{"Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas",
	"Kara", "Liam", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen",
	"Xavier", "Yara", "Zoe"}

var (
	iphoneModels = []string{"iPhone14,2", "iPhone15,2", "iPhone16,1", "iPhone17,1", "iPhone14,5"}
	ipadModels   = []string{"iPad13,1", "iPad14,1", "iPad13,16"}
	macModels    = []string{"MacBookPro18,1", "Mac15,3", "MacBookAir10,1", "Mac14,2"}
	macOSVers    = []string{"14.6.1", "15.1", "15.0.1"}
)

func mailOpts(name, ip string) (string, netip.Addr, error) {
	if name == "" {
		name = DefaultMailName
	}
	if ip == "" {
		ip = DefaultMailIP
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return "", netip.Addr{}, fmt.Errorf("%w: mail address %q is not IPv4", ErrOption, ip)
	}
	return name, a, nil
}

// cast creates the office's devices. Each role is a function run once the
// host has joined.
type castMember struct {
	h      *host
	arrive time.Time
	leave  time.Time
	lease  time.Duration
	addr   netip.Addr // fixed address (the reused lease), else allocated
	day    func(h *host, t, until time.Time) time.Time
}

func (w *world) appleHost(id string, p *profile, idx int, private bool) *host {
	name := firstNames[idx%len(firstNames)]
	var mac MAC
	if private {
		mac = w.randomMAC(nil)
	} else {
		mac = w.randomMAC(ouiApple)
	}
	var hn, inst, model string
	h := w.newHost(id, p, mac, "")
	switch p.platform {
	case PlatformIOS:
		hn, inst, model = name+"s-iPhone", name+"’s iPhone", pick(w.r, iphoneModels)
		h.osvers = pick(w.r, []string{"17.6.1", "18.1", "18.0.1"})
	case PlatformIPadOS:
		hn, inst, model = name+"s-iPad", name+"’s iPad", pick(w.r, ipadModels)
		h.osvers = "18.1"
	default:
		hn, inst, model = name+"s-MacBook-Pro", name+"’s MacBook Pro", pick(w.r, macModels)
		h.osvers = pick(w.r, macOSVers)
	}
	h.hostname, h.lbl.Hostname = hn, hn
	h.mdnsName, h.mdnsHost, h.model, h.lbl.Model = inst, hn, model, model
	w.addV6(h)
	return h
}

// addV6 gives h a link-local and a SLAAC global address derived from
// random interface identifiers (RFC 7217-style, as Apple does).
func (w *world) addV6(h *host) {
	ll := netip.MustParseAddr("fe80::").As16()
	w.r.Read(ll[8:])
	h.ll6 = netip.AddrFrom16(ll)
	g := w.prefix6.Addr().As16()
	w.r.Read(g[8:])
	h.ip6 = netip.AddrFrom16(g)
}

func (w *world) plainHost(id string, p *profile, idx int, oui []byte, hostname string) *host {
	h := w.newHost(id, p, w.randomMAC(oui), hostname)
	return h
}

// Office writes a labelled office day: ≥50 devices of every kind, with the
// roles the detection must tell apart (see README.md).
func Office(out io.Writer, o OfficeOptions) (*Labels, error) {
	if o.Hosts == 0 {
		o.Hosts = 60
	}
	if o.Hosts < 12 || o.Hosts > 1000 {
		return nil, fmt.Errorf("%w: hosts %d not in 12..1000", ErrOption, o.Hosts)
	}
	mailName, mailIP, err := mailOpts(o.MailName, o.MailIP)
	if err != nil {
		return nil, err
	}
	tl := &timeline{}
	w := newWorld(o.Seed, 1, mailName, mailIP, tl.add)
	r := w.r
	n := o.Hosts
	nIPhone := n * 22 / 100
	nIPad := max(2, n*8/100)
	nMac := max(3, n*15/100)
	nAndroid := max(1, n*17/100)
	nLinux := max(1, n*13/100)
	nWin := n - nIPhone - nIPad - nMac - nAndroid - nLinux
	dayEnd := StartTime.Add(10 * time.Hour)
	var cast []*castMember
	add := func(h *host, arrive time.Time, day func(h *host, t, until time.Time) time.Time) *castMember {
		c := &castMember{h: h, arrive: arrive, leave: dayEnd.Add(-r.dur(0, 90*time.Minute)), lease: 12 * time.Hour, day: day}
		cast = append(cast, c)
		return c
	}
	morning := func() time.Time { return StartTime.Add(r.dur(0, 90*time.Minute)) }

	for i := 0; i < nIPhone; i++ {
		h := w.appleHost(fmt.Sprintf("iphone-%02d", i+1), profIPhone, i, r.chance(0.85) || i < 2)
		h.lbl.PrivateRelay = i%3 != 2
		mail := i%2 == 0
		protos := []string{MailIMAPS, MailSubmission}
		if i%4 == 2 {
			protos = []string{MailIMAP, MailSubmission}
		}
		add(h, morning(), appleDay(mail, protos, ""))
	}
	for i := 0; i < nIPad; i++ {
		h := w.appleHost(fmt.Sprintf("ipad-%02d", i+1), profIPad, i+nIPhone, r.chance(0.5))
		add(h, morning(), appleDay(i == 0, []string{MailIMAPS}, ""))
	}
	for i := 0; i < nMac; i++ {
		h := w.appleHost(fmt.Sprintf("mac-%02d", i+1), profMac, i+nIPhone+nIPad, r.chance(0.3))
		switch {
		case i == nMac-1: // loses its lease; a PC later gets the address
			h.lbl.Note = "leaves at 09:30; its address is reassigned to " + fmt.Sprintf("pc-%02d", nWin) + " after the lease ends"
			c := add(h, StartTime.Add(5*time.Minute), appleDay(false, nil, ""))
			c.leave, c.lease = StartTime.Add(90*time.Minute), 2*time.Hour
		case i == nMac-2:
			h.lbl.OnlyBrowses = true
			h.lbl.Note = "Apple device that only browses: no mail"
			add(h, morning(), appleDay(false, nil, ""))
		case i%2 == 0:
			add(h, morning(), appleDay(true, []string{MailHTTPS}, mailName))
		case i%4 == 1:
			add(h, morning(), appleDay(true, []string{MailHTTPS}, ActiveSyncName))
		default:
			add(h, morning(), appleDay(false, nil, ""))
		}
	}
	var moveMac *castMember
	for _, c := range cast {
		if c.h.lbl.ID == fmt.Sprintf("mac-%02d", nMac) {
			moveMac = c
		}
	}
	for i := 0; i < nWin; i++ {
		hn := fmt.Sprintf("DESKTOP-%07X", r.Uint32()&0xfffffff)
		h := w.plainHost(fmt.Sprintf("pc-%02d", i+1), profWindows, i, pick(r, [][]byte{ouiDell, ouiLenovo}), hn)
		kind := i % 4
		switch {
		case i == nWin-1:
			h.lbl.Note = "gets the address " + moveMac.h.lbl.ID + " held, after its lease ended, then reads mail"
			c := add(h, StartTime.Add(3*time.Hour), windowsDay(true, false, false, []string{MailHTTPS, MailIMAPS}))
			c.addr = netip.Addr{} // set below, once the Mac's address is known
		case kind == 0:
			h.lbl.ICloudWindows = true
			add(h, morning(), windowsDay(i%8 == 0, true, false, []string{MailIMAPS, MailSubmission}))
		case kind == 1:
			h.lbl.BrowsesApple = true
			add(h, morning(), windowsDay(false, false, true, nil))
		default:
			add(h, morning(), windowsDay(kind == 2, false, false, []string{MailHTTPS}))
		}
	}
	for i := 0; i < nAndroid; i++ {
		hn := ""
		if i%2 == 0 {
			hn = fmt.Sprintf("android-%016x", r.Uint64())
		}
		oui := ouiSamsg
		if r.chance(0.7) {
			oui = nil
		}
		h := w.plainHost(fmt.Sprintf("android-%02d", i+1), profAndroid, i, oui, hn)
		add(h, morning(), genericDay((*host).androidWake, i%2 == 1, []string{pick(r, []string{MailIMAPS, MailHTTPS})}))
	}
	for i := 0; i < nLinux; i++ {
		h := w.plainHost(fmt.Sprintf("linux-%02d", i+1), profLinux, i, ouiIntel, "ws-"+firstNames[(i+7)%len(firstNames)])
		add(h, morning(), genericDay((*host).linuxWake, i%2 == 0, []string{MailIMAP, MailSubmission}))
	}
	// Addresses: allocated in arrival order; the last PC reuses the Mac's.
	for _, c := range cast {
		if c.h.lbl.ID == fmt.Sprintf("pc-%02d", nWin) {
			continue
		}
		c.addr = w.allocIP()
	}
	for _, c := range cast {
		if c.h.lbl.ID == fmt.Sprintf("pc-%02d", nWin) {
			c.addr = moveMac.addr
		}
	}
	for _, c := range cast {
		t := c.h.join(c.arrive, c.addr, c.lease, dayEnd)
		c.day(c.h, t, c.leave)
	}
	lb := &Labels{Capture: "office", Seed: o.Seed, Start: StartTime, End: dayEnd, Gateway: w.gwIP.String(), Resolver: w.gwIP.String()}
	lb.Mail = mailLabel(w)
	for _, c := range cast {
		lb.Hosts = append(lb.Hosts, *c.h.lbl)
	}
	n2, err := finish(out, tl, w)
	lb.Packets = n2
	return lb, err
}

func mailLabel(w *world) MailLabel {
	m := MailLabel{Name: w.mailName, Address: w.mailIP.String(), ActiveSync: ActiveSyncName}
	for _, a := range w.resolve(ActiveSyncName).v4 {
		m.ActiveSyncIPs = append(m.ActiveSyncIPs, a.String())
	}
	return m
}

// finish writes the timeline and reports the first error.
func finish(out io.Writer, tl *timeline, w *world) (int, error) {
	po, err := newPcapOut(out)
	if err != nil {
		return 0, err
	}
	tl.writeTo(po)
	if err := po.flush(); err != nil {
		return po.n, err
	}
	return po.n, w.err
}

// sessions runs fn at random moments between t and until.
func sessions(h *host, t, until time.Time, n int, fn func(i int, t time.Time) time.Time) {
	if !until.After(t) {
		return
	}
	span := until.Sub(t)
	for i := 0; i < n; i++ {
		at := t.Add(time.Duration(float64(span) * (float64(i) + h.w.r.Float64()) / float64(n)))
		fn(i, at)
	}
}

// appleDay: wake-up background traffic, periodic push/mDNS, browsing with
// Safari (through Private Relay where enabled), a bulk transfer (photos,
// update) and, for mail readers, mail checks.
func appleDay(mail bool, protos []string, server string) func(h *host, t, until time.Time) time.Time {
	return func(h *host, t, until time.Time) time.Time {
		w := h.w
		t = h.appleWake(t, w.r.between(5, 9))
		sessions(h, t, until, w.r.between(4, 7), func(i int, t time.Time) time.Time {
			if i%2 == 0 {
				t = h.mdnsAnnounce(t, h.mdnsServices())
			}
			if h.lbl.PrivateRelay {
				t = h.privateRelay(t)
			} else {
				t = h.browse(t, w.r.between(1, 2), browseSites)
			}
			if h.lbl.OnlyBrowses || i == 1 {
				t = h.browse(t, w.r.between(1, 3), append(appleSites, browseSites...))
			}
			if i == 2 {
				t = h.bulk(t, pick(w.r, []string{"updates.cdn-apple.com", "cvws.icloud-content.com"}), h.prof.system, w.r.between(20000, 200000), w.r.between(150000, 600000))
			}
			t = h.visit(t, pick(w.r, appleBackground), h.prof.system, w.r.between(400, 2000), w.r.between(1000, 12000))
			if mail {
				for _, p := range protos {
					t = h.readMail(t.Add(w.r.dur(time.Second, 30*time.Second)), p, server)
				}
			}
			return t
		})
		return t
	}
}

func windowsDay(mail, icloud, appleWeb bool, protos []string) func(h *host, t, until time.Time) time.Time {
	return func(h *host, t, until time.Time) time.Time {
		w := h.w
		t = h.windowsWake(t)
		sessions(h, t, until, w.r.between(4, 7), func(i int, t time.Time) time.Time {
			k := helloChrome
			if i%2 == 1 {
				k = helloEdge
			}
			t = h.visit(t, pick(w.r, browseSites), k, w.r.between(600, 3000), w.r.between(5000, 120000))
			if icloud {
				t = h.icloudForWindows(t)
			}
			if appleWeb {
				for _, s := range appleSites {
					t = h.visit(t.Add(w.r.dur(time.Second, 20*time.Second)), s, k, w.r.between(600, 3000), w.r.between(20000, 150000))
				}
			}
			if i == 1 {
				t = h.bulk(t, "download.windowsupdate.com", helloSChannel, 20000, w.r.between(200000, 700000))
			}
			if mail {
				for _, p := range protos {
					server := ""
					if p == MailHTTPS && i%2 == 0 {
						server = ActiveSyncName
					}
					t = h.readMail(t.Add(w.r.dur(time.Second, 30*time.Second)), p, server)
				}
			}
			return t
		})
		return t
	}
}

func genericDay(wake func(*host, time.Time) time.Time, mail bool, protos []string) func(h *host, t, until time.Time) time.Time {
	return func(h *host, t, until time.Time) time.Time {
		w := h.w
		t = wake(h, t)
		sessions(h, t, until, w.r.between(3, 6), func(i int, t time.Time) time.Time {
			t = h.browse(t, w.r.between(1, 2), browseSites)
			if i == 1 {
				t = h.bulk(t, "dl.google.com", h.prof.browser, 10000, w.r.between(150000, 500000))
			}
			if mail {
				for _, p := range protos {
					server := ""
					if p == MailHTTPS {
						server = ActiveSyncName
					}
					t = h.readMail(t.Add(w.r.dur(time.Second, 30*time.Second)), p, server)
				}
			}
			return t
		})
		return t
	}
}
