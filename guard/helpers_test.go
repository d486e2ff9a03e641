package guard_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/guard"
)

// Test passwords come from variables and are never printed.
var (
	alicePW = "wonderland-" + fmt.Sprint(len("x"))
	bobPW   = "builder-pw"
)

// fakeClock is an adjustable clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// webRealm gives each user an http.Handler that greets them, and counts
// avatars and logouts per user.
type webRealm struct {
	mu      sync.Mutex
	avatars map[string]int
	logouts map[string]int
}

func newRealm() *webRealm {
	return &webRealm{avatars: map[string]int{}, logouts: map[string]int{}}
}

func (r *webRealm) RequestAvatar(ctx context.Context, id string, mind any) (any, func(), error) {
	return r.RequestAvatarFor(ctx, id, mind, cred.IPerspective)
}

func (r *webRealm) RequestAvatarFor(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
	if iface != cred.IHTTPHandler {
		return nil, nil, &cred.InterfaceError{Interface: iface}
	}
	r.mu.Lock()
	r.avatars[id]++
	r.mu.Unlock()
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info, _ := guard.FromContext(req.Context())
		if req.Method == http.MethodPost {
			io.Copy(io.Discard, req.Body)
		}
		fmt.Fprintf(w, "hello %q at %s (anonymous=%v)", info.AvatarID, req.URL.Path, info.Anonymous)
	})
	return h, func() {
		r.mu.Lock()
		r.logouts[id]++
		r.mu.Unlock()
	}, nil
}

func (r *webRealm) counts(id string) (avatars, logouts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.avatars[id], r.logouts[id]
}

// countingChecker wraps a checker and counts calls.
type countingChecker struct {
	cred.KindsChecker
	n atomic.Int64
}

func (c *countingChecker) CheckCredentials(ctx context.Context, cr cred.Credentials) (string, error) {
	c.n.Add(1)
	return c.KindsChecker.CheckCredentials(ctx, cr)
}

type env struct {
	t       testing.TB
	g       *guard.Guard
	realm   *webRealm
	checker *countingChecker
	clock   *fakeClock
	cfg     *guard.Config
}

func memoryChecker() cred.KindsChecker {
	return checkers.NewInMemory(map[string]string{"alice": alicePW, "bob": bobPW})
}

// newEnv builds a Guard over an in-memory user database. mod may adjust
// the config.
func newEnv(t testing.TB, mod func(*guard.Config)) *env {
	t.Helper()
	e := &env{t: t, realm: newRealm(), clock: newClock()}
	e.checker = &countingChecker{KindsChecker: memoryChecker()}
	portal := cred.NewPortal(e.realm, e.checker)
	e.cfg = &guard.Config{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler), SweepInterval: time.Hour}
	if mod != nil {
		mod(e.cfg)
	}
	g, err := guard.New(portal, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	t.Cleanup(func() { g.Close() })
	return e
}

// req builds a request as a browser on a same-origin HTTPS page would
// send it.
func req(method, target string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "https://example.test"+target, body)
	r.TLS = &tls.ConnectionState{}
	r.RemoteAddr = "192.0.2.10:5555"
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", "https://example.test")
	}
	return r
}

func withCookie(r *http.Request, value string) *http.Request {
	r.AddCookie(&http.Cookie{Name: guard.CookieName, Value: value})
	return r
}

func (e *env) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.g.ServeHTTP(w, r)
	return w
}

func loginForm(user, pw, next string) url.Values {
	f := url.Values{"username": {user}, "password": {pw}}
	if next != "" {
		f.Set("next", next)
	}
	return f
}

// login logs user in and returns the session cookie's value.
func (e *env) login(user, pw string) string {
	e.t.Helper()
	w := e.do(req("POST", "/login", loginForm(user, pw, "")))
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d: %s", user, w.Code, w.Body)
	}
	c := sessionCookie(w)
	if c == nil || c.Value == "" {
		e.t.Fatalf("login %s: no session cookie", user)
	}
	return c.Value
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == guard.CookieName || c.Name == guard.InsecureCookieName {
			return c
		}
	}
	return nil
}

// get fetches path in the session sid and returns the response.
func (e *env) get(path, sid string) *httptest.ResponseRecorder {
	return e.do(withCookie(req("GET", path, nil), sid))
}

// mustBeIn checks that sid is a session of user.
func (e *env) mustBeIn(sid, user string) {
	e.t.Helper()
	w := e.get("/x", sid)
	if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf("hello %q", user)) {
		e.t.Fatalf("session of %s: %d %s", user, w.Code, w.Body)
	}
}

// mustBeOut checks that sid is no session.
func (e *env) mustBeOut(sid string) {
	e.t.Helper()
	w := e.get("/x", sid)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
		e.t.Fatalf("ended session: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
}

func newEnvPortal() *cred.Portal { return cred.NewPortal(newRealm(), memoryChecker()) }

// newAnonEnv is newEnv with a portal that admits anonymous users.
func newAnonEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, realm: newRealm(), clock: newClock()}
	e.checker = &countingChecker{KindsChecker: memoryChecker()}
	portal := cred.NewPortal(e.realm, e.checker, checkers.NewAnonymous())
	e.cfg = &guard.Config{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}
	g, err := guard.New(portal, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	t.Cleanup(func() { g.Close() })
	return e
}
