package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"
)

// mailAccount is the lab mailbox (dovecot static passdb; postfix SASL goes
// through dovecot's auth).
type mailAccount struct {
	User, Pass, From, To string
}

// textConn is a line-oriented protocol connection with a deadline per step.
type textConn struct {
	c  net.Conn
	r  *bufio.Reader
	to time.Duration
}

func newTextConn(c net.Conn) *textConn {
	return &textConn{c: c, r: bufio.NewReader(c), to: 10 * time.Second}
}

func (t *textConn) send(line string) error {
	_ = t.c.SetWriteDeadline(time.Now().Add(t.to))
	_, err := t.c.Write([]byte(line + "\r\n"))
	return err
}

func (t *textConn) line() (string, error) {
	_ = t.c.SetReadDeadline(time.Now().Add(t.to))
	s, err := t.r.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

// imapCmd sends "tag cmd" and reads up to the tagged reply, which must be OK.
func (t *textConn) imapCmd(tag, cmd string) ([]string, error) {
	if err := t.send(tag + " " + cmd); err != nil {
		return nil, err
	}
	var untagged []string
	for {
		l, err := t.line()
		if err != nil {
			return untagged, fmt.Errorf("imap %s: %w", firstWord(cmd), err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				return untagged, fmt.Errorf("imap %s: %s", firstWord(cmd), l)
			}
			return untagged, nil
		}
		untagged = append(untagged, l)
	}
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}

// imapGreeting reads the server greeting, which must be "* OK".
func (t *textConn) imapGreeting() error {
	l, err := t.line()
	if err != nil {
		return fmt.Errorf("imap greeting: %w", err)
	}
	if !strings.HasPrefix(l, "* OK") {
		return fmt.Errorf("imap greeting: %q", l)
	}
	return nil
}

// imapSession logs in, opens INBOX, fetches the first message's subject and
// logs out, checking every reply; it returns what it saw.
func imapSession(t *textConn, acct mailAccount) (string, error) {
	if _, err := t.imapCmd("a1", fmt.Sprintf("LOGIN %s %s", acct.User, acct.Pass)); err != nil {
		return "", err
	}
	sel, err := t.imapCmd("a2", "SELECT INBOX")
	if err != nil {
		return "", err
	}
	exists := ""
	for _, l := range sel {
		if strings.HasSuffix(l, " EXISTS") {
			exists = strings.TrimSuffix(strings.TrimPrefix(l, "* "), " EXISTS")
		}
	}
	if exists == "" || exists == "0" {
		return "", fmt.Errorf("imap SELECT INBOX: no messages (%q)", sel)
	}
	fetch, err := t.imapCmd("a3", "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	if err != nil {
		return "", err
	}
	subject := ""
	for _, l := range fetch {
		if strings.HasPrefix(strings.ToLower(l), "subject:") {
			subject = strings.TrimSpace(l[len("subject:"):])
		}
	}
	if subject == "" {
		return "", fmt.Errorf("imap FETCH: no subject in %q", fetch)
	}
	bye, err := t.imapCmd("a4", "LOGOUT")
	if err != nil {
		return "", err
	}
	if len(bye) == 0 || !strings.HasPrefix(bye[0], "* BYE") {
		return "", fmt.Errorf("imap LOGOUT: no BYE in %q", bye)
	}
	return fmt.Sprintf("%s messages, first subject %q", exists, subject), nil
}

// imapsRead reads mail over implicit TLS (993).
func imapsRead(ctx context.Context, tc *tlsClient, ip, name string, acct mailAccount, alpn []string) (string, error) {
	conn, ver, err := tc.dial(ctx, ip, 993, name, alpn)
	if err != nil {
		return "", fmt.Errorf("imaps: %w", err)
	}
	defer conn.Close()
	t := newTextConn(conn)
	if err := t.imapGreeting(); err != nil {
		return "", err
	}
	got, err := imapSession(t, acct)
	return ver + ": " + got, err
}

// imapStartTLSRead reads mail over 143 after STARTTLS.
func imapStartTLSRead(ctx context.Context, tc *tlsClient, ip, name string, acct mailAccount, alpn []string) (string, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(ip, "143"))
	if err != nil {
		return "", fmt.Errorf("imap: %w", err)
	}
	defer raw.Close()
	t := newTextConn(raw)
	if err := t.imapGreeting(); err != nil {
		return "", err
	}
	if _, err := t.imapCmd("s1", "STARTTLS"); err != nil {
		return "", err
	}
	conn, ver, err := tc.client(ctx, raw, name, alpn)
	if err != nil {
		return "", fmt.Errorf("imap STARTTLS: %w", err)
	}
	defer conn.Close()
	got, err := imapSession(newTextConn(conn), acct)
	return ver + ": " + got, err
}

// smtpReply reads a (multi-line) reply and checks its code.
func (t *textConn) smtpReply(want string) ([]string, error) {
	var lines []string
	for {
		l, err := t.line()
		if err != nil {
			return lines, fmt.Errorf("smtp: waiting for %s: %w", want, err)
		}
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			if !strings.HasPrefix(l, want) {
				return lines, fmt.Errorf("smtp: want %s, got %q", want, lines)
			}
			return lines, nil
		}
	}
}

func (t *textConn) smtpCmd(cmd, want string) ([]string, error) {
	if err := t.send(cmd); err != nil {
		return nil, err
	}
	return t.smtpReply(want)
}

// submit sends one message through 587 with STARTTLS and AUTH PLAIN.
func submit(ctx context.Context, tc *tlsClient, ip, name, helo string, acct mailAccount, alpn []string) (string, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(ip, "587"))
	if err != nil {
		return "", fmt.Errorf("submission: %w", err)
	}
	defer raw.Close()
	t := newTextConn(raw)
	if _, err := t.smtpReply("220"); err != nil {
		return "", err
	}
	ehlo, err := t.smtpCmd("EHLO "+helo, "250")
	if err != nil {
		return "", err
	}
	if !strings.Contains(strings.Join(ehlo, "\n"), "STARTTLS") {
		return "", fmt.Errorf("smtp: no STARTTLS offered: %q", ehlo)
	}
	if _, err := t.smtpCmd("STARTTLS", "220"); err != nil {
		return "", err
	}
	conn, ver, err := tc.client(ctx, raw, name, alpn)
	if err != nil {
		return "", fmt.Errorf("smtp STARTTLS: %w", err)
	}
	defer conn.Close()
	t = newTextConn(conn)
	if _, err := t.smtpCmd("EHLO "+helo, "250"); err != nil {
		return "", err
	}
	auth := base64.StdEncoding.EncodeToString([]byte("\x00" + acct.User + "\x00" + acct.Pass))
	if _, err := t.smtpCmd("AUTH PLAIN "+auth, "235"); err != nil {
		return "", err
	}
	if _, err := t.smtpCmd("MAIL FROM:<"+acct.From+">", "250"); err != nil {
		return "", err
	}
	if _, err := t.smtpCmd("RCPT TO:<"+acct.To+">", "250"); err != nil {
		return "", err
	}
	if _, err := t.smtpCmd("DATA", "354"); err != nil {
		return "", err
	}
	msg := strings.Join([]string{
		"From: " + acct.From,
		"To: " + acct.To,
		"Subject: lab message from " + helo,
		"Date: " + time.Now().Format(time.RFC1123Z),
		"",
		"Sent by the orchard end-to-end lab.",
		".",
	}, "\r\n")
	queued, err := t.smtpCmd(msg, "250")
	if err != nil {
		return "", err
	}
	_, _ = t.smtpCmd("QUIT", "221")
	return ver + ": " + strings.Join(queued, " "), nil
}
