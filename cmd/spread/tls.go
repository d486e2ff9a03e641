package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"net"

	"github.com/gospread/spread/pb"
)

// The TLS options of every command, in one place: a server's
// certificate and key, a client's trust (a CA file or a certificate
// pin).

// tlsServerFlags are a server's certificate and key.
type tlsServerFlags struct {
	cert string
	key  string
}

func (t *tlsServerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "serve TLS with this certificate (PEM)")
	fs.StringVar(&t.key, "tls-key", "", "the TLS certificate's key (PEM)")
}

// errTLSPair is bad usage: one of --tls-cert and --tls-key without the
// other.
var errTLSPair = errors.New("--tls-cert and --tls-key go together")

// config returns the server's TLS configuration, or nil without TLS.
func (t *tlsServerFlags) config() (*tls.Config, error) {
	if (t.cert == "") != (t.key == "") {
		return nil, errTLSPair
	}
	if t.cert == "" {
		return nil, nil
	}
	return pb.ServerTLS(t.cert, t.key)
}

// tlsListener wraps ln with cfg, or returns ln when cfg is nil.
func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener {
	if cfg == nil {
		return ln
	}
	return tls.NewListener(ln, cfg)
}

// tlsClientFlags choose how a client trusts the server.
type tlsClientFlags struct {
	ca   string
	pin  string
	name string
}

func (t *tlsClientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.ca, "tls-ca", "", "connect with TLS, trusting the CA certificates in this PEM file")
	fs.StringVar(&t.pin, "tls-pin", "", "connect with TLS, trusting only the server certificate with this SHA-256 fingerprint (hex)")
	fs.StringVar(&t.name, "tls-name", "localhost", "server name to verify with --tls-ca")
}

// config returns the client's TLS configuration, or nil without TLS. A
// pin wins over a CA.
func (t *tlsClientFlags) config() (*tls.Config, error) {
	switch {
	case t.pin != "":
		return pb.ClientTLSPinned(t.pin)
	case t.ca != "":
		return pb.ClientTLSCA(t.ca, t.name)
	}
	return nil, nil
}
