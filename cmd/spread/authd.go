package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// spread authd: the central authentication server, its services file
// and operator revocation.

func authdCommands() []command {
	return []command{
		{name: "serve", usage: "serve the authentication server until SIGINT or SIGTERM", run: runAuthdServe},
		{name: "services", usage: "manage the services file", sub: []command{
			{name: "add", usage: "add or replace a service: spread authd services add FILE NAME", run: runAuthdServicesAdd},
		}},
		{name: "revoke", usage: "end a user's sessions everywhere (as an admin service)", run: runAuthdRevoke},
	}
}

// runAuthd is `spread authd`: a subcommand, or, when the first argument
// is an option, serve.
func runAuthd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" {
		return runAuthdServe(ctx, args, stdin, stdout, stderr)
	}
	return dispatch(ctx, "spread authd", authdCommands(), args, stdin, stdout, stderr)
}

func runAuthdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("spread authd", stderr,
		"usage: spread authd [serve] [--listen ADDR] --services FILE (--auth TYPE:ARG | --demo | --db DSN)... [--upstream ADDR --service NAME]",
		"       [--ticket-ttl 60s] [--session-ttl 12h] [--state postgres://...] [--tls-cert F --tls-key F]")
	var o serveOptions
	o.register(fs, "127.0.0.1:8790")
	services := fs.String("services", "", "the services file (NAME:BCRYPT[:proxy,admin] lines; see spread authd services add)")
	ticketTTL := fs.Duration("ticket-ttl", authd.DefaultTicketTTL, "how long a ticket can be redeemed")
	sessionTTL := fs.Duration("session-ttl", authd.DefaultSessionTTL, "how long a login at authd lasts; its broker sessions end with it")
	state := fs.String("state", "", "keep sessions and tickets in this PostgreSQL database (postgres://...), shared by every authd process given the same one; default: in memory")
	upstream := fs.String("upstream", "", "check unknown logins and tickets at this authd, HOST:PORT, as --service NAME (which needs the proxy option there)")
	failures := fs.Int("login-failures", cred.DefaultThrottleMaxFailures, "failed logins allowed per user name from one address within a minute before that pair is locked out")
	var auth authFlags
	auth.register(fs, false)
	auth.svc.register(fs)
	var mf metricsFlags
	mf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if auth.helpAuth {
		printHelpAuth(stderr)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "spread authd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log := serverLogger(stderr)
	tlsConfig, err := o.tls.config()
	if errors.Is(err, errTLSPair) {
		log.Error("authd: " + err.Error())
		return 2
	} else if err != nil {
		log.Error("authd: TLS", "err", err)
		return 1
	}
	switch {
	case *services == "":
		log.Error("authd: --services FILE is required")
		return 2
	case *ticketTTL <= 0 || *sessionTTL <= 0:
		log.Error("authd: --ticket-ttl and --session-ttl must be positive")
		return 2
	case *failures < 1:
		log.Error("authd: --login-failures must be at least 1")
		return 2
	case *state != "" && !strings.HasPrefix(*state, "postgres://") && !strings.HasPrefix(*state, "postgresql://"):
		log.Error("authd: --state takes a PostgreSQL URL, postgres://...")
		return 2
	}
	if _, err := auth.parsed(); err != nil {
		log.Error("authd: " + err.Error())
		return 2
	}
	svcs, err := authd.LoadServices(*services)
	if err != nil {
		log.Error("authd: services", "err", err)
		return 1
	}
	cfg := &authd.Config{Services: svcs, TicketTTL: *ticketTTL, SessionTTL: *sessionTTL, Logger: log}
	if *state != "" {
		st, err := authd.OpenSQLState(ctx, *state)
		if err != nil {
			log.Error("authd: --state", "err", err)
			return 1
		}
		defer st.Close()
		cfg.State = st
		log.Info("authd: sessions and tickets in PostgreSQL, shared with the other authd processes on it")
	}
	specs, _ := auth.parsed()
	if len(specs) > 0 {
		users, err := auth.open(ctx, log, "authd", false)
		if err != nil {
			log.Error("authd: users", "err", err)
			return 1
		}
		defer users.Close()
		if len(users.checkers) == 1 {
			cfg.Users = users.checkers[0]
		} else {
			cfg.Users = chain(users.checkers)
		}
	}
	if *upstream != "" {
		up, err := auth.svc.checker(*upstream, log)
		if err != nil {
			log.Error("authd: --upstream: " + err.Error())
			return 2
		}
		defer up.Close()
		cfg.Upstream = up
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if up.WaitConnected(wctx) != nil {
			log.Warn("authd: the upstream authentication server is not reachable yet")
		}
		cancel()
	} else if auth.svc.service != "" {
		log.Error("authd: --service names this authd at an --upstream")
		return 2
	}
	if cfg.Users == nil && cfg.Upstream == nil {
		log.Error("authd: " + errNoUsers.Error() + ", or --upstream ADDR")
		return 2
	}
	srv, err := authd.NewServer(cfg)
	if err != nil {
		log.Error("authd: " + err.Error())
		return 1
	}
	defer srv.Close()
	log.Info("authd: services loaded", "services", len(svcs.Names()), "ticket_ttl", *ticketTTL, "session_ttl", *sessionTTL)
	throttle := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: *failures})
	ps := pb.NewServer(&pb.Config{Portal: srv.Portal(), Logger: log, Throttle: throttle, Limits: o.pbLimits()})
	eps := append([]endpoint{o.pbEndpoint(ps, tlsConfig)}, mf.endpoints(sources{pb: ps, server: srv, authd: upstreamOf(cfg.Upstream)})...)
	return serve(ctx, log, "authd", eps...)
}

func runAuthdServicesAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: spread authd services add [--proxy] [--admin] [--password-file F] FILE NAME"
	fs := newFlagSet("spread authd services add", stderr, usage,
		"The secret comes from SPREAD_PASSWORD, --password-file or a prompt; the broker gives it in SPREAD_SERVICE_SECRET or --service-secret-file.")
	proxy := fs.Bool("proxy", false, "the service may forward logins and tickets for its own services (a downstream authd)")
	admin := fs.Bool("admin", false, "the service may revoke users (spread authd revoke)")
	pwFile := fs.String("password-file", "", "read the secret from the first line of this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	file, name := fs.Arg(0), fs.Arg(1)
	if err := authd.ValidServiceName(name); err != nil {
		fmt.Fprintf(stderr, "spread authd services add: %v\n", err)
		return 2
	}
	secret, err := readPassword(*pwFile, stdin, stderr, "Secret for service "+name+": ", true)
	if err != nil {
		fmt.Fprintf(stderr, "spread authd services add: %v\n", err)
		return 1
	}
	var opts []string
	if *proxy {
		opts = append(opts, authd.OptProxy)
	}
	if *admin {
		opts = append(opts, authd.OptAdmin)
	}
	if err := authd.AddService(file, name, secret, opts...); err != nil {
		fmt.Fprintf(stderr, "spread authd services add: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "spread authd services add: %s done\n", name)
	return 0
}

func runAuthdRevoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: spread authd revoke --authd ADDR --service ADMIN USER"
	fs := newFlagSet("spread authd revoke", stderr, usage,
		"Ends USER's sessions at authd and at every broker. ADMIN is a service with the admin option; its secret comes from SPREAD_SERVICE_SECRET or --service-secret-file.")
	addr := fs.String("authd", "127.0.0.1:8790", "the authentication server, HOST:PORT")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	var svc serviceFlags
	svc.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || svc.service == "" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	secret, err := svc.secret()
	if err != nil {
		fmt.Fprintf(stderr, "spread authd revoke: %v\n", err)
		return 2
	}
	t, err := svc.tlsConfig()
	if err != nil {
		fmt.Fprintf(stderr, "spread authd revoke: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	b, err := pb.Dial(ctx, *addr, &pb.Config{TLS: t, Logger: quietLogger(stderr)})
	if err != nil {
		fmt.Fprintf(stderr, "spread authd revoke: %v\n", err)
		return 1
	}
	defer b.Close()
	a, err := b.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+svc.service, secret, nil)
	if err != nil {
		printRemoteError(stderr, "spread authd revoke: login: ", err)
		return 1
	}
	av, ok := a.(*pb.RemoteReference)
	if !ok {
		fmt.Fprintf(stderr, "spread authd revoke: login answered %T\n", a)
		return 1
	}
	n, err := av.CallRemote(ctx, "revokeUser", fs.Arg(0))
	if err != nil {
		printRemoteError(stderr, "spread authd revoke: ", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %v session(s) ended\n", fs.Arg(0), n)
	return 0
}

// upstreamOf lists the upstream checker, for metrics and health.
func upstreamOf(c *authd.Checker) []*authd.Checker {
	if c == nil {
		return nil
	}
	return []*authd.Checker{c}
}
