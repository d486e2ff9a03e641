package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

// Ticket logins (issue 13): a broker that delegates to authd, and authd,
// in one server process, so that the server CPU per login counts both.
// The broker tries its in-memory users first, as spread chat serve
// --demo --authd does; the same broker's in-memory logins are measured
// next to the ticket logins.

// benchServiceSecret is the bench broker's secret at its authd.
var benchServiceSecret = []byte("bench-service-secret")

// ticketChain tries local users, then authd.
type ticketChain []cred.Checker

func (ticketChain) Kinds() []cred.Kind { return []cred.Kind{cred.KindChallenge, cred.KindPassword} }

func (ch ticketChain) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	var last error = cred.ErrUnauthorizedLogin
	for _, x := range ch {
		id, err := x.CheckCredentials(ctx, c)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, cred.ErrUnauthorizedLogin) {
			last = err
		}
	}
	return "", last
}

// serveTicket starts authd on a second port (printed as "AUTHD <port>"
// before LISTENING) and returns the broker's serve function.
func serveTicket(ln net.Listener, users int, ticketTTL time.Duration, log *slog.Logger) (func() error, error) {
	dir, err := os.MkdirTemp("", "spreadbench-authd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "services")
	if err := authd.AddService(path, "bench", benchServiceSecret); err != nil {
		return nil, err
	}
	svcs, err := authd.LoadServices(path)
	if err != nil {
		return nil, err
	}
	memory := checkers.NewInMemory(benchUsers(users))
	as, err := authd.NewServer(&authd.Config{Users: memory, Services: svcs, TicketTTL: ticketTTL, Logger: log})
	if err != nil {
		return nil, err
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go pb.NewServer(&pb.Config{Portal: as.Portal(), Logger: log}).Serve(aln)
	chk, err := authd.NewChecker(&authd.CheckerConfig{Addr: aln.Addr().String(), Service: "bench", Secret: benchServiceSecret, Logger: log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := chk.WaitConnected(ctx); err != nil {
		return nil, fmt.Errorf("the broker did not reach authd: %w", err)
	}
	portal := cred.NewPortal(benchRealm)
	portal.Register(ticketChain{memory, chk}, cred.KindChallenge, cred.KindPassword)
	srv := pb.NewServer(&pb.Config{Portal: portal, Logger: log})
	fmt.Printf("AUTHD %d\n", aln.Addr().(*net.TCPAddr).Port)
	return func() error { return srv.Serve(ln) }, nil
}

// startTicketServer starts spreadbench serve -kind KIND and returns it
// with authd's address.
func startTicketServer(ctx context.Context, o *options, kind, profile string) (*server, string, error) {
	p, err := startProc("ticket server", o.benchDir, nil,
		append([]string{o.self, "serve", "-kind", kind, "-users", "1000"}, o.profileArgs(profile)...)...)
	if err != nil {
		return nil, "", err
	}
	var authdAddr string
	l, err := p.expect("LISTENING ", 30*time.Second, func(l string) {
		if port, ok := strings.CutPrefix(l, "AUTHD "); ok {
			authdAddr = "127.0.0.1:" + strings.TrimSpace(port)
		}
	})
	if err != nil {
		p.stop()
		return nil, "", err
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "LISTENING ")))
	if err != nil || authdAddr == "" {
		p.stop()
		return nil, "", fmt.Errorf("ticket server: bad start (%q, authd %q)", l, authdAddr)
	}
	p.drain()
	return &server{proc: p, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port)}, authdAddr, nil
}

// ticketMode is what one operation of a ticket worker does.
type ticketMode int

const (
	ticketOnly      ticketMode = iota // ticket() at authd
	ticketThenLogin                   // ticket(), then the login with it
	ticketInHand                      // the login with a ticket fetched during the previous one
)

// ticketWorkers: each worker has its own login at authd and its own
// broker connection; one operation is ticket() and/or a challenge login
// at the broker with a ticket and the avatar's release (logout).
func ticketWorkers(ctx context.Context, authdAddr, brokerAddr string, n int, mode ticketMode) ([]func() error, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var ws []func() error
	for i := 0; i < n; i++ {
		user := fmt.Sprintf("user%d", i)
		c, err := authd.Login(ctx, authdAddr, &cred.UsernamePassword{Username: user, Password: []byte("pw")}, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { c.Close() })
		if mode == ticketOnly {
			ws = append(ws, func() error {
				_, err := c.Ticket(ctx, "bench")
				return err
			})
			continue
		}
		b, err := pb.Dial(ctx, brokerAddr, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { b.Close() })
		type fetched struct {
			ticket string
			err    error
		}
		// One fetcher goroutine per worker fetches the next ticket while
		// the current one logs in: a goroutine per fetch would start on a
		// small stack and grow it on every call.
		next := make(chan fetched, 1)
		want := make(chan struct{}, 1)
		fetch := func() { want <- struct{}{} }
		if mode == ticketInHand {
			stop := make(chan struct{})
			closers = append(closers, func() { close(stop) })
			go func() {
				for {
					select {
					case <-want:
					case <-stop:
						return
					}
					t, err := c.Ticket(ctx, "bench")
					select {
					case next <- fetched{t, err}:
					case <-stop:
						return
					}
				}
			}()
			fetch()
		}
		ws = append(ws, func() error {
			var creds *cred.UsernamePassword
			if mode == ticketInHand {
				f := <-next
				if f.err != nil {
					return f.err
				}
				fetch() // the next login's ticket, while this one logs in
				creds = &cred.UsernamePassword{Username: user, Password: []byte(f.ticket)}
			} else {
				var err error
				if creds, err = c.Credentials(ctx, "bench"); err != nil {
					return err
				}
			}
			a, err := b.Login(ctx, creds, nil)
			if err != nil {
				return fmt.Errorf("ticket login %s: %w", user, err)
			}
			return a.Release()
		})
	}
	return ws, closeAll, nil
}

// runTicketLogins measures, in the logins section: ticket logins at a
// broker (broker + authd CPU), in-memory logins at the same broker, and
// tickets issued at authd.
func runTicketLogins(ctx context.Context, o *options) []*Measurement {
	names := []string{"spread ticket (authd)", "spread in-memory, ticket broker", "authd tickets issued", "spread ticket in hand (authd)"}
	want := false
	for _, n := range names {
		want = want || o.want(n)
	}
	if !want {
		return nil
	}
	var out []*Measurement
	row := func(name, desc, unit string, srv *server, dial func() ([]func() error, func(), error)) {
		if !o.want(name) {
			return
		}
		m := &Measurement{Section: "logins", Name: name, Params: map[string]any{"desc": desc, "conns": o.loginConns, "duration_s": o.duration.Seconds()}}
		out = append(out, m)
		logf("logins: %s", name)
		ws, closeAll, err := dial()
		if err != nil {
			m.Error = err.Error()
			return
		}
		runs, err := goLoad(ctx, o, srv.Pid(), ws)
		closeAll()
		if err != nil {
			m.Error = err.Error()
		}
		for _, r := range runs {
			m.Runs = append(m.Runs, r.metrics(unit))
		}
		m.summarize()
		logf("logins: %-32s %8.1f %ss/s  server CPU %7.1f µs/%s", name, m.med(unit+"s_per_s"), unit, m.med("server_cpu_us_per_"+unit), unit)
	}
	fail := func(err error) []*Measurement {
		for _, n := range names {
			if o.want(n) {
				out = append(out, &Measurement{Section: "logins", Name: n, Error: err.Error()})
			}
		}
		return out
	}

	srv, authdAddr, err := startTicketServer(ctx, o, "ticket", "logins-ticket")
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	// The three login rows run interleaved, run by run, so that a change
	// of machine load hits them alike.
	logins := []struct {
		name, desc string
		dial       func() ([]func() error, func(), error)
	}{
		{names[0], "Go client: ticket() at authd, then a challenge login at the broker with it, release; broker and authd in one process, their CPU together",
			func() ([]func() error, func(), error) {
				return ticketWorkers(ctx, authdAddr, srv.addr, o.loginConns, ticketThenLogin)
			}},
		{names[3], "Go client: challenge login at the broker with a ticket in hand (the next one is fetched from authd while it logs in), release; broker and authd in one process, their CPU together (ticket() included)",
			func() ([]func() error, func(), error) {
				return ticketWorkers(ctx, authdAddr, srv.addr, o.loginConns, ticketInHand)
			}},
		{names[1], "Go client, challenge login + release, at the same broker: its in-memory users are tried first",
			func() ([]func() error, func(), error) {
				return loginWorkers(ctx, srv.addr, o.loginConns, func(i int) (string, string) { return fmt.Sprintf("user%d", i), "pw" })
			}},
	}
	var ms []*Measurement
	var targets []target
	for _, l := range logins {
		if !o.want(l.name) {
			continue
		}
		m := &Measurement{Section: "logins", Name: l.name, Params: map[string]any{"desc": l.desc, "conns": o.loginConns, "duration_s": o.duration.Seconds()}}
		out = append(out, m)
		ws, closeAll, err := l.dial()
		if err != nil {
			m.Error = err.Error()
			continue
		}
		defer closeAll()
		ms = append(ms, m)
		targets = append(targets, target{srv.Pid(), ws})
	}
	if len(ms) > 0 {
		logf("logins: ticket logins and the same broker's in-memory logins, interleaved")
		if err := interleaved(ctx, o, o.duration, ms, targets); err != nil {
			for _, m := range ms {
				m.Error = err.Error()
			}
		}
		for _, m := range ms {
			m.summarize()
			logf("logins: %-32s %8.1f logins/s  server CPU %7.1f µs/login", m.Name, m.med("logins_per_s"), m.med("server_cpu_us_per_login"))
		}
	}
	if o.want(names[2]) {
		// Unredeemed tickets expire at once here, so that a login's cap of
		// unredeemed tickets is never reached.
		isrv, iaddr, err := startTicketServer(ctx, o, "ticket-issue", "logins-ticket-issue")
		if err != nil {
			out = append(out, &Measurement{Section: "logins", Name: names[2], Error: err.Error()})
			return out
		}
		defer isrv.stop()
		row(names[2], "Go client: ticket() at authd, nothing else (authd's CPU, with its broker connected and idle)", "ticket", isrv,
			func() ([]func() error, func(), error) {
				return ticketWorkers(ctx, iaddr, "", o.loginConns, ticketOnly)
			})
	}
	return out
}

// authdRatios are the ticket logins' headline figures.
func authdRatios(r *Report) []Ratio {
	var out []Ratio
	mem := r.med("logins", "spread in-memory, ticket broker", "logins_per_s")
	if v := r.med("logins", "spread ticket in hand (authd)", "logins_per_s") / mem; !isBad(v) {
		met := v >= 0.5
		out = append(out, Ratio{Name: "Ticket logins/s vs in-memory logins/s at the same broker", Value: round3(v), Unit: "x", Target: ">= 0.5", Met: &met,
			Note: "the ticket in hand, the next one fetched from authd during the login; authd's CPU for it counted"})
	}
	if v := r.med("logins", "spread ticket (authd)", "logins_per_s") / mem; !isBad(v) {
		out = append(out, Ratio{Name: "ticket() then ticket login, per second, vs in-memory logins/s at the same broker", Value: round3(v), Unit: "x",
			Note: "one after the other: four round trips against two"})
	}
	if v := r.med("logins", "spread ticket (authd)", "server_cpu_us_per_login"); !isBad(v) {
		out = append(out, Ratio{Name: "Server CPU per ticket login, broker + authd", Value: round3(v), Unit: "µs"})
	}
	if v := r.med("logins", "authd tickets issued", "tickets_per_s"); !isBad(v) {
		out = append(out, Ratio{Name: "Tickets issued per second at authd", Value: round3(v), Unit: "/s"})
	}
	return out
}

func isBad(v float64) bool { return v != v || v == 0 || v > 1e300 || v < -1e300 }
