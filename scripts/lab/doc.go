// Package lab runs orchard's end-to-end lab: network namespaces with a
// gateway (LAN bridge, dnsmasq for DHCP and DNS, IP forwarding), a server
// namespace with real dovecot (IMAPS 993, IMAP 143 + STARTTLS), real postfix
// (submission 587, STARTTLS, SASL through dovecot) and a small HTTPS server,
// and clients that behave like an iPhone, a Windows PC, a Linux box and an
// Android phone (cmd/labclient). tcpdump records the gateway's LAN bridge.
// No namespace has a default route: no packet leaves the lab.
//
// The work is done by lab.sh and setup-deps.sh beside this file; Run drives
// them for tests (this package's TestLab and TestLabAlerts, and the live
// capture tests, which hook a sensor in through Options.BeforeTraffic).
//
// It imports nothing of the project. Errors: ErrNotRoot when not root,
// ErrNoSource when the script folder is missing; any failed step returns an
// error with the tail of DIR/lab.log, which holds the servers' logs of a
// failed step.
package lab
