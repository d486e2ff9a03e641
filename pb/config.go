package pb

import (
	"crypto/tls"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
)

type bigInt = big.Int

// Config configures a broker, a Server or a client connection. A nil
// *Config means all defaults; a zero field means that field's default.
// A Config must not be changed after it is in use.
type Config struct {
	// Root returns the root object for a new server connection: the
	// object a client reaches as "root". It is called once per
	// connection, so a root can know its broker. Ignored when Portal is
	// set, and by clients.
	Root func(b *Broker) any

	// Portal, when set, makes the server's root the cred login root:
	// login, loginAnonymous, and Spread's password login.
	Portal *cred.Portal

	// Throttle limits repeated failed logins per user name and per
	// address. Nil means a default throttle per Server (or per client
	// broker); use cred.NewThrottle with a config to tune it.
	Throttle *cred.Throttle

	// Registry lists the Copyable classes this side accepts and sends
	// by name. Nil means none beyond the failure class.
	Registry *jelly.Registry

	// Caches maps a Cacheable's Python type tag to a constructor of the
	// Go RemoteCache that mirrors it. Tags not listed are refused.
	Caches map[string]func() RemoteCache

	// Logger receives connection events. Nil means slog.Default().
	// Passwords and challenge responses are never logged.
	Logger *slog.Logger

	// TLS is used by Dial (client side) and ListenAndServe (server
	// side). Nil means plain TCP.
	TLS *tls.Config

	// Banana holds the codec limits. Nil means banana's defaults.
	Banana *banana.Config

	// MaxRefs caps the objects exported on one connection (Twisted:
	// 1024). Default 1024.
	MaxRefs int

	// MaxImports caps the peer's objects this side holds proxies for on
	// one connection. Exceeding it is a protocol error. Default 65536.
	MaxImports int

	// MaxCallsInFlight caps incoming calls that are queued or running on
	// one connection. Calls beyond it are refused with an error reply.
	// Default 1000.
	MaxCallsInFlight int

	// MaxQueuedBytes caps the outgoing bytes waiting for the peer to
	// read them. A peer that lets more pile up is disconnected and
	// logged. Default 16 MiB.
	MaxQueuedBytes int

	// HandshakeTimeout bounds dialect negotiation. Default 10s.
	HandshakeTimeout time.Duration

	// WriteTimeout bounds one write to the socket. Default 30s.
	WriteTimeout time.Duration

	// UnsafeTracebacks sends Go stack traces of handler panics to the
	// peer. Default false: the peer sees "Traceback unavailable".
	UnsafeTracebacks bool

	// Dialects lists the dialects a server offers, in order, or a client
	// accepts. Default pb, then none.
	Dialects []banana.Dialect

	// Limits bounds a server's connections, login and idle times, message
	// times and memory budgets (limits.go). Nil means the defaults.
	Limits *Limits

	// challenge, when set, replaces the CSPRNG challenge (tests only).
	challenge func() []byte

	// KeepAlive is the TCP keep-alive period of connections made by
	// Dial (and so by a Session). Zero means 15 seconds; negative turns
	// keep-alive off. Servers' accepted connections have keep-alive on
	// with Go's default period, from net.Listen. See keepalive.go for
	// the application-level Probe.
	KeepAlive time.Duration
}

type settings struct {
	Config
	log *slog.Logger // Logger, with peer-supplied values shortened (logsafe.go)
	lim Limits       // Limits with the defaults filled in
}

func resolve(c *Config) *settings {
	s := &settings{}
	if c != nil {
		s.Config = *c
	}
	if s.MaxRefs <= 0 {
		s.MaxRefs = 1024
	}
	if s.MaxImports <= 0 {
		s.MaxImports = 65536
	}
	if s.MaxCallsInFlight <= 0 {
		s.MaxCallsInFlight = 1000
	}
	if s.MaxQueuedBytes <= 0 {
		s.MaxQueuedBytes = 16 << 20
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = 10 * time.Second
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 30 * time.Second
	}
	if len(s.Dialects) == 0 {
		s.Dialects = []banana.Dialect{banana.DialectPB, banana.DialectNone}
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	s.log = slog.New(safeHandler{log.Handler()})
	s.lim = s.Limits.resolve()
	// The caller's Registry is used as it is: the failure class is
	// decoded by the broker's refs hook (refs.IsRefTag), not registered.
	if s.Throttle == nil {
		s.Throttle = cred.NewThrottle(nil)
	}
	return s
}

// discardLogger is handy for tests and examples.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
