package gencap

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// SampleAllowlistedMAC is the MAC of the allowlisted iPad in Sample; the
// demo config lists it as an approved device.
const SampleAllowlistedMAC = "aa:bb:cc:00:00:01"

// Sample writes a small office morning for the demo (a few thousand
// packets): an iPhone reading work mail over IMAPS and submission, an
// iPhone that does not, a Mac using ActiveSync/HTTPS to the mail server, a
// Windows PC with iCloud for Windows reading mail (not an Apple device), an
// Android phone reading mail, and an allowlisted iPad reading mail.
func Sample(out io.Writer) (*Labels, error) {
	tl := &timeline{}
	mailIP := netip.MustParseAddr(DefaultMailIP)
	w := newWorld(20261102, 4, DefaultMailName, mailIP, tl.add)
	r := w.r
	end := StartTime.Add(30 * time.Minute)
	type member struct {
		h   *host
		at  time.Time
		day func(h *host, t time.Time) time.Time
	}
	var ms []member
	quietApple := func(mail []string, server string) func(h *host, t time.Time) time.Time {
		return func(h *host, t time.Time) time.Time {
			t = h.appleWake(t, 3)
			if h.lbl.PrivateRelay {
				t = h.privateRelay(t.Add(time.Minute))
			}
			t = h.visit(t.Add(r.dur(time.Minute, 5*time.Minute)), "www.wikipedia.org", helloSafari, 800, 20000)
			for _, p := range mail {
				t = h.readMail(t.Add(r.dur(10*time.Second, 3*time.Minute)), p, server)
			}
			return t
		}
	}
	iphone1 := w.appleHost("iphone-mail", profIPhone, 0, true)
	iphone1.lbl.PrivateRelay = true
	ms = append(ms, member{iphone1, StartTime.Add(2 * time.Minute), quietApple([]string{MailIMAPS, MailSubmission}, "")})
	iphone2 := w.appleHost("iphone-nomail", profIPhone, 1, true)
	ms = append(ms, member{iphone2, StartTime.Add(4 * time.Minute), quietApple(nil, "")})
	mac := w.appleHost("mac-activesync", profMac, 2, false)
	ms = append(ms, member{mac, StartTime.Add(3 * time.Minute), quietApple([]string{MailHTTPS}, DefaultMailName)})
	pc := w.plainHost("pc-icloud", profWindows, 3, ouiDell, fmt.Sprintf("DESKTOP-%07X", r.Uint32()&0xfffffff))
	pc.lbl.ICloudWindows = true
	ms = append(ms, member{pc, StartTime.Add(1 * time.Minute), func(h *host, t time.Time) time.Time {
		t = h.windowsWake(t)
		t = h.icloudForWindows(t.Add(time.Minute))
		t = h.readMail(t.Add(time.Minute), MailIMAPS, "")
		return h.readMail(t.Add(time.Minute), MailHTTPS, DefaultMailName)
	}})
	android := w.plainHost("android-mail", profAndroid, 4, nil, "")
	ms = append(ms, member{android, StartTime.Add(5 * time.Minute), func(h *host, t time.Time) time.Time {
		t = h.androidWake(t)
		return h.readMail(t.Add(time.Minute), MailIMAPS, "")
	}})
	ipad := w.appleHost("ipad-allowlisted", profIPad, 5, true)
	ipad.node.mac = MAC{0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x01}
	ipad.lbl.MAC, ipad.lbl.PrivateMAC, ipad.lbl.Allowlisted = SampleAllowlistedMAC, true, true
	ipad.lbl.Note = "approved device: listed in the demo config's allow list"
	ms = append(ms, member{ipad, StartTime.Add(6 * time.Minute), quietApple([]string{MailIMAPS}, "")})
	for _, m := range ms {
		t := m.h.join(m.at, w.allocIP(), 12*time.Hour, end)
		m.day(m.h, t)
	}
	lb := &Labels{Capture: "sample", Start: StartTime, End: end, Gateway: w.gwIP.String(), Resolver: w.gwIP.String(),
		Mail: mailLabel(w), Allowlist: []string{SampleAllowlistedMAC}}
	for _, m := range ms {
		lb.Hosts = append(lb.Hosts, *m.h.lbl)
	}
	n, err := finish(out, tl, w)
	lb.Packets = n
	return lb, err
}

// Flood writes n TCP SYNs from n distinct IPv4 sources (and MACs), then a
// short normal session of an iPhone that reads work mail, so a test can
// check that detection still works after the host table was flooded.
func Flood(out io.Writer, n int, seed uint64) (*Labels, error) {
	if n < 0 || n > 1<<24 {
		return nil, fmt.Errorf("%w: flood size %d not in 0..16777216", ErrOption, n)
	}
	po, err := newPcapOut(out)
	if err != nil {
		return nil, err
	}
	r := newRNG(seed, 5)
	t := StartTime
	buf := make([]byte, 0, 128)
	dst := netip.MustParseAddr("203.0.113.80")
	opts := stackLinux.synOptions(0)
	for i := 0; i < n; i++ {
		// i*odd mod 2^24 is a bijection, so every source is distinct.
		v := uint32(i) * 2654435761 & 0xffffff
		src := netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
		mac := MAC{0x02, 0x5a, 0x00, byte(v >> 16), byte(v >> 8), byte(v)}
		binary.BigEndian.PutUint32(opts[8:], r.Uint32())
		h := tcpHeader(uint16(r.between(1024, 65535)), 443, r.Uint32(), 0, flSYN, 64240, opts)
		ip := ipHdr{src: src, dst: dst, ttl: 64, df: true, id: uint16(r.Uint32())}
		buf = appendFrame(buf[:0], officeGatewayMAC, mac, ip, protoTCP, h, nil, 16)
		po.write(t, buf)
		t = t.Add(10 * time.Microsecond)
	}
	tl := &timeline{}
	w := newWorld(seed, 6, DefaultMailName, netip.MustParseAddr(DefaultMailIP), tl.add)
	w.nextIP = 900
	ph := w.appleHost("iphone-after-flood", profIPhone, 0, true)
	start := t.Add(time.Second)
	tt := ph.join(start, w.allocIP(), 12*time.Hour, start.Add(time.Hour))
	tt = ph.appleWake(tt, 3)
	ph.readMail(tt.Add(time.Second), MailIMAPS, "")
	tl.writeTo(po)
	if err := po.flush(); err != nil {
		return nil, err
	}
	lb := &Labels{Capture: "flood", Seed: seed, Start: StartTime, End: start.Add(time.Hour), Packets: po.n,
		Gateway: w.gwIP.String(), Resolver: w.gwIP.String(), Mail: mailLabel(w), Hosts: []HostLabel{*ph.lbl}}
	return lb, w.err
}
