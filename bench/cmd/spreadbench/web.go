package main

// The web section: the per-request cost of Spread's guard next to a bare
// handler and alexedwards/scs, and web logins against a Django PBKDF2
// store next to the bare hash rate.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/cred/django"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/guard"
)

const webPage = "hello "

// webRealm gives every user a handler that greets them.
var webRealm = cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
	if iface != cred.IHTTPHandler {
		return benchRealm.RequestAvatar(ctx, id, mind)
	}
	body := []byte(webPage + id)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }), nil, nil
})

// webRealmCT is webRealm with handlers that set their Content-Type, as
// most handlers do (net/http then sniffs nothing).
var webRealmCT = cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
	if iface != cred.IHTTPHandler {
		return benchRealm.RequestAvatar(ctx, id, mind)
	}
	return contentTypeHandler([]byte(webPage + id)), nil, nil
})

var textPlain = []string{"text/plain; charset=utf-8"}

func contentTypeHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = textPlain
		w.Write(body)
	})
}

// serveWeb returns the server of a web kind. All serve plain HTTP on
// loopback (the guard with InsecureLoopbackHTTP), so that TLS costs
// nothing in any of them.
func serveWeb(kind string, ln net.Listener, db string, users int, log *slog.Logger) (func() error, error) {
	var h http.Handler
	switch kind {
	case "web-bare":
		body := []byte(webPage + "user0")
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	case "web-bare-headers":
		// The bare handler sending the three headers the guard adds to
		// every page of a session (as guard.Guard sets them), to tell
		// their cost from the session check's.
		body := []byte(webPage + "user0")
		noStore, frameNone, sameOrigin := []string{"no-store"}, []string{"frame-ancestors 'none'"}, []string{"same-origin"}
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd["Cache-Control"] = noStore
			hd["Content-Security-Policy"] = frameNone
			hd["Referrer-Policy"] = sameOrigin
			w.Write(body)
		})
	case "web-bare-ct":
		h = contentTypeHandler([]byte(webPage + "user0"))
	case "web-guard", "web-guard-ct":
		realm := webRealm
		if kind == "web-guard-ct" {
			realm = webRealmCT
		}
		portal := cred.NewPortal(realm, checkers.NewInMemory(benchUsers(users)))
		g, err := guard.New(portal, &guard.Config{InsecureLoopbackHTTP: true, Logger: log})
		if err != nil {
			return nil, err
		}
		h = g
	case "web-scs":
		// The comparison is the per-request cost of a session; the login
		// handler only puts the user name into a new session.
		sm := scs.New()
		sm.Cookie.Secure = false
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			sm.Put(r.Context(), "user", r.PostFormValue("username"))
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			user := sm.GetString(r.Context(), "user")
			if user == "" {
				http.Error(w, "login required", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(webPage + user))
		})
		h = sm.LoadAndSave(mux)
	case "web-django":
		if db == "" {
			return nil, errors.New("-db is required for web-django")
		}
		ctx := context.Background()
		st, err := djangostore.Open(ctx, "sqlite:"+db, nil)
		if err != nil {
			return nil, err
		}
		if _, err := st.EnsureSchema(ctx); err != nil {
			return nil, err
		}
		if err := st.AddUser(ctx, "bench", []byte("benchpass")); err != nil && !errors.Is(err, djangostore.ErrUserExists) {
			return nil, err
		}
		g, err := guard.New(cred.NewPortal(webRealm, st), &guard.Config{InsecureLoopbackHTTP: true, Stamper: st, Logger: log})
		if err != nil {
			return nil, err
		}
		h = g
	default:
		return nil, fmt.Errorf("unknown web kind %q", kind)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return func() error { return srv.Serve(ln) }, nil
}

// webClient is one keep-alive connection's client.
func webClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 30 * time.Second,
	}
}

// webLogin posts the login form and returns the session cookie.
func webLogin(ctx context.Context, c *http.Client, base, user, pw string) (*http.Cookie, error) {
	form := url.Values{"username": {user}, "password": {pw}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login %s: status %d", user, resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Value != "" {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("login %s: no session cookie", user)
}

// webRequestWorkers opens n connections to addr; each logs in as its own
// user when login is set, then a worker is one GET / in that session.
func webRequestWorkers(login bool) dialer {
	return func(ctx context.Context, addr string, n int) ([]func() error, func(), error) {
		base := "http://" + addr
		var clients []*http.Client
		closeAll := func() {
			for _, c := range clients {
				c.CloseIdleConnections()
			}
		}
		var ws []func() error
		for i := 0; i < n; i++ {
			c := webClient()
			clients = append(clients, c)
			user := fmt.Sprintf("user%d", i)
			var cookie *http.Cookie
			if login {
				var err error
				if cookie, err = webLogin(ctx, c, base, user, "pw"); err != nil {
					closeAll()
					return nil, nil, err
				}
			}
			want := webPage + user
			if !login {
				want = webPage + "user0"
			}
			req, err := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			if cookie != nil {
				req.AddCookie(cookie)
			}
			buf := make([]byte, 64)
			ws = append(ws, func() error {
				resp, err := c.Do(req)
				if err != nil {
					return err
				}
				k, _ := io.ReadFull(resp.Body, buf)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(buf[:k]) != want {
					return fmt.Errorf("GET /: status %d, body %q", resp.StatusCode, buf[:k])
				}
				return nil
			})
		}
		return ws, closeAll, nil
	}
}

// webLoginWorkers: each worker is one web login of bench/benchpass.
func webLoginWorkers(ctx context.Context, addr string, n int) ([]func() error, func(), error) {
	base := "http://" + addr
	var clients []*http.Client
	var ws []func() error
	for i := 0; i < n; i++ {
		c := webClient()
		clients = append(clients, c)
		ws = append(ws, func() error {
			_, err := webLogin(ctx, c, base, "bench", "benchpass")
			return err
		})
	}
	return ws, func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}, nil
}

func runWeb(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	out = append(out, runWebRequests(ctx, o)...)
	out = append(out, runWebLogins(ctx, o)...)
	return out
}

// runWebRequests measures a small handler bare, behind the guard with a
// valid session, and behind scs's LoadAndSave with its memory store,
// runs interleaved.
func runWebRequests(ctx context.Context, o *options) []*Measurement {
	names := []string{"web bare handler", "web spread guard", "web scs LoadAndSave", "web bare handler with the guard's headers",
		"web bare handler setting Content-Type", "web spread guard, handler setting Content-Type"}
	kinds := []string{"web-bare", "web-guard", "web-scs", "web-bare-headers", "web-bare-ct", "web-guard-ct"}
	login := []bool{false, true, true, false, false, true}
	descs := []string{
		"net/http server, a handler writing 11 bytes; plain HTTP on loopback, keep-alive",
		"the same behind guard.Guard with a valid session (MemoryStore, no Stamper)",
		"the same behind alexedwards/scs v2 LoadAndSave, memory store, a session holding the user name",
		"the bare handler setting the three headers the guard sends with every page (no-store, frame-ancestors, Referrer-Policy)",
		"the bare handler setting its Content-Type header before writing, as most handlers do",
		"that handler behind guard.Guard with a valid session",
	}
	conns := o.loginConns
	var ms []*Measurement
	for i, n := range names {
		ms = append(ms, &Measurement{Section: "web", Name: n, Params: map[string]any{"desc": descs[i], "conns": conns, "duration_s": o.duration.Seconds()}})
	}
	if !slices.ContainsFunc(names, o.want) {
		return nil
	}
	fail := func(err error) []*Measurement {
		for _, m := range ms {
			m.Error = err.Error()
		}
		return ms
	}
	logf("web: bare, guard and scs, interleaved")
	var targets []target
	for i, k := range kinds {
		srv, err := startServer(ctx, k+" server", o.benchDir, append([]string{o.self, "serve", "-kind", k, "-users", "1000"}, o.profileArgs(k)...)...)
		if err != nil {
			return fail(err)
		}
		defer srv.stop()
		ws, closeAll, err := webRequestWorkers(login[i])(ctx, srv.addr, conns)
		if err != nil {
			return fail(err)
		}
		defer closeAll()
		targets = append(targets, target{srv.Pid(), ws})
	}
	if err := interleavedUnit(ctx, o, o.duration, ms, targets, "request"); err != nil {
		return fail(err)
	}
	bare := ms[0]
	for _, m := range ms[1:] {
		for r := range m.Runs {
			if r < len(bare.Runs) {
				m.Runs[r]["above_bare_us"] = m.Runs[r]["server_cpu_us_per_request"] - bare.Runs[r]["server_cpu_us_per_request"]
			}
		}
	}
	bct, gct := ms[4], ms[5]
	for r := range gct.Runs {
		if r < len(bct.Runs) {
			gct.Runs[r]["above_bare_ct_us"] = gct.Runs[r]["server_cpu_us_per_request"] - bct.Runs[r]["server_cpu_us_per_request"]
		}
	}
	g, s, hd := ms[1], ms[2], ms[3]
	for r := range g.Runs {
		if r < len(s.Runs) {
			g.Runs[r]["cpu_vs_scs"] = g.Runs[r]["server_cpu_us_per_request"] / s.Runs[r]["server_cpu_us_per_request"]
		}
		if r < len(hd.Runs) {
			g.Runs[r]["above_headers_us"] = g.Runs[r]["server_cpu_us_per_request"] - hd.Runs[r]["server_cpu_us_per_request"]
		}
	}
	for _, m := range ms {
		m.summarize()
		logf("web: %-22s %9.0f requests/s  server CPU %6.2f µs/request  p50 %.0f µs",
			m.Name, m.med("requests_per_s"), m.med("server_cpu_us_per_request"), m.med("p50_us"))
	}
	return ms
}

// runWebLogins measures web logins through the guard against Django's
// pbkdf2_sha256 (260,000 iterations) in SQLite, interleaved with the bare
// hash rate, one worker per CPU each.
func runWebLogins(ctx context.Context, o *options) []*Measurement {
	names := []string{"web bare pbkdf2_sha256 hash", "web guard django pbkdf2 login"}
	if !o.want(names[0]) && !o.want(names[1]) {
		return nil
	}
	ncpu := runtime.NumCPU()
	d := 2 * o.duration
	ms := []*Measurement{
		{Section: "web", Name: names[0], Params: map[string]any{"desc": fmt.Sprintf("django.Verify, pbkdf2_sha256 %d iterations, %d goroutines, in the harness", django.DefaultIterations, ncpu), "conns": ncpu, "duration_s": d.Seconds()}},
		{Section: "web", Name: names[1], Params: map[string]any{"desc": "POST /login to the guard (plain HTTP, loopback), Django auth_user in SQLite, pbkdf2_sha256 260000, last_login written, Stamper on, a new session per login", "conns": ncpu, "duration_s": d.Seconds()}},
	}
	fail := func(err error) []*Measurement {
		for _, m := range ms {
			m.Error = err.Error()
		}
		return ms
	}
	logf("web: django pbkdf2 web logins and the bare hash rate, interleaved")
	dir, err := os.MkdirTemp("", "spreadbench-web-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	enc := django.MakePassword([]byte("benchpass"))
	var hashWorkers []func() error
	for i := 0; i < ncpu; i++ {
		hashWorkers = append(hashWorkers, func() error {
			if ok, err := django.Verify([]byte("benchpass"), enc); err != nil || !ok {
				return fmt.Errorf("verify: %v %v", ok, err)
			}
			return nil
		})
	}
	srv, err := startServer(ctx, "web-django server", o.benchDir,
		append([]string{o.self, "serve", "-kind", "web-django", "-db", filepath.Join(dir, "db.sqlite3")}, o.profileArgs("web-django")...)...)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	ws, closeAll, err := webLoginWorkers(ctx, srv.addr, ncpu)
	if err != nil {
		return fail(err)
	}
	defer closeAll()
	targets := []target{{os.Getpid(), hashWorkers}, {srv.Pid(), ws}}
	if err := interleavedUnit(ctx, o, d, ms, targets, "login"); err != nil {
		return fail(err)
	}
	login := ms[1]
	for r := range login.Runs {
		if r < len(ms[0].Runs) {
			b := ms[0].Runs[r]
			login.Runs[r]["rate_vs_bare"] = login.Runs[r]["logins_per_s"] / b["logins_per_s"]
			login.Runs[r]["cpu_vs_bare"] = login.Runs[r]["server_cpu_us_per_login"] / b["server_cpu_us_per_login"]
		}
	}
	for _, m := range ms {
		m.summarize()
		logf("web: %-30s %8.1f logins/s  server CPU %7.0f µs/login", m.Name, m.med("logins_per_s"), m.med("server_cpu_us_per_login"))
	}
	return ms
}

// interleavedUnit is interleaved with the unit of the metrics named.
func interleavedUnit(ctx context.Context, o *options, d time.Duration, ms []*Measurement, targets []target, unit string) error {
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
			ms[i].Runs = append(ms[i].Runs, rs.metrics(unit))
		}
	}
	return nil
}

// webRatios are the web section's headline figures.
func webRatios(r *Report) []Ratio {
	var out []Ratio
	add := func(name string, v float64, unit, op string, target float64, note string) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		x := Ratio{Name: name, Value: round3(v), Unit: unit, Note: note}
		if op != "" {
			x.Target = fmt.Sprintf("%s %g", op, target)
			met := (op == ">=" && v >= target) || (op == "<=" && v <= target)
			x.Met = &met
		}
		out = append(out, x)
	}
	add("Guard: server CPU per request above the bare handler", r.med("web", "web spread guard", "above_bare_us"), "µs", "<=", 2, "valid session; median of run-by-run differences")
	add("Guard: server CPU per request above the bare handler sending the same three headers", r.med("web", "web spread guard", "above_headers_us"), "µs", "", 0, "the session check alone; median of run-by-run differences")
	add("Guard: server CPU per request above a bare handler that sets its Content-Type (the same handler behind both)", r.med("web", "web spread guard, handler setting Content-Type", "above_bare_ct_us"), "µs", "", 0, "net/http's header map and its clone are then paid by the handler already; median of run-by-run differences")
	add("scs LoadAndSave: server CPU per request above the bare handler", r.med("web", "web scs LoadAndSave", "above_bare_us"), "µs", "", 0, "")
	add("Guard vs scs: server CPU per request", r.med("web", "web spread guard", "cpu_vs_scs"), "x", "<=", 1, "median of run-by-run ratios")
	add("Guard vs bare handler: requests/s", r.med("web", "web spread guard", "requests_per_s")/r.med("web", "web bare handler", "requests_per_s"), "x", "", 0, "")
	add("Web logins/s (guard, Django pbkdf2) vs bare hash rate", r.med("web", "web guard django pbkdf2 login", "rate_vs_bare"), "x", ">=", 0.95, "median of run-by-run ratios")
	add("Web login server CPU vs CPU per bare hash", r.med("web", "web guard django pbkdf2 login", "cpu_vs_bare"), "x", "", 0, "")
	return out
}

// printWeb prints the web section's table.
func printWeb(w io.Writer, r *Report) {
	var web []*Measurement
	for _, m := range r.Measurements {
		if m.Section == "web" {
			web = append(web, m)
		}
	}
	if len(web) == 0 {
		return
	}
	fmt.Fprintln(w, "\n### Web (guard vs bare handler vs scs, plain HTTP on loopback; web logins against Django PBKDF2, interleaved with the bare hash)")
	fmt.Fprintln(w, "\n| what | per second | p50 µs | server CPU µs/op | above bare µs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, m := range web {
		unit := "request"
		if _, ok := m.Median["logins_per_s"]; ok {
			unit = "login"
		}
		above := f(m, "above_bare_us", "%.2f")
		if _, ok := m.Median["above_bare_ct_us"]; ok {
			above = f(m, "above_bare_ct_us", "%.2f") + " (above the handler setting Content-Type)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m.Name, f(m, unit+"s_per_s", "%.0f"), f(m, "p50_us", "%.0f"),
			f(m, "server_cpu_us_per_"+unit, "%.2f"), above)
	}
}
