package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django"
	"github.com/gospread/spread/pb"
)

// loginWorkers opens n connections; each worker logs in (Twisted's
// challenge login, or for a hashed store the challenge then Spread's
// password login) and releases the avatar, which logs out.
func loginWorkers(ctx context.Context, addr string, n int, user func(i int) (string, string)) ([]func() error, func(), error) {
	var bs []*pb.Broker
	closeAll := func() {
		for _, b := range bs {
			b.Close()
		}
	}
	var ws []func() error
	for i := 0; i < n; i++ {
		b, err := pb.Dial(ctx, addr, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		bs = append(bs, b)
		u, p := user(i)
		creds := &cred.UsernamePassword{Username: u, Password: []byte(p)}
		ws = append(ws, func() error {
			a, err := b.Login(ctx, creds, nil)
			if err != nil {
				return fmt.Errorf("login %s: %w", u, err)
			}
			return a.Release()
		})
	}
	return ws, closeAll, nil
}

func runLogins(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	memUser := func(i int) (string, string) { return fmt.Sprintf("user%d", i), "pw" }
	memLogins := func(ctx context.Context, addr string, n int) ([]func() error, func(), error) {
		return loginWorkers(ctx, addr, n, memUser)
	}

	loginRow := func(name, desc string, o *options, start func() (*server, error), dial dialer) *Measurement {
		if !o.want(name) {
			return nil
		}
		m := &Measurement{Section: "logins", Name: name, Params: map[string]any{"desc": desc, "conns": o.loginConns, "duration_s": o.duration.Seconds()}}
		out = append(out, m)
		logf("logins: %s", name)
		srv, err := start()
		if err != nil {
			m.Error = err.Error()
			return m
		}
		defer srv.stop()
		ws, closeAll, err := dial(ctx, srv.addr, o.loginConns)
		if err != nil {
			m.Error = err.Error()
			return m
		}
		runs, err := goLoad(ctx, o, srv.Pid(), ws)
		closeAll()
		if err != nil {
			m.Error = err.Error()
		}
		for _, r := range runs {
			m.Runs = append(m.Runs, r.metrics("login"))
		}
		m.summarize()
		logf("logins: %-22s %8.1f logins/s  server CPU %7.1f µs/login  p50 %.0f µs",
			name, m.med("logins_per_s"), m.med("server_cpu_us_per_login"), m.med("p50_us"))
		return m
	}

	out = append(out, runInMemory(ctx, o, memLogins)...)
	loginRow("twisted in-memory", "Go client, challenge login + release, Twisted server, InMemoryUsernamePasswordDatabaseDontUse", o,
		func() (*server, error) {
			return startServer(ctx, "twisted login_server.py", o.benchDir,
				o.python, "-u", filepath.Join(o.benchDir, "py", "login_server.py"), "--users", "1000")
		}, memLogins)

	out = append(out, runDjango(ctx, o)...)
	out = append(out, runTicketLogins(ctx, o)...)
	return out
}

// runInMemory measures Spread's in-memory login and its floor, the same
// bytes on plain TCP (floor.go), with their runs interleaved so that a
// change of machine load hits both alike. Each run of the login also
// gets the CPU it spent above the floor run next to it: PB's own share
// of a login.
func runInMemory(ctx context.Context, o *options, memLogins dialer) []*Measurement {
	names := []string{"spread in-memory", "floor: bare Go TCP"}
	if !o.want(names[0]) && !o.want(names[1]) {
		return nil
	}
	params := func(desc string) map[string]any {
		return map[string]any{"desc": desc, "conns": o.loginConns, "duration_s": o.duration.Seconds()}
	}
	ms := []*Measurement{
		{Section: "logins", Name: names[0], Params: params("Go client, challenge login + release, Spread server, checkers.InMemory")},
		{Section: "logins", Name: names[1], Params: params("the in-memory login's bytes (37->34, 55->12 per login) on plain TCP to a Go server that reads like Spread's reader and answers at once: the kernel's and the Go runtime's share of a login")},
	}
	fail := func(err error) []*Measurement {
		for _, m := range ms {
			m.Error = err.Error()
		}
		return ms
	}
	logf("logins: spread in-memory and its floor, interleaved")
	var targets []target
	for _, t := range []struct {
		name, kind, profile string
		dial                dialer
	}{
		{"spread login server", "login", "logins-spread", memLogins},
		{"floor server", "floor", "logins-floor", floorWorkers},
	} {
		srv, err := startServer(ctx, t.name, o.benchDir,
			append([]string{o.self, "serve", "-kind", t.kind, "-users", "1000"}, o.profileArgs(t.profile)...)...)
		if err != nil {
			return fail(err)
		}
		defer srv.stop()
		ws, closeAll, err := t.dial(ctx, srv.addr, o.loginConns)
		if err != nil {
			return fail(err)
		}
		defer closeAll()
		targets = append(targets, target{srv.Pid(), ws})
	}
	if err := interleaved(ctx, o, o.duration, ms, targets); err != nil {
		return fail(err)
	}
	login, floor := ms[0], ms[1]
	for r := range login.Runs {
		if r < len(floor.Runs) {
			login.Runs[r]["above_floor_us"] = login.Runs[r]["server_cpu_us_per_login"] - floor.Runs[r]["server_cpu_us_per_login"]
		}
	}
	for _, m := range ms {
		m.summarize()
		logf("logins: %-22s %8.1f logins/s  server CPU %7.1f µs/login  p50 %.0f µs",
			m.Name, m.med("logins_per_s"), m.med("server_cpu_us_per_login"), m.med("p50_us"))
	}
	return ms
}

// dialer opens n connections to addr and returns a worker for each (one
// operation per call) and a function that closes them.
type dialer func(ctx context.Context, addr string, n int) ([]func() error, func(), error)

// target is a server process and the workers that load it.
type target struct {
	pid     int
	workers []func() error
}

// interleaved measures targets[i] into ms[i]: one warm-up pass of each,
// then o.runs rounds in which each target runs for d in turn.
func interleaved(ctx context.Context, o *options, d time.Duration, ms []*Measurement, targets []target) error {
	for _, t := range targets {
		if _, err := timedRun(ctx, o.warmup, t.pid, t.workers); err != nil {
			return err
		}
	}
	for r := 0; r < o.runs && ctx.Err() == nil; r++ {
		for i, t := range targets {
			rs, err := timedRun(ctx, d, t.pid, t.workers)
			if err != nil {
				ms[i].Error = err.Error()
				continue
			}
			ms[i].Runs = append(ms[i].Runs, rs.metrics("login"))
		}
	}
	return nil
}

// runDjango measures logins against a Django pbkdf2_sha256 (260,000
// iterations) store in SQLite, with and without the last_login write,
// against the bare hash rate of the same machine. The three are
// interleaved run by run (bare, read-write, read-only), so that a change
// of machine load hits all three alike. Each uses one worker per CPU:
// the hash goroutines in the harness, the logging-in connections for the
// servers (more would only add preemption to the hashes).
func runDjango(ctx context.Context, o *options) []*Measurement {
	names := []string{"bare pbkdf2_sha256 hash", "spread django pbkdf2", "spread django pbkdf2 ro"}
	selected := false
	for _, n := range names {
		selected = selected || o.want(n)
	}
	if !selected {
		return nil
	}
	ncpu := runtime.NumCPU()
	// A hash takes tens of milliseconds: measure twice as long, so that
	// counting whole logins in a run costs well under 1%.
	d := 2 * o.duration
	ms := []*Measurement{
		{Section: "logins", Name: names[0], Params: map[string]any{"desc": fmt.Sprintf("django.Verify, pbkdf2_sha256 %d iterations, %d goroutines, in the harness; \"server CPU\" is the harness's", django.DefaultIterations, ncpu), "conns": ncpu, "duration_s": d.Seconds()}},
		{Section: "logins", Name: names[1], Params: map[string]any{"desc": "Go client: password login (the refused challenge of a connection's first login tells it to); Django auth_user in SQLite, pbkdf2_sha256 260000, last_login written", "conns": ncpu, "duration_s": d.Seconds()}},
		{Section: "logins", Name: names[2], Params: map[string]any{"desc": "as above with Store.ReadOnly (no last_login write)", "conns": ncpu, "duration_s": d.Seconds()}},
	}
	fail := func(err error) []*Measurement {
		for _, m := range ms {
			m.Error = err.Error()
		}
		return ms
	}
	logf("logins: django pbkdf2 and the bare hash rate, interleaved")
	dir, err := os.MkdirTemp("", "spreadbench-django-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)

	enc := django.MakePassword([]byte("benchpass"))
	var hashWorkers []func() error
	for i := 0; i < ncpu; i++ {
		hashWorkers = append(hashWorkers, func() error {
			ok, err := django.Verify([]byte("benchpass"), enc)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("verify failed")
			}
			return nil
		})
	}
	targets := []target{{os.Getpid(), hashWorkers}}
	djUser := func(int) (string, string) { return "bench", "benchpass" }
	for i, ro := range []bool{false, true} {
		args := []string{o.self, "serve", "-kind", "django", "-db", filepath.Join(dir, fmt.Sprintf("db%d.sqlite3", i))}
		if ro {
			args = append(args, "-readonly")
		}
		args = append(args, o.profileArgs(fmt.Sprintf("logins-django-%d", i))...)
		srv, err := startServer(ctx, "spread django server", o.benchDir, args...)
		if err != nil {
			return fail(err)
		}
		defer srv.stop()
		ws, closeAll, err := loginWorkers(ctx, srv.addr, ncpu, djUser)
		if err != nil {
			return fail(err)
		}
		defer closeAll()
		targets = append(targets, target{srv.Pid(), ws})
	}
	if err := interleaved(ctx, o, d, ms, targets); err != nil {
		return fail(err)
	}
	// Ratios run by run: each login run against the bare run just before it.
	for _, m := range ms[1:] {
		for r := range m.Runs {
			if r < len(ms[0].Runs) {
				b := ms[0].Runs[r]
				m.Runs[r]["rate_vs_bare"] = m.Runs[r]["logins_per_s"] / b["logins_per_s"]
				m.Runs[r]["cpu_vs_bare"] = m.Runs[r]["server_cpu_us_per_login"] / b["server_cpu_us_per_login"]
			}
		}
	}
	for _, m := range ms {
		m.summarize()
		logf("logins: %-24s %8.1f logins/s  server CPU %7.0f µs/login", m.Name, m.med("logins_per_s"), m.med("server_cpu_us_per_login"))
	}
	return ms
}

// timedRun runs workers (each in a loop on its own goroutine) for d and
// returns the operations completed, their latencies and the CPU that
// process pid used meanwhile (and, when pid is another process, the
// harness's own CPU as the client's).
func timedRun(ctx context.Context, d time.Duration, pid int, workers []func() error) (runStats, error) {
	var stop atomic.Bool
	var mu sync.Mutex
	var lat []int64
	var firstErr error
	var wg sync.WaitGroup
	self := os.Getpid()
	s0 := sampleOf(pid, self)
	t0 := time.Now()
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int64
			for n := 0; n < maxCallsPerWorker && !stop.Load() && ctx.Err() == nil; n++ {
				s := time.Now()
				if err := w(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					break
				}
				if !stop.Load() {
					mine = append(mine, int64(time.Since(s)))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	el := time.Since(t0)
	s1 := sampleOf(pid, self)
	wg.Wait() // the operations in progress finish uncounted
	if firstErr != nil {
		return runStats{}, firstErr
	}
	slices.Sort(lat)
	rs := runStats{calls: int64(len(lat)), elapsed: el, lat: lat, serverCPU: s1.cpu - s0.cpu}
	if pid != self {
		rs.sysR, rs.sysW = s1.sysR-s0.sysR, s1.sysW-s0.sysW
		rs.clientCPU = s1.client - s0.client
	}
	return rs, nil
}
