package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	utls "github.com/refraction-networking/utls"
)

// helloKind says which ClientHello a profile's TLS connections carry.
type helloKind string

const (
	helloIOS14    helloKind = "ios14"    // uTLS HelloIOS_14
	helloSafari16 helloKind = "safari16" // uTLS HelloSafari_16_0
	helloAndroid  helloKind = "android"  // uTLS HelloAndroid_11_OkHttp
	helloGo       helloKind = "go"       // crypto/tls
)

// tlsClient upgrades a connection to TLS with a profile's ClientHello and
// verifies the server against the lab CA.
type tlsClient struct {
	kind  helloKind
	roots *x509.CertPool
}

func newTLSClient(kind helloKind, caFile string) (*tlsClient, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: no certificate in %s", caFile)
	}
	return &tlsClient{kind: kind, roots: roots}, nil
}

// client runs the handshake over conn for serverName, bounded by ctx.
// alpn overrides the parrot's ALPN list when non-nil (a mail client does not
// offer h2); it is ignored for crypto/tls, which sends none unless asked.
func (c *tlsClient) client(ctx context.Context, conn net.Conn, serverName string, alpn []string) (net.Conn, string, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(dl)
	defer conn.SetDeadline(time.Time{})
	if c.kind == helloGo {
		tc := tls.Client(conn, &tls.Config{ServerName: serverName, RootCAs: c.roots, NextProtos: alpn, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, "", fmt.Errorf("tls %s: %w", serverName, err)
		}
		st := tc.ConnectionState()
		return tc, tls.VersionName(st.Version), nil
	}
	var id utls.ClientHelloID
	switch c.kind {
	case helloIOS14:
		id = utls.HelloIOS_14
	case helloSafari16:
		id = utls.HelloSafari_16_0
	case helloAndroid:
		id = utls.HelloAndroid_11_OkHttp
	default:
		return nil, "", fmt.Errorf("tls: unknown hello %q", c.kind)
	}
	var uc *utls.UConn
	if alpn == nil {
		uc = utls.UClient(conn, &utls.Config{ServerName: serverName, RootCAs: c.roots}, id)
	} else {
		// Same parrot, but with the ALPN list a mail client sends: take the
		// parrot's spec, replace only the ALPN extension's protocols.
		spec, err := utls.UTLSIdToSpec(id)
		if err != nil {
			return nil, "", fmt.Errorf("tls: spec %s: %w", c.kind, err)
		}
		exts := spec.Extensions[:0]
		for _, ext := range spec.Extensions {
			if a, ok := ext.(*utls.ALPNExtension); ok {
				if len(alpn) == 0 {
					continue
				}
				a.AlpnProtocols = alpn
			}
			exts = append(exts, ext)
		}
		spec.Extensions = exts
		uc = utls.UClient(conn, &utls.Config{ServerName: serverName, RootCAs: c.roots}, utls.HelloCustom)
		if err := uc.ApplyPreset(&spec); err != nil {
			return nil, "", fmt.Errorf("tls: preset %s: %w", c.kind, err)
		}
	}
	if err := uc.HandshakeContext(ctx); err != nil {
		return nil, "", fmt.Errorf("tls %s (%s): %w", serverName, c.kind, err)
	}
	st := uc.ConnectionState()
	return uc, tls.VersionName(st.Version), nil
}

// dial connects to addr:port and, for implicit TLS, does the handshake.
func (c *tlsClient) dial(ctx context.Context, ip string, port int, serverName string, alpn []string) (net.Conn, string, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		return nil, "", err
	}
	tc, ver, err := c.client(ctx, raw, serverName, alpn)
	if err != nil {
		raw.Close()
		return nil, "", err
	}
	return tc, ver, nil
}
