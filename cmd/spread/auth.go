package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/pb"
)

// The --auth grammar of every server command, after Twisted's strcred:
// TYPE:ARG, repeatable, tried in order.

// authTypes documents the --auth types (--help-auth).
var authTypes = []struct{ name, help string }{
	{"file:PATH", "Twisted's password file (FilePasswordDB): user:password lines, in the clear; challenge and password login"},
	{"htpasswd:PATH", "an Apache htpasswd file of bcrypt hashes (htpasswd -B); password login only (TLS or loopback)"},
	{"django:DSN", "a Django user database, sqlite:PATH or postgres://...; password login only (TLS or loopback)"},
	{"authd:ADDR", "delegate to Spread's authentication server at HOST:PORT[,HOST:PORT...] (tickets; several authd processes on one --state are tried in order); needs --service and its secret"},
	{"anonymous", "admit anonymous logins"},
}

// authFlags are the user-store options of a server command.
type authFlags struct {
	specs     []string
	demo      bool
	anonymous bool
	db        dbFlags
	helpAuth  bool
	svc       serviceFlags
	authdAddr string
}

// serviceFlags name a broker's service account at authd.
type serviceFlags struct {
	service    string
	secretFile string
	tlsCA      string
	tlsPin     string
	tlsName    string
}

func (s *serviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.service, "service", "", "this server's service name at authd (with --authd or --auth authd:ADDR)")
	fs.StringVar(&s.secretFile, "service-secret-file", "", "read the service secret from the first line of this file (default: SPREAD_SERVICE_SECRET)")
	fs.StringVar(&s.tlsCA, "authd-tls-ca", "", "connect to authd with TLS, trusting the CA certificates in this PEM file")
	fs.StringVar(&s.tlsPin, "authd-tls-pin", "", "connect to authd with TLS, trusting only the certificate with this SHA-256 fingerprint (hex)")
	fs.StringVar(&s.tlsName, "authd-tls-name", "localhost", "authd's server name to verify with --authd-tls-ca")
}

// secret returns the service secret: SPREAD_SERVICE_SECRET or the file.
func (s *serviceFlags) secret() ([]byte, error) {
	if s.secretFile != "" {
		data, err := os.ReadFile(s.secretFile)
		if err != nil {
			return nil, fmt.Errorf("reading the service secret file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		return []byte(strings.TrimSuffix(line, "\r")), nil
	}
	if v, ok := os.LookupEnv("SPREAD_SERVICE_SECRET"); ok && v != "" {
		return []byte(v), nil
	}
	return nil, errors.New("no service secret: set SPREAD_SERVICE_SECRET or use --service-secret-file")
}

func (s *serviceFlags) tlsConfig() (*tls.Config, error) {
	t := tlsClientFlags{ca: s.tlsCA, pin: s.tlsPin, name: s.tlsName}
	return t.config()
}

// checker starts an authd.Checker for authd at addr.
func (s *serviceFlags) checker(addr string, log *slog.Logger) (*authd.Checker, error) {
	if s.service == "" {
		return nil, errors.New("authd:" + addr + " needs --service NAME")
	}
	secret, err := s.secret()
	if err != nil {
		return nil, err
	}
	t, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	return authd.NewChecker(&authd.CheckerConfig{Addr: addr, Service: s.service, Secret: secret, TLS: t, Logger: log})
}

// listFlag is a repeatable string flag.
type listFlag struct{ p *[]string }

func (l listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, " ")
}
func (l listFlag) Set(v string) error { *l.p = append(*l.p, v); return nil }

// register adds --auth, --help-auth, the shortcuts and the service
// options. withAuthd adds --authd ADDR (a shortcut for --auth
// authd:ADDR).
func (a *authFlags) register(fs *flag.FlagSet, withAuthd bool) {
	fs.Var(listFlag{&a.specs}, "auth", "a user store, TYPE:ARG (repeatable, tried in order; --help-auth lists the types)")
	fs.BoolVar(&a.helpAuth, "help-auth", false, "list the --auth types and exit")
	fs.BoolVar(&a.demo, "demo", false, "load the demo users alice/1234, bob/secret and carol/fido in memory (tried first)")
	fs.BoolVar(&a.anonymous, "anonymous", false, "admit anonymous users (same as --auth anonymous)")
	a.db.register(fs)
	if withAuthd {
		fs.StringVar(&a.authdAddr, "authd", "", "accept tickets of the authentication server at HOST:PORT[,HOST:PORT...] (same as --auth authd:ADDR, tried after the others; several addresses fail over in order)")
		a.svc.register(fs)
	}
}

// printHelpAuth lists the --auth types.
func printHelpAuth(w io.Writer) {
	fmt.Fprintln(w, "--auth TYPE:ARG names a user store; repeat it to try several, in order:")
	for _, t := range authTypes {
		fmt.Fprintf(w, "  %-14s %s\n", t.name, t.help)
	}
	fmt.Fprintln(w, "Shortcuts: --demo (in-memory demo users), --db DSN (django:DSN), --anonymous, --authd ADDR (authd:ADDR).")
	fmt.Fprintln(w, "No password or secret goes on the command line: service secrets come from SPREAD_SERVICE_SECRET or --service-secret-file.")
}

// authSpec is one parsed --auth.
type authSpec struct{ typ, arg string }

// parseAuth parses a TYPE:ARG.
func parseAuth(s string) (authSpec, error) {
	typ, arg, _ := strings.Cut(s, ":")
	switch typ {
	case "anonymous":
		if arg != "" {
			return authSpec{}, fmt.Errorf("--auth %s: anonymous takes no argument", s)
		}
	case "file", "htpasswd", "django", "authd":
		if arg == "" {
			return authSpec{}, fmt.Errorf("--auth %s: %s needs an argument (%s:...)", s, typ, typ)
		}
	default:
		return authSpec{}, fmt.Errorf("--auth %s: unknown type %s (--help-auth lists them)", s, typ)
	}
	return authSpec{typ, arg}, nil
}

// specs returns the stores in the order they are tried: the shortcuts
// for local users first, then --auth in order, then --authd.
func (a *authFlags) parsed() ([]authSpec, error) {
	var out []authSpec
	if a.demo {
		out = append(out, authSpec{"demo", ""})
	}
	if a.db.dsn != "" {
		out = append(out, authSpec{"django", a.db.dsn})
	}
	for _, s := range a.specs {
		sp, err := parseAuth(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	if a.authdAddr != "" {
		out = append(out, authSpec{"authd", a.authdAddr})
	}
	if a.anonymous {
		out = append(out, authSpec{"anonymous", ""})
	}
	return out, nil
}

// errNoUsers is bad usage: no user store.
var errNoUsers = errors.New("no users: give --demo, --db DSN or --anonymous, or --auth TYPE:ARG (see --help-auth)")

// stores are the opened user stores of a server.
type stores struct {
	checkers []cred.Checker
	authd    []*authd.Checker
	django   *djangostore.Store // the first Django store, if any (the web guard's Stamper)
	closers  []func()
}

func (s *stores) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// open opens every store. what prefixes log lines ("chat", "authd").
// allowAuthd false refuses authd:ADDR.
func (a *authFlags) open(ctx context.Context, log *slog.Logger, what string, allowAuthd bool) (*stores, error) {
	specs, err := a.parsed()
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, errNoUsers
	}
	st := &stores{}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	for _, sp := range specs {
		switch sp.typ {
		case "demo":
			st.checkers = append(st.checkers, checkers.NewInMemory(demoUsers))
			log.Info(what+": demo users loaded in memory", "users", "alice, bob, carol")
		case "file":
			db, err := checkers.NewFileDB(sp.arg, nil)
			if err != nil {
				return nil, fmt.Errorf("--auth file:%s: %w", sp.arg, err)
			}
			st.checkers = append(st.checkers, db)
			log.Info(what+": users from a password file", "path", sp.arg)
		case "htpasswd":
			h, err := checkers.NewHtpasswd(sp.arg)
			if err != nil {
				return nil, fmt.Errorf("--auth htpasswd:%s: %w", sp.arg, err)
			}
			if u := h.Unsupported(); len(u) > 0 {
				log.Warn(what+": htpasswd entries that are not bcrypt never log in", "users", strings.Join(u, ", "))
			}
			st.checkers = append(st.checkers, h)
			log.Info(what+": users from an htpasswd file", "path", sp.arg, "login", "password login over TLS or loopback")
		case "django":
			d := a.db
			d.dsn = sp.arg
			store, err := openDjango(ctx, &d, log, what)
			if err != nil {
				return nil, fmt.Errorf("--auth django: %w", err)
			}
			st.checkers = append(st.checkers, store)
			if st.django == nil {
				st.django = store
			}
			st.closers = append(st.closers, func() {
				if err := store.Close(); err != nil {
					log.Error(what+": closing the user database", "err", err)
				}
			})
		case "authd":
			if !allowAuthd {
				return nil, errors.New("--auth authd: is for brokers; an authd delegates with --upstream")
			}
			c, err := a.svc.checker(sp.arg, log)
			if err != nil {
				return nil, err
			}
			st.checkers = append(st.checkers, c)
			st.authd = append(st.authd, c)
			st.closers = append(st.closers, func() { c.Close() })
			log.Info(what+": accepting tickets of the authentication server", "authd", sp.arg, "service", a.svc.service)
		case "anonymous":
			st.checkers = append(st.checkers, checkers.NewAnonymous())
			log.Info(what + ": anonymous users admitted")
		}
	}
	ok = true
	return st, nil
}

// portal returns a portal for realm over the stores, tried in order.
func (s *stores) portal(realm cred.Realm) *cred.Portal {
	p := cred.NewPortal(realm)
	ch := chain(s.checkers)
	if kinds := ch.Kinds(); len(kinds) > 0 {
		p.Register(ch, kinds...)
	}
	return p
}

// chainChecker tries its checkers in order: the first that accepts the
// credentials wins. A refusal or unhandled kind moves on to the next;
// when none accepts, the answer is a refusal, unless a store could not
// be reached, and then the credentials could not be checked.
//
// "Could not be checked" is not counted by the login throttle. So that
// an outage of one store (authd down) does not open the others to
// unthrottled guessing, a login that another store refused and an
// unreachable one could not check is counted here, per user name and
// address, like a failure: after cred.Throttle's limit it is refused.
type chainChecker struct {
	cs     []cred.Checker
	outage *cred.Throttle
}

func chain(cs []cred.Checker) *chainChecker {
	return &chainChecker{cs: cs, outage: cred.NewThrottle(nil)}
}

func kindsOf(c cred.Checker) []cred.Kind {
	if kc, ok := c.(cred.KindsChecker); ok {
		return kc.Kinds()
	}
	return nil
}

// Kinds is the union of the checkers' kinds, in order.
func (ch *chainChecker) Kinds() []cred.Kind {
	var out []cred.Kind
	for _, c := range ch.cs {
		for _, k := range kindsOf(c) {
			dup := false
			for _, o := range out {
				dup = dup || o == k
			}
			if !dup {
				out = append(out, k)
			}
		}
	}
	return out
}

func (ch *chainChecker) CheckCredentials(ctx context.Context, creds cred.Credentials) (string, error) {
	var unavailable error
	tried, refused := false, false
	for _, c := range ch.cs {
		handles := false
		for _, k := range kindsOf(c) {
			handles = handles || k == creds.Kind()
		}
		if !handles {
			continue
		}
		tried = true
		id, err := c.CheckCredentials(ctx, creds)
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, cred.ErrUnavailable):
			unavailable = err
		case errors.Is(err, cred.ErrUnauthorizedLogin):
			refused = true
		case errors.Is(err, cred.ErrUnhandledCredentials):
		default:
			return "", err
		}
	}
	if unavailable != nil {
		if refused && !ch.countOutage(ctx, creds) {
			return "", cred.ErrUnauthorizedLogin
		}
		return "", unavailable
	}
	if !tried {
		return "", &cred.UnhandledError{Kind: creds.Kind()}
	}
	return "", cred.ErrUnauthorizedLogin
}

// countOutage counts a login that one store refused while another
// could not check it; false once the user name at that address has
// failed so too often.
func (ch *chainChecker) countOutage(ctx context.Context, creds cred.Credentials) bool {
	user := ""
	if u, ok := creds.(interface{ User() string }); ok {
		user = u.User()
	}
	addr := ""
	if b := pb.CallBroker(ctx); b != nil {
		addr = b.RemoteAddr().String()
	}
	a, err := ch.outage.Begin(user, addr)
	if err != nil {
		return false
	}
	a.Failure()
	return true
}

// waitAuthd waits briefly for the authd checkers to connect, so that
// the first logins do not meet "unavailable" needlessly; a checker that
// cannot connect yet keeps trying in the background.
func (s *stores) waitAuthd(ctx context.Context, log *slog.Logger, what string) {
	for _, c := range s.authd {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := c.WaitConnected(wctx); err != nil {
			log.Warn(what + ": the authentication server is not reachable yet; ticket logins are refused until it is")
		}
		cancel()
	}
}

// openDjango opens a Django user database, creating Django's schema if
// the table is missing.
func openDjango(ctx context.Context, d *dbFlags, log *slog.Logger, what string) (*djangostore.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := d.open(ctx, log)
	if err != nil {
		return nil, err
	}
	created, err := st.EnsureSchema(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	log.Info(what+": users from the Django database", "table", st.Config().UserTable, "created_schema", created,
		"login", "password login over TLS or loopback; Twisted's challenge login cannot check Django hashes")
	return st, nil
}
