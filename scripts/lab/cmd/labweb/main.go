// Command labweb is the lab's web server: it stands in for the Apple,
// Microsoft and Google endpoints that dnsmasq points at it. It answers the
// connectivity checks the way the real ones do (Apple's hotspot-detect
// "Success" page, Microsoft's connecttest.txt, Google's 204) over plain HTTP
// and serves a small page over HTTPS with the lab certificate, HTTP/1.1 only
// so that clients can speak to it without HTTP/2.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var (
		addr = flag.String("addr", "", "address to listen on (ports 80 and 443)")
		cert = flag.String("cert", "", "certificate chain (PEM)")
		key  = flag.String("key", "", "private key (PEM)")
	)
	flag.Parse()
	logger := log.New(os.Stdout, "labweb ", log.LstdFlags|log.Lmicroseconds)
	if err := run(*addr, *cert, *key, logger); err != nil {
		logger.Print(err)
		os.Exit(1)
	}
}

func run(addr, certFile, keyFile string, logger *log.Logger) error {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hotspot-detect.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>")
	})
	mux.HandleFunc("/connecttest.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Microsoft Connect Test")
	})
	mux.HandleFunc("/generate_204", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><body>orchard lab: %s</body></html>\n", r.Host)
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("%s %s %s%s tls=%v ua=%q", r.RemoteAddr, r.Method, r.Host, r.URL.Path, r.TLS != nil, r.UserAgent())
		mux.ServeHTTP(w, r)
	})
	plain := &http.Server{Addr: net.JoinHostPort(addr, "80"), Handler: h, ReadHeaderTimeout: 10 * time.Second}
	secure := &http.Server{Addr: net.JoinHostPort(addr, "443"), Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: []string{"http/1.1"}}}
	errc := make(chan error, 2)
	go func() { errc <- plain.ListenAndServe() }()
	go func() { errc <- secure.ListenAndServeTLS("", "") }()
	logger.Printf("listening on %s:80 and :443", addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		logger.Printf("stopping on %v", s)
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = plain.Shutdown(ctx)
	_ = secure.Shutdown(ctx)
	return nil
}
