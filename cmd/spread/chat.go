package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// demoUsers are the users of Twisted's chat example.
var demoUsers = map[string]string{"alice": "1234", "bob": "secret", "carol": "fido"}

func runChatServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("spread chat serve", stderr,
		"usage: spread chat serve [--listen ADDR] (--auth TYPE:ARG | --demo | --db DSN | --anonymous | --authd ADDR --service NAME)...\n"+
			"                         [--tls-cert F --tls-key F] [--http ADDR [--http-insecure-loopback] [--sessions DSN]]\n"+
			"                         [--cluster nats://HOST:PORT[,...] [--node NAME]] [--metrics ADDR]")
	var o serveOptions
	o.register(fs, "127.0.0.1:8800")
	failures := fs.Int("login-failures", cred.DefaultThrottleMaxFailures, "failed logins allowed per user name from one address within a minute before that pair is locked out")
	var auth authFlags
	auth.register(fs, true)
	var webf chatWebFlags
	webf.register(fs)
	var cf clusterFlags
	cf.register(fs)
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
		fmt.Fprintf(stderr, "spread chat serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log := cf.logger(serverLogger(stderr))
	tlsConfig, err := o.tls.config()
	if errors.Is(err, errTLSPair) {
		log.Error("chat: " + err.Error())
		return 2
	} else if err != nil {
		log.Error("chat: TLS", "err", err)
		return 1
	}
	if _, err := auth.parsed(); err != nil {
		log.Error("chat: " + err.Error())
		return 2
	}
	if *failures < 1 {
		log.Error("chat: --login-failures must be at least 1")
		return 2
	}
	if err := webf.check(tlsConfig); err != nil {
		log.Error("chat: " + err.Error())
		return 2
	}
	server := chat.NewServer(log)
	bus, leaveCluster, err := cf.join(server, log)
	if err != nil {
		log.Error("chat: cluster", "err", err)
		return 2
	}
	defer leaveCluster() // after serve: the logouts reach the other brokers first
	realm, err := webf.realm(server, log)
	if err != nil {
		log.Error("chat: web", "err", err)
		return 1
	}
	users, err := auth.open(ctx, log, "chat", true)
	if errors.Is(err, errNoUsers) {
		log.Error("chat: " + err.Error())
		return 2
	} else if err != nil {
		log.Error("chat: users", "err", err)
		return 1
	}
	defer users.Close()
	portal := users.portal(realm)
	users.waitAuthd(ctx, log, "chat")
	throttle := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: *failures})
	srv := pb.NewServer(&pb.Config{Portal: portal, Logger: log, Throttle: throttle, Limits: o.pbLimits()})
	eps := append([]endpoint{o.pbEndpoint(srv, tlsConfig)}, mf.endpoints(sources{node: cf.logNode(), pb: srv, bus: bus, authd: users.authd})...)
	if webf.addr != "" {
		ep, closeWeb, err := webf.endpoint(ctx, portal, throttle, users.django, tlsConfig, log)
		if err != nil {
			log.Error("chat: web", "err", err)
			return 1
		}
		defer closeWeb()
		eps = append(eps, ep)
	}
	return serve(ctx, log, "chat", eps...)
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

// joinDrain is how long chat join waits, after a signal, for the
// answers to what it already sent.
const joinDrain = 5 * time.Second

func runChatJoin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: spread chat join --server ADDR (--user NAME [--authd ADDR --service NAME] | --anonymous) --group NAME [--no-mattress]"
	fs := newFlagSet("spread chat join", stderr, usage,
		"Each line of input is sent to the group; what the group says is printed.")
	server := fs.String("server", "127.0.0.1:8800", "chat server address, HOST:PORT")
	group := fs.String("group", "", "the group to join")
	noMattress := fs.Bool("no-mattress", false, "create the group with allowMattress=False")
	var lf loginFlags
	lf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *group == "" || (lf.user == "" && !lf.anonymous) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, err := lf.clientConfig(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spread chat join: %v\n", err)
		return 2
	}

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	b, err := pb.Dial(dctx, *server, cfg)
	if err != nil {
		cancel()
		fmt.Fprintf(stderr, "spread chat join: %v\n", err)
		return 1
	}
	defer b.Close()
	mind := &chatMind{out: stdout}
	avatar, err := lf.login(dctx, b, stdin, stderr, mind)
	defer lf.authd.close()
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

	// After a signal, what was sent still gets joinDrain to be answered.
	drain, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDrain()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(joinDrain, stopDrain) })
	defer stopAfter()

	// Sends are pipelined in input order; answers are checked in order.
	answers := make(chan *pb.Future, 1024)
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		for f := range answers {
			if _, err := f.Wait(drain); err != nil {
				printRemoteError(stderr, "error: ", err)
			}
		}
	}()
	// Input is read on its own goroutine, so that a signal or a lost
	// connection ends the command while it waits for a line. (A read
	// that is under way then is abandoned with the process.)
	lines := make(chan string)
	var scanErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		scanErr = sc.Err()
	}()
	status := 0
	eof := false
read:
	for {
		select {
		case <-ctx.Done():
			break read
		case <-b.Done():
			break read
		case line, ok := <-lines:
			if !ok {
				eof = true
				break read
			}
			f, err := g.CallRemoteAsync(ctx, "send", line)
			if err != nil {
				printRemoteError(stderr, "error: ", err)
				if errors.Is(err, pb.ErrConnectionLost) {
					status = 1
					break read
				}
				continue
			}
			answers <- f
		}
	}
	close(answers)
	<-checked
	if eof && scanErr != nil {
		fmt.Fprintf(stderr, "spread chat join: reading input: %v\n", scanErr)
		status = 1
	}
	// Lines the server printed before its last answer have arrived; let
	// the mind finish printing them.
	sctx, scancel := context.WithTimeout(drain, 5*time.Second)
	b.Sync(sctx, mind)
	scancel()
	if b.Err() != nil && status == 0 {
		fmt.Fprintf(stderr, "spread chat join: %v\n", b.Err())
		status = 1
	}
	return status
}

// printLoginError explains a failed login: a wrong password, a
// throttled login (with when to retry), a server that cannot check
// logins now, a name too long.
func printLoginError(w io.Writer, prog string, err error) {
	var re *pb.RemoteError
	typ := "twisted.cred.error.UnauthorizedLogin"
	if errors.As(err, &re) {
		typ = re.Type
	}
	var te *cred.ThrottledError
	var msg string
	switch {
	case errors.As(err, &te):
		msg = fmt.Sprintf("too many failed login attempts; try again in %d seconds", te.RetrySeconds())
	case errors.Is(err, cred.ErrUnavailable):
		msg = "the server cannot check logins right now; try again later"
		if re != nil && re.Value != "" {
			msg = re.Value // it names the store that did not answer
		}
	case errors.Is(err, cred.ErrUsernameTooLong):
		msg = fmt.Sprintf("user name longer than %d bytes", cred.MaxUsernameLen)
	case errors.Is(err, cred.ErrUnauthorizedLogin) && (re == nil || re.Value == ""):
		msg = "wrong user name or password"
	case re != nil && re.Check("twisted.cred.error.UnauthorizedLogin"):
		msg = re.Value
	default:
		printRemoteError(w, prog+": login failed: ", err)
		return
	}
	fmt.Fprintf(w, "%s: login failed: %s: %s\n", prog, typ, msg)
}
