package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// runIdle holds o.idleConns logged-in connections on one server, the
// client side spread over holder processes (spreadbench hold), and
// reports the server's RSS growth per connection. Each run starts a
// fresh server.
func runIdle(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	for _, kind := range []string{"spread", "twisted"} {
		if !o.want(kind + " idle logged-in") {
			continue
		}
		m := &Measurement{Section: "idle", Name: kind + " idle logged-in",
			Params: map[string]any{"conns": o.idleConns, "per_holder": o.perHolder}}
		out = append(out, m)
		for r := 0; r < o.runs && ctx.Err() == nil; r++ {
			res, err := idleRun(ctx, o, kind, r)
			if err != nil {
				m.Error = err.Error()
				logf("idle: %s: %v", kind, err)
				break
			}
			m.Runs = append(m.Runs, res)
			logf("idle: %-8s run %d: %.0f conns, RSS %.1f -> %.1f MB, %.0f B/conn, set-up %.1f s, server CPU %.0f µs/conn",
				kind, r, res["conns"], res["rss_before_mb"], res["rss_after_mb"], res["rss_bytes_per_conn"], res["setup_s"], res["server_cpu_us_per_conn"])
		}
		m.summarize()
	}
	return out
}

func idleRun(ctx context.Context, o *options, kind string, run int) (map[string]float64, error) {
	users := 1000
	var srv *server
	var err error
	if kind == "spread" {
		srv, err = startServer(ctx, "spread login server", o.benchDir,
			append([]string{o.self, "serve", "-kind", "login", "-users", strconv.Itoa(users)}, o.profileArgs(fmt.Sprintf("idle-spread-%d", run))...)...)
	} else {
		srv, err = startServer(ctx, "twisted login_server.py", o.benchDir,
			o.python, "-u", filepath.Join(o.benchDir, "py", "login_server.py"), "--users", strconv.Itoa(users))
	}
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	// Warm the login path once, so the baseline includes its code and caches.
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b, err := pb.Dial(lctx, srv.addr, nil)
	if err == nil {
		var a *pb.RemoteReference
		a, err = b.Login(lctx, &cred.UsernamePassword{Username: "user0", Password: []byte("pw")}, nil)
		if err == nil {
			a.Release()
		}
		b.Close()
	}
	cancel()
	if err != nil {
		return nil, fmt.Errorf("warm-up login: %w", err)
	}
	time.Sleep(500 * time.Millisecond)
	rss0, err := procRSS(srv.Pid())
	if err != nil {
		return nil, err
	}
	cpu0 := cpuOf(srv.Pid())
	t0 := time.Now()

	var holders []*proc
	defer func() {
		for _, h := range holders {
			h.stop()
		}
	}()
	for first := 0; first < o.idleConns; first += o.perHolder {
		n := min(o.perHolder, o.idleConns-first)
		h, err := startProc("holder", o.benchDir, nil, o.self, "hold", "-addr", srv.addr,
			"-n", strconv.Itoa(n), "-first", strconv.Itoa(first), "-users", strconv.Itoa(users), "-conc", "8",
			"-max-hold", "10m")
		if err != nil {
			return nil, err
		}
		holders = append(holders, h)
	}
	var ok, failed int
	for _, h := range holders {
		l, err := h.expect("READY ", 5*time.Minute, nil)
		if err != nil {
			return nil, err
		}
		f := strings.Fields(l)
		a, _ := strconv.Atoi(f[1])
		b, _ := strconv.Atoi(f[2])
		ok += a
		failed += b
		h.drain()
	}
	setup := time.Since(t0)
	cpu1 := cpuOf(srv.Pid())
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d logins failed: %s", failed, o.idleConns, holders[0].Stderr())
	}
	// RSS 2 s after the last login, and once it has settled: a Go
	// server frees the goroutine stacks and garbage of the set-up burst
	// and its background scavenger returns them to the OS over some
	// seconds; Twisted's RSS hardly moves. Settled: three readings a
	// second apart within 1% of each other (at most settleMax).
	time.Sleep(2 * time.Second)
	rss2s, err := procRSS(srv.Pid())
	if err != nil {
		return nil, err
	}
	rss1, settle, err := settledRSS(ctx, srv.Pid(), rss2s)
	if err != nil {
		return nil, err
	}
	if kind == "spread" && o.profileDir != "" {
		// Heap profile and goroutines while the connections are held.
		srv.cmd.Process.Signal(syscall.SIGUSR1)
		time.Sleep(2 * time.Second)
	}
	return map[string]float64{
		"conns":                  float64(ok),
		"rss_before_mb":          float64(rss0) / (1 << 20),
		"rss_after_mb":           float64(rss1) / (1 << 20),
		"rss_bytes_per_conn":     float64(rss1-rss0) / float64(ok),
		"rss_2s_mb":              float64(rss2s) / (1 << 20),
		"rss_2s_bytes_per_conn":  float64(rss2s-rss0) / float64(ok),
		"settle_s":               2 + settle.Seconds(),
		"setup_s":                setup.Seconds(),
		"logins_per_s":           float64(ok) / setup.Seconds(),
		"server_cpu_us_per_conn": float64((cpu1 - cpu0).Microseconds()) / float64(ok),
	}, nil
}

// settleMax bounds the wait for a settled RSS.
const settleMax = 30 * time.Second

// settledRSS reads pid's RSS once a second, starting from first, until
// three readings in a row are within 1% of each other, and returns the
// last one and how long that took.
func settledRSS(ctx context.Context, pid int, first int64) (int64, time.Duration, error) {
	start := time.Now()
	last := []int64{first}
	for time.Since(start) < settleMax {
		if n := len(last); n >= 3 {
			lo, hi := last[n-3], last[n-3]
			for _, v := range last[n-3:] {
				lo, hi = min(lo, v), max(hi, v)
			}
			if float64(hi-lo) <= 0.01*float64(hi) {
				return last[n-1], time.Since(start), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(time.Second):
		}
		v, err := procRSS(pid)
		if err != nil {
			return 0, 0, err
		}
		last = append(last, v)
	}
	return last[len(last)-1], time.Since(start), nil
}
