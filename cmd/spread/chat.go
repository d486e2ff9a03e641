package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

// demoUsers are the users of Twisted's chat example.
var demoUsers = map[string]string{"alice": "1234", "bob": "secret", "carol": "fido"}

func runChat(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: spread chat serve|join [options]")
		return 2
	}
	switch args[0] {
	case "serve":
		return runChatServe(args[1:], stderr)
	case "join":
		return runChatJoin(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "spread chat: unknown command %q (serve, join)\n", args[0])
	return 2
}

// serveOptions are the options of long-running servers.
type serveOptions struct {
	listen  string
	tlsCert string
	tlsKey  string
	limits  pb.Limits
}

func (o *serveOptions) register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&o.listen, "listen", defaultAddr, "listen address, HOST:PORT")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate (PEM)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the TLS certificate's key (PEM)")
	l := &o.limits
	fs.IntVar(&l.MaxConns, "max-conns", 0, "most open connections (0: the file limit less 10%, -1: no cap)")
	fs.IntVar(&l.MaxConnsPerIP, "max-conns-per-ip", 0, "most open connections from one IP address (0: max-conns)")
	fs.IntVar(&l.MaxUnauthConns, "max-unauth-conns", 0, "most connections not logged in (0: max-conns/4)")
	fs.IntVar(&l.MaxUnauthConnsPerIP, "max-unauth-conns-per-ip", 0, "most connections not logged in from one IP address (0: 256)")
	fs.DurationVar(&l.LoginTimeout, "login-timeout", 0, "close connections not logged in after this long (0: 30s, negative: never)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", 0, "close logged-in connections silent for this long (0: never)")
	fs.DurationVar(&l.MessageTimeout, "message-timeout", 0, "close connections that do not finish a started message within this time (0: 30s)")
}

// serve runs a PB server until SIGINT or SIGTERM, then shuts down
// cleanly (every user logs out).
func (o *serveOptions) serve(log *slog.Logger, cfg *pb.Config, what string) int {
	if cfg.Limits == nil {
		lim := o.limits
		cfg.Limits = &lim
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		log.Error("--tls-cert and --tls-key go together")
		return 2
	}
	if o.tlsCert != "" {
		t, err := pb.ServerTLS(o.tlsCert, o.tlsKey)
		if err != nil {
			log.Error("TLS", "err", err)
			return 1
		}
		cfg.TLS = t
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := pb.NewServer(cfg)
	log.Info(what+": serving", "addr", ln.Addr().String(), "tls", cfg.TLS != nil)
	if cfg.TLS != nil {
		ln = tlsListener(ln, cfg)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info(what + ": shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Error(what+": shutdown", "err", err)
			return 1
		}
		log.Info(what + ": stopped")
		return 0
	case err := <-errc:
		log.Error(what+": serve", "err", err)
		return 1
	}
}

func runChatServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("spread chat serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o serveOptions
	o.register(fs, "127.0.0.1:8800")
	demo := fs.Bool("demo", false, "load the demo users alice/1234, bob/secret and carol/fido in memory")
	anonymous := fs.Bool("anonymous", false, "admit anonymous users under generated names")
	failures := fs.Int("login-failures", cred.DefaultThrottleMaxFailures, "failed logins allowed per user and per address within a minute before a lockout")
	var db dbFlags
	db.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	server := chat.NewServer(log)
	portal := cred.NewPortal(server)
	users := 0
	if *demo {
		portal.Register(checkers.NewInMemory(demoUsers))
		log.Info("chat: demo users loaded in memory", "users", "alice, bob, carol")
		users++
	}
	if db.dsn != "" {
		closeDB, err := db.attach(portal, log)
		if err != nil {
			log.Error("chat: database", "err", err)
			return 1
		}
		defer closeDB()
		users++
	}
	if *anonymous {
		portal.Register(checkers.NewAnonymous())
		log.Info("chat: anonymous users admitted")
		users++
	}
	if users == 0 {
		log.Error("chat: no users: give --demo, --db DSN or --anonymous")
		return 2
	}
	if *failures < 1 {
		log.Error("chat: --login-failures must be at least 1")
		return 2
	}
	throttle := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: *failures})
	return o.serve(log, &pb.Config{Portal: portal, Logger: log, Throttle: throttle}, "chat")
}

// chatMind is the client object the server prints to.
type chatMind struct {
	pb.Referenceable
	mu  sync.Mutex
	out io.Writer
}

func (m *chatMind) RemotePrint(message string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(m.out, message)
}

func runChatJoin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spread chat join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "127.0.0.1:8800", "chat server address, HOST:PORT")
	group := fs.String("group", "", "the group to join")
	noMattress := fs.Bool("no-mattress", false, "create the group with allowMattress=False")
	var lf loginFlags
	lf.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *group == "" || (lf.user == "" && !lf.anonymous) {
		fmt.Fprintln(stderr, "usage: spread chat join --server ADDR (--user NAME | --anonymous) --group NAME [--no-mattress]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	b, err := pb.Dial(dctx, *server, lf.clientConfig(stderr))
	if err != nil {
		cancel()
		fmt.Fprintf(stderr, "spread chat join: %v\n", err)
		return 1
	}
	defer b.Close()
	mind := &chatMind{out: stdout}
	avatar, err := lf.login(dctx, b, stdin, stderr, mind)
	if err != nil {
		cancel()
		printLoginError(stderr, "spread chat join", err)
		return 1
	}
	gv, err := avatar.CallRemote(dctx, "joinGroup", *group, pb.Kw{"allowMattress": !*noMattress})
	cancel()
	if err != nil {
		printRemoteError(stderr, "spread chat join: joinGroup: ", err)
		return 1
	}
	g, ok := gv.(*pb.RemoteReference)
	if !ok {
		fmt.Fprintf(stderr, "spread chat join: joinGroup returned %T, not a group\n", gv)
		return 1
	}

	// Sends are pipelined in input order; answers are checked in order.
	answers := make(chan *pb.Future, 1024)
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		for f := range answers {
			if _, err := f.Wait(ctx); err != nil {
				printRemoteError(stderr, "error: ", err)
			}
		}
	}()
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	status := 0
	for sc.Scan() {
		f, err := g.CallRemoteAsync(ctx, "send", sc.Text())
		if err != nil {
			printRemoteError(stderr, "error: ", err)
			if errors.Is(err, pb.ErrConnectionLost) {
				status = 1
				break
			}
			continue
		}
		answers <- f
	}
	close(answers)
	<-checked
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "spread chat join: reading input: %v\n", err)
		status = 1
	}
	// Lines the server printed before its last answer have arrived; let
	// the mind finish printing them.
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	b.Sync(sctx, mind)
	scancel()
	if b.Err() != nil && status == 0 {
		fmt.Fprintf(stderr, "spread chat join: %v\n", b.Err())
		status = 1
	}
	return status
}

// printLoginError explains a failed login.
func printLoginError(w io.Writer, prog string, err error) {
	var re *pb.RemoteError
	if errors.As(err, &re) && re.Check("twisted.cred.error.UnauthorizedLogin") {
		fmt.Fprintf(w, "%s: login failed: %s: wrong user name or password\n", prog, re.Type)
		return
	}
	printRemoteError(w, prog+": login failed: ", err)
}
