package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// The flood section: a Spread login server with its default connection
// caps (pb.Limits) while flooder processes (spreadbench flood) hold as
// many connections that never log in as it lets them, from many
// loopback addresses, and open a new one whenever one is refused.
//
//   - "spread logged-in users under a connection flood": floodUsers
//     logged-in users (Go clients in the harness) each call foo at
//     floodRate calls/s; a user keeps the rate when it completes at least
//     90% of its calls in a run. Reported: users that kept the rate, the
//     calls/s of all, p50 and p99.
//   - "spread server CPU per refused connection": with the caps full and
//     the users idle, the harness opens connections as fast as it can
//     (all refused at once); server CPU per refused connection.

const (
	floodRate     = 10 // calls per second per user: a chat user typing fast
	floodSources  = 40 // loopback addresses the flooders use, 127.0.1.1...
	floodRefusers = 8  // goroutines opening refused connections
)

// floodMain holds -n connections to -addr that send nothing, spread over
// source addresses 127.0.1.1..127.0.1.<srcs>, reopening each that the
// server closes. It prints "FLOODING <open>" once it has tried them all,
// and ends on SIGTERM or stdin EOF.
func floodMain(args []string) int {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 2000, "connections to hold")
	srcs := fs.Int("srcs", floodSources, "source addresses 127.0.1.1..N")
	first := fs.Int("first", 1, "first source address index")
	fs.Parse(args)

	var open atomic.Int64
	var stopping atomic.Bool
	var tried sync.WaitGroup
	tried.Add(*n)
	for i := 0; i < *n; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+(*first-1+i)%*srcs))}
		go func() {
			d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
			once := false
			for !stopping.Load() {
				c, err := d.Dial("tcp", *addr)
				if err == nil {
					open.Add(1)
				}
				if !once {
					once = true
					tried.Done()
				}
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				// Settle the dialect (so that the handshake timeout does
				// not apply) and hold it until the server closes it. A
				// refused connection (closed before the offer) is not
				// reopened: the harness's refusers make the stream of
				// refused connections. One closed by the login timeout
				// (30 s) is.
				var offer [64]byte
				k, _ := c.Read(offer[:])
				if k > 0 {
					c.Write(banana.AppendChoice(nil, banana.DialectPB))
					io.Copy(io.Discard, c)
				}
				c.Close()
				open.Add(-1)
				if k == 0 {
					return
				}
			}
		}()
	}
	tried.Wait()
	time.Sleep(200 * time.Millisecond)
	fmt.Printf("FLOODING %d\n", open.Load())
	sig, stdinEOF := stopRequests()
	select {
	case <-sig:
	case <-stdinEOF:
	}
	stopping.Store(true)
	return 0
}

func runFlood(ctx context.Context, o *options) []*Measurement {
	users, perFlooder, flooders := o.floodUsers, 4000, 2
	unauthCap := 0 // the default: a quarter of the file limit less 10%
	if o.quick {
		perFlooder, unauthCap = 400, 500
	}
	mUsers := &Measurement{Section: "flood", Name: "spread logged-in users under a connection flood",
		Params: map[string]any{"users": users, "rate_per_user": floodRate, "flood_conns": flooders * perFlooder,
			"flood_sources": floodSources, "desc": "Go clients, each calling foo 10 times a second, while flooder processes hold the server at its cap on connections not logged in and reopen refused ones"}}
	mBase := &Measurement{Section: "flood", Name: "spread logged-in users, no flood (baseline)",
		Params: map[string]any{"users": users, "rate_per_user": floodRate, "desc": "the same users and calls before the flood starts"}}
	mCPU := &Measurement{Section: "flood", Name: "spread server CPU per refused connection",
		Params: map[string]any{"refusers": floodRefusers, "desc": "new connections while the cap on connections not logged in is full, from the harness, as fast as they are refused"}}
	var out []*Measurement
	if o.want(mBase.Name) {
		out = append(out, mBase)
	}
	if o.want(mUsers.Name) {
		out = append(out, mUsers)
	}
	if o.want(mCPU.Name) {
		out = append(out, mCPU)
	}
	if len(out) == 0 {
		return nil
	}
	fail := func(err error) []*Measurement {
		for _, m := range out {
			m.Error = err.Error()
			logf("flood: %s: %v", m.Name, err)
		}
		return out
	}
	argv := []string{o.self, "serve", "-kind", "login", "-users", strconv.Itoa(users)}
	if unauthCap > 0 {
		argv = append(argv, "-max-unauth-conns", strconv.Itoa(unauthCap))
	}
	srv, err := startServer(ctx, "spread login server", o.benchDir, append(argv, o.profileArgs("flood")...)...)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()

	// The users log in before the flood: a flood that fills the cap on
	// connections not logged in keeps new logins out until it ends.
	var refs []*pb.RemoteReference
	for i := 0; i < users; i++ {
		lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		b, err := pb.Dial(lctx, srv.addr, nil)
		if err != nil {
			cancel()
			return fail(err)
		}
		defer b.Close()
		a, err := b.Login(lctx, &cred.UsernamePassword{Username: "user" + strconv.Itoa(i), Password: []byte("pw")}, nil)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("login %d: %w", i, err))
		}
		refs = append(refs, a)
	}

	if o.want(mBase.Name) {
		for r := -1; r < o.runs && ctx.Err() == nil; r++ {
			d := o.duration
			if r < 0 {
				d = o.warmup
			}
			res, err := pacedRun(ctx, d, srv.Pid(), refs)
			if err != nil {
				return fail(err)
			}
			if r >= 0 {
				mBase.Runs = append(mBase.Runs, res)
				logf("flood: baseline run %d: %.0f of %d users kept %d calls/s; p50 %.0f µs, p99 %.0f µs; server CPU %.1f%%",
					r, res["users_at_rate"], users, floodRate, res["p50_us"], res["p99_us"], res["server_cpu_pct"])
			}
		}
	}

	var fl []*proc
	defer func() {
		for _, p := range fl {
			p.stop()
		}
	}()
	for i := 0; i < flooders; i++ {
		p, err := startProc("flooder", o.benchDir, nil, o.self, "flood", "-addr", srv.addr,
			"-n", strconv.Itoa(perFlooder), "-first", strconv.Itoa(1+i*floodSources/flooders))
		if err != nil {
			return fail(err)
		}
		fl = append(fl, p)
	}
	held := 0
	for _, p := range fl {
		l, err := p.expect("FLOODING ", 2*time.Minute, nil)
		if err != nil {
			return fail(err)
		}
		k, _ := strconv.Atoi(l[len("FLOODING "):])
		held += k
		p.drain()
	}
	logf("flood: %d users logged in; flooders hold %d connections (of %d tried)", users, held, flooders*perFlooder)

	for r := -1; r < o.runs && ctx.Err() == nil; r++ {
		d := o.duration
		if r < 0 {
			d = o.warmup // the warm-up run is not recorded
		}
		if o.want(mUsers.Name) {
			// New connections keep coming and are refused meanwhile.
			refc := make(chan map[string]float64, 1)
			go func() {
				res, _ := refusedRun(ctx, d, srv.Pid(), srv.addr)
				refc <- res
			}()
			res, err := pacedRun(ctx, d, srv.Pid(), refs)
			ref := <-refc
			if err != nil {
				return fail(err)
			}
			res["flood_held"] = float64(held)
			res["refused_per_s"] = ref["refused_per_s"]
			if r >= 0 {
				mUsers.Runs = append(mUsers.Runs, res)
				logf("flood: run %d: %.0f of %d users kept %d calls/s; %.0f calls/s in all, p50 %.0f µs, p99 %.0f µs; %.0f refused connections/s; server CPU %.1f%%",
					r, res["users_at_rate"], users, floodRate, res["calls_per_s"], res["p50_us"], res["p99_us"], res["refused_per_s"], res["server_cpu_pct"])
			}
		}
		if o.want(mCPU.Name) {
			res, err := refusedRun(ctx, d, srv.Pid(), srv.addr)
			if err != nil {
				return fail(err)
			}
			if r >= 0 {
				mCPU.Runs = append(mCPU.Runs, res)
				logf("flood: run %d: %.0f refused connections/s, server CPU %.1f µs each", r, res["refused_per_s"], res["server_cpu_us_per_refused"])
			}
		}
	}
	for _, m := range out {
		m.summarize()
	}
	return out
}

// pacedRun has every user call foo floodRate times a second for d.
func pacedRun(ctx context.Context, d time.Duration, pid int, refs []*pb.RemoteReference) (map[string]float64, error) {
	var mu sync.Mutex
	var lat []int64
	var firstErr error
	atRate := 0
	var total int64
	cpu0 := cpuOf(pid)
	t0 := time.Now()
	end := t0.Add(d)
	interval := time.Second / floodRate
	var wg sync.WaitGroup
	for i, a := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the users' ticks over the interval.
			next := t0.Add(time.Duration(i) * interval / time.Duration(len(refs)))
			var mine []int64
			for ctx.Err() == nil {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				if time.Now().After(end) {
					break
				}
				s := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := a.CallRemote(cctx, "foo", int64(i))
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, int64(time.Since(s)))
				next = next.Add(interval)
			}
			mu.Lock()
			lat = append(lat, mine...)
			total += int64(len(mine))
			if float64(len(mine)) >= 0.9*d.Seconds()*floodRate {
				atRate++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	cpu := cpuOf(pid) - cpu0
	if firstErr != nil {
		return nil, firstErr
	}
	slices.Sort(lat)
	return map[string]float64{
		"users_at_rate":  float64(atRate),
		"calls_per_s":    float64(total) / el.Seconds(),
		"p50_us":         percentile(lat, 50) / 1e3,
		"p99_us":         percentile(lat, 99) / 1e3,
		"server_cpu_pct": 100 * cpu.Seconds() / el.Seconds(),
	}, nil
}

// refusedRun opens connections as fast as the server refuses them, for
// d, and returns the server's CPU per refused connection.
func refusedRun(ctx context.Context, d time.Duration, pid int, addr string) (map[string]float64, error) {
	var refused, accepted atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	cpu0 := cpuOf(pid)
	t0 := time.Now()
	for g := 0; g < floodRefusers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [64]byte
			for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
				// Many source addresses: plenty of ports for a stream of
				// short connections.
				src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(2+g), byte(1+i%250))}
				dl := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
				c, err := dl.Dial("tcp", addr)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf[:])
				c.Close()
				switch {
				case n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
					refused.Add(1)
				default:
					accepted.Add(1) // a place was free: the flood is not at the cap
				}
			}
		}()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	el := time.Since(t0)
	cpu := cpuOf(pid) - cpu0
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	n := refused.Load()
	if n == 0 {
		return nil, fmt.Errorf("no connection was refused (%d accepted): the flood is not at the cap", accepted.Load())
	}
	return map[string]float64{
		"refused_per_s":             float64(n) / el.Seconds(),
		"accepted":                  float64(accepted.Load()),
		"server_cpu_us_per_refused": float64(cpu.Microseconds()) / float64(n),
	}, nil
}

func printFlood(w io.Writer, ms []*Measurement) {
	if len(ms) == 0 {
		return
	}
	fmt.Fprintln(w, "\n### Under a connection flood (default caps; flooders hold the cap on connections not logged in)")
	fmt.Fprintln(w, "\n| what | users | users at 10 calls/s | calls/s | p50 µs | p99 µs | refused conns/s | server CPU µs/refused |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, m := range ms {
		users := m.Params["users"]
		if users == nil {
			users = ""
		}
		fmt.Fprintf(w, "| %s | %v | %s | %s | %s | %s | %s | %s |\n", m.Name, users, f(m, "users_at_rate", "%.0f"), f(m, "calls_per_s", "%.0f"),
			f(m, "p50_us", "%.0f"), f(m, "p99_us", "%.0f"), f(m, "refused_per_s", "%.0f"), f(m, "server_cpu_us_per_refused", "%.1f"))
	}
}
