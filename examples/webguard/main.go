// Command webguard is the seed's guarded site: a "Hello World" page
// behind Spread's form login (package guard), with the in-memory user
// fred / flintstone.
//
// It serves HTTPS on -tls-addr with -tls-cert/-tls-key, or with a
// self-signed certificate made at start whose SHA-256 fingerprint it
// prints; -addr serves plain HTTP that only redirects to HTTPS.
//
//	go run ./examples/webguard
//	go run ./examples/webguard -tls-cert cert.pem -tls-key key.pem
//
// It prints "HTTPS <addr>", "HTTP <addr>" and, for a self-signed
// certificate, "FINGERPRINT <hex>" once it listens, so that tests can
// start it on port 0.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/guard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "webguard:", err)
		os.Exit(1)
	}
}

var helloPage = template.Must(template.New("hello").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello World</title></head>
<body>
<h1>Hello World</h1>
<p>You are logged in as <strong id="user">{{.User}}</strong>.</p>
<form method="post" action="{{.Logout}}"><button type="submit">Log out</button></form>
</body>
</html>
`))

// realm gives each user the Hello World site as their web avatar.
func realm(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
	if iface != cred.IHTTPHandler {
		return nil, nil, &cred.InterfaceError{Interface: iface}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		info, _ := guard.FromContext(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		helloPage.Execute(w, map[string]string{"User": id, "Logout": info.LogoutPath})
	})
	return h, nil, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webguard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "plain HTTP address (it only redirects to HTTPS)")
	tlsAddr := fs.String("tls-addr", "127.0.0.1:8081", "HTTPS address")
	certFile := fs.String("tls-cert", "", "certificate PEM file (default: a self-signed one made at start)")
	keyFile := fs.String("tls-key", "", "key PEM file for -tls-cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var cert tls.Certificate
	var err error
	switch {
	case *certFile != "" && *keyFile != "":
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	case *certFile != "" || *keyFile != "":
		err = errors.New("-tls-cert and -tls-key go together")
	default:
		cert, err = selfSigned()
		if err == nil {
			sum := sha256.Sum256(cert.Certificate[0])
			fmt.Fprintf(stdout, "FINGERPRINT %s\n", hex.EncodeToString(sum[:]))
		}
	}
	if err != nil {
		return err
	}

	portal := cred.NewPortal(cred.InterfaceRealmFunc(realm),
		checkers.NewInMemory(map[string]string{"fred": "flintstone"}))
	g, err := guard.New(portal, &guard.Config{Logger: log})
	if err != nil {
		return err
	}
	defer g.Close()

	tlsLn, err := net.Listen("tcp", *tlsAddr)
	if err != nil {
		return err
	}
	plainLn, err := net.Listen("tcp", *addr)
	if err != nil {
		tlsLn.Close()
		return err
	}
	httpsPort := fmt.Sprint(tlsLn.Addr().(*net.TCPAddr).Port)
	secure := &http.Server{
		Handler:           g,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	redirect := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { toHTTPS(w, r, httpsPort) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "HTTPS %s\nHTTP %s\n", tlsLn.Addr(), plainLn.Addr())
	errc := make(chan error, 2)
	go func() { errc <- secure.ServeTLS(tlsLn, "", "") }()
	go func() { errc <- redirect.Serve(plainLn) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	secure.Shutdown(sctx)
	redirect.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// toHTTPS redirects a plain-HTTP request to the same path over HTTPS.
func toHTTPS(w http.ResponseWriter, r *http.Request, port string) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "" {
		host = "localhost"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "https://"+net.JoinHostPort(host, port)+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// selfSigned makes an ECDSA P-256 certificate for localhost and the
// loopback addresses, valid for 30 days.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "webguard self-signed"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
