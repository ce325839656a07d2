package main

import (
	"slices"
	"sort"
)

// The lab's work-mail server and mailbox, matching lab.sh and orchard-lab.yaml.
const mailName = "mail.corp.example"

var account = mailAccount{User: "alice", Pass: "lab-pass-4711", From: "alice@corp.example", To: "bob@corp.example"}

const safariUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

type mailMode int

const (
	mailNone mailMode = iota
	mailGo            // IMAPS, submission and IMAP STARTTLS from this program's TLS client
	mailCLI           // openssl s_client and curl
)

// probe is a plain-HTTP connectivity check.
type probe struct {
	Host, Path, UA, Want string
}

// mdnsAnnounce is what the client announces on 224.0.0.251:5353.
type mdnsAnnounce struct {
	Instance string
	Services []string // service types, each gets PTR, SRV, TXT
	Model    string   // _device-info._tcp TXT model=
}

// profile is one kind of client.
type profile struct {
	Name          string
	Apple         bool
	ECN           bool // set net.ipv4.tcp_ecn=1 in the client namespace
	DHCP          dhcpProfile
	Names         []string // looked up (A) after DHCP
	HTTPSRR       bool     // also ask type HTTPS (65) for each name, as iOS 14+ does
	MDNS          *mdnsAnnounce
	Probe         *probe
	Browse        []string // HTTPS GET / with the profile's ClientHello
	Hello         helloKind
	Mail          mailMode
	ExpectedAlert bool
	Allowlisted   bool
}

// iOS DHCP: option 55 list and order, max size 1500, client id, lease time,
// host name, no vendor class; TTL 255 on the broadcast.
var iosDHCP = dhcpProfile{
	ParamList: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46},
	Hostname:  "Lab-iPhone",
	MaxSize:   1500,
	LeaseTime: 7776000,
	TTL:       255,
	ClientID:  true,
}

var appleNames = []string{
	"captive.apple.com", "1-courier.push.apple.com", "mesu.apple.com", "gdmf.apple.com",
	"gspe1-ssl.ls.apple.com", "gateway.icloud.com", "p57-keyvalueservice.icloud.com",
	"mask.icloud.com", "doh.dns.apple.com", "configuration.apple.com", "init.itunes.apple.com",
}

var appleProbe = &probe{Host: "captive.apple.com", Path: "/hotspot-detect.html",
	UA: "CaptiveNetworkSupport-481.0.1 wispr", Want: "Success"}

func appleMDNS(host string) *mdnsAnnounce {
	return &mdnsAnnounce{Instance: host, Services: []string{"_companion-link._tcp.local.", "_rdlink._tcp.local."}, Model: "iPhone14,2"}
}

var profiles = map[string]profile{
	"apple-mail": {
		Name: "apple-mail", Apple: true, ECN: true, DHCP: iosDHCP,
		Names: slices.Concat(appleNames, []string{mailName}), HTTPSRR: true, MDNS: appleMDNS("Lab-iPhone"), Probe: appleProbe,
		Browse: []string{"gateway.icloud.com"}, Hello: helloIOS14, Mail: mailGo, ExpectedAlert: true,
	},
	"apple-browse": {
		Name: "apple-browse", Apple: true, ECN: true, DHCP: withHostname(iosDHCP, "Lab-iPhone-Browse"),
		Names: appleNames, HTTPSRR: true, MDNS: appleMDNS("Lab-iPhone-Browse"), Probe: appleProbe,
		Browse: []string{"www.apple.com", "gateway.icloud.com"}, Hello: helloSafari16,
	},
	"apple-allowed": {
		Name: "apple-allowed", Apple: true, ECN: true, DHCP: withHostname(iosDHCP, "Lab-iPhone-Allowed"),
		Names: slices.Concat(appleNames, []string{mailName}), HTTPSRR: true, MDNS: appleMDNS("Lab-iPhone-Allowed"), Probe: appleProbe,
		Browse: []string{"gateway.icloud.com"}, Hello: helloIOS14, Mail: mailGo, Allowlisted: true,
	},
	// Windows 10/11: vendor class "MSFT 5.0" and Windows' option list.
	"pc-mail": {
		Name: "pc-mail",
		DHCP: dhcpProfile{ParamList: []byte{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252},
			VendorClass: "MSFT 5.0", Hostname: "LAB-PC", TTL: 128, ClientID: true},
		Names: []string{"www.msftconnecttest.com", "login.microsoftonline.com", mailName},
		Probe: &probe{Host: "www.msftconnecttest.com", Path: "/connecttest.txt", UA: "Microsoft NCSI", Want: "Microsoft Connect Test"},
		Hello: helloGo, Mail: mailGo,
	},
	// Debian's dhclient request list; mail through openssl and curl.
	"linux-mail": {
		Name: "linux-mail",
		DHCP: dhcpProfile{ParamList: []byte{1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42},
			Hostname: "lab-linux", TTL: 64},
		Names: []string{"deb.debian.org", mailName},
		Hello: helloGo, Mail: mailCLI,
	},
	// Android 13: vendor class android-dhcp-13, OkHttp ClientHello.
	"android-mail": {
		Name: "android-mail",
		DHCP: dhcpProfile{ParamList: []byte{1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108},
			VendorClass: "android-dhcp-13", Hostname: "Lab-Android", MaxSize: 1500, TTL: 64, ClientID: true},
		Names: []string{"connectivitycheck.gstatic.com", "www.google.com", mailName},
		Probe: &probe{Host: "connectivitycheck.gstatic.com", Path: "/generate_204", UA: "Dalvik/2.1.0 (Linux; U; Android 13)", Want: "204"},
		Hello: helloAndroid, Mail: mailGo,
	},
}

func withHostname(p dhcpProfile, h string) dhcpProfile {
	p.Hostname = h
	return p
}

func profileNames() []string {
	var n []string
	for k := range profiles {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
