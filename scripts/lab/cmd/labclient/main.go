// Command labclient is one client of the orchard end-to-end lab. It runs
// inside a client network namespace on the lab LAN and behaves like one
// platform: it gets an address by DHCP with that platform's options, looks up
// the names that platform looks up, announces itself over mDNS where the
// platform does, and (for the *-mail profiles) reads and submits work mail on
// the lab's dovecot and postfix, all over real sockets.
//
// It prints a JSON result (profile, MAC, leased address, steps) to -out and
// exits non-zero when any step failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
)

// result is one client's line in the lab manifest.
type result struct {
	Profile       string `json:"profile"`
	Namespace     string `json:"namespace,omitempty"`
	MAC           string `json:"mac"`
	IP            string `json:"ip"`
	Hostname      string `json:"hostname"`
	Apple         bool   `json:"apple"`
	ReadsMail     bool   `json:"reads_mail"`
	ExpectedAlert bool   `json:"expected_alert"`
	Allowlisted   bool   `json:"allowlisted"`
	TLS           string `json:"tls"`
	OK            bool   `json:"ok"`
	Steps         []step `json:"steps"`
}

type step struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	MS     int64  `json:"ms"`
}

func main() {
	var (
		profileName = flag.String("profile", "", "client profile: "+strings.Join(profileNames(), ", "))
		ifname      = flag.String("iface", "eth0", "LAN interface in this namespace")
		caFile      = flag.String("ca", "", "lab CA certificate (PEM)")
		out         = flag.String("out", "", "write the JSON result here (default stdout)")
		nsName      = flag.String("ns", "", "namespace name, recorded in the result")
		timeout     = flag.Duration("timeout", 60*time.Second, "overall time limit")
		mailAlpn    = flag.String("mail-alpn", "", "comma-separated ALPN list for mail TLS instead of the parrot's own")
	)
	flag.Parse()
	p, ok := profiles[*profileName]
	if !ok {
		fmt.Fprintf(os.Stderr, "labclient: unknown profile %q (want one of %s)\n", *profileName, strings.Join(profileNames(), ", "))
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	r := &result{Profile: p.Name, Namespace: *nsName, Hostname: p.DHCP.Hostname, Apple: p.Apple,
		ReadsMail: p.Mail != mailNone, ExpectedAlert: p.ExpectedAlert, Allowlisted: p.Allowlisted, TLS: string(p.Hello)}
	var alpn []string
	if *mailAlpn != "" {
		alpn = strings.Split(*mailAlpn, ",")
	}
	err := run(ctx, p, *ifname, *caFile, alpn, r)
	r.OK = err == nil
	enc, _ := json.Marshal(r)
	enc = append(enc, '\n')
	if *out != "" {
		if werr := os.WriteFile(*out, enc, 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "labclient:", werr)
			os.Exit(1)
		}
	} else {
		os.Stdout.Write(enc)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "labclient %s: %v\n", p.Name, err)
		os.Exit(1)
	}
}

// run does the profile's steps in order and stops at the first failure.
func run(ctx context.Context, p profile, ifname, caFile string, alpn []string, r *result) error {
	do := func(name string, f func() (string, error)) error {
		start := time.Now()
		detail, err := f()
		s := step{Name: name, OK: err == nil, Detail: detail, MS: time.Since(start).Milliseconds()}
		if err != nil {
			s.Detail = err.Error()
		}
		r.Steps = append(r.Steps, s)
		fmt.Fprintf(os.Stderr, "labclient %s: %-14s ok=%v %s\n", p.Name, name, s.OK, s.Detail)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	r.MAC = ifi.HardwareAddr.String()
	tc, err := newTLSClient(p.Hello, caFile)
	if err != nil {
		return err
	}
	if p.ECN {
		// Apple stacks negotiate ECN on every connection (SYN with ECE+CWR).
		if err := do("sysctl-ecn", func() (string, error) {
			return "net.ipv4.tcp_ecn=1", os.WriteFile("/proc/sys/net/ipv4/tcp_ecn", []byte("1\n"), 0o644)
		}); err != nil {
			return err
		}
	}

	var l lease
	if err := do("dhcp", func() (string, error) {
		var err error
		l, err = runDHCP(ctx, ifname, p.DHCP)
		if err != nil {
			return "", err
		}
		r.IP = l.Addr.Addr().String()
		return fmt.Sprintf("leased %v from %v, dns %v, routes %v", l.Addr, l.Server, l.DNS, l.Routes), applyLease(ctx, ifname, l)
	}); err != nil {
		return err
	}
	if len(l.DNS) == 0 {
		return errors.New("dhcp: lease has no DNS server")
	}
	res := &resolver{server: l.DNS[0]}

	if err := do("dns", func() (string, error) {
		for _, n := range p.Names {
			if _, err := res.lookup(ctx, n, p.HTTPSRR); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d names via %v", len(p.Names), res.server), nil
	}); err != nil {
		return err
	}
	if p.MDNS != nil {
		if err := do("mdns", func() (string, error) { return announceMDNS(ifi, l.Addr.Addr(), p.MDNS) }); err != nil {
			return err
		}
	}
	if p.Probe != nil {
		if err := do("http-probe", func() (string, error) { return httpProbe(ctx, res, p.Probe) }); err != nil {
			return err
		}
	}
	for _, host := range p.Browse {
		if err := do("https "+host, func() (string, error) { return httpsGet(ctx, tc, res, host) }); err != nil {
			return err
		}
	}

	switch p.Mail {
	case mailNone:
		return nil
	case mailCLI:
		return cliMail(ctx, do, res, caFile)
	}
	mailIP, err := res.lookup(ctx, mailName, false)
	if err != nil {
		return err
	}
	ip := mailIP.String()
	if err := do("imaps 993", func() (string, error) { return imapsRead(ctx, tc, ip, mailName, account, alpn) }); err != nil {
		return err
	}
	if err := do("submission 587", func() (string, error) {
		return submit(ctx, tc, ip, mailName, p.DHCP.Hostname, account, alpn)
	}); err != nil {
		return err
	}
	return do("imap 143", func() (string, error) { return imapStartTLSRead(ctx, tc, ip, mailName, account, alpn) })
}

// applyLease puts the leased address on the interface and installs the
// classless static routes. A default route is refused: nothing in the lab
// may have one, so traffic cannot leave it.
func applyLease(ctx context.Context, ifname string, l lease) error {
	if err := ipCmd(ctx, "addr", "add", l.Addr.String(), "dev", ifname); err != nil {
		return err
	}
	if len(l.Routes) == 0 {
		return errors.New("lease has no classless static routes (option 121); the lab needs them")
	}
	for _, rt := range l.Routes {
		if rt.Dst.Bits() == 0 {
			continue
		}
		if err := ipCmd(ctx, "route", "add", rt.Dst.String(), "via", rt.Via.String(), "dev", ifname); err != nil {
			return err
		}
	}
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cliMail is the linux-mail profile: openssl s_client logs in over IMAPS,
// curl fetches over IMAP+STARTTLS and submits over 587 with STARTTLS.
func cliMail(ctx context.Context, do func(string, func() (string, error)) error, res *resolver, caFile string) error {
	addr, err := res.lookup(ctx, mailName, false)
	if err != nil {
		return err
	}
	ip := addr.String()
	if err := do("openssl 993", func() (string, error) {
		cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", ip+":993", "-servername", mailName,
			"-CAfile", caFile, "-verify_return_error", "-quiet", "-ign_eof")
		cmd.Stdin = strings.NewReader("a1 LOGIN " + account.User + " " + account.Pass + "\r\na2 LOGOUT\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("openssl s_client: %v: %s", err, out)
		}
		if !strings.Contains(string(out), "a1 OK") {
			return "", fmt.Errorf("openssl s_client: login not OK: %s", out)
		}
		return "a1 OK", nil
	}); err != nil {
		return err
	}
	resolve := "--resolve"
	if err := do("curl imap 143", func() (string, error) {
		out, err := exec.CommandContext(ctx, "curl", "-sS", "-g", "--max-time", "15", "--cacert", caFile,
			resolve, mailName+":143:"+ip, "--ssl-reqd", "-u", account.User+":"+account.Pass,
			"imap://"+mailName+"/INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("curl imap: %v: %s", err, out)
		}
		if !strings.Contains(strings.ToLower(string(out)), "subject:") {
			return "", fmt.Errorf("curl imap: no subject: %s", out)
		}
		return strings.TrimSpace(string(out)), nil
	}); err != nil {
		return err
	}
	return do("curl smtp 587", func() (string, error) {
		cmd := exec.CommandContext(ctx, "curl", "-sS", "-g", "--max-time", "15", "--cacert", caFile,
			resolve, mailName+":587:"+ip, "--ssl-reqd", "-u", account.User+":"+account.Pass,
			"--mail-from", account.From, "--mail-rcpt", account.To, "-T", "-",
			"smtp://"+mailName+":587")
		cmd.Stdin = strings.NewReader("Subject: lab message from curl\r\n\r\nSent by the orchard lab.\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("curl smtp: %v: %s", err, out)
		}
		return "submitted", nil
	})
}

// httpsGet fetches / from host over TLS with the profile's ClientHello.
func httpsGet(ctx context.Context, tc *tlsClient, res *resolver, host string) (string, error) {
	addr, err := res.lookup(ctx, host, false)
	if err != nil {
		return "", err
	}
	conn, ver, err := tc.dial(ctx, addr.String(), 443, host, nil)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + safariUA + "\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return "", err
	}
	body, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil && len(body) == 0 {
		return "", err
	}
	status, _, _ := strings.Cut(string(body), "\r\n")
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return "", fmt.Errorf("https %s: %q", host, status)
	}
	return ver + " " + status, nil
}

// httpProbe is the captive-portal or connectivity check over plain HTTP.
func httpProbe(ctx context.Context, res *resolver, pr *probe) (string, error) {
	addr, err := res.lookup(ctx, pr.Host, false)
	if err != nil {
		return "", err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(addr, 80).String())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + pr.Path + " HTTP/1.1\r\nHost: " + pr.Host + "\r\nAccept: */*\r\nUser-Agent: " + pr.UA + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return "", err
	}
	body, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil && len(body) == 0 {
		return "", err
	}
	if !strings.Contains(string(body), pr.Want) {
		return "", fmt.Errorf("http %s%s: want %q in %q", pr.Host, pr.Path, pr.Want, body)
	}
	status, _, _ := strings.Cut(string(body), "\r\n")
	return status, nil
}
