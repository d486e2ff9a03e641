package guard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/guard"
)

func TestLoginFlow(t *testing.T) {
	e := newEnv(t, nil)

	// A browser without a session is sent to the login page.
	w := e.do(req("GET", "/page?a=1", nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next=%2Fpage%3Fa%3D1" {
		t.Fatalf("no session: %d %q", w.Code, w.Header().Get("Location"))
	}
	// A script gets 401.
	r := req("GET", "/page", nil)
	r.Header.Set("Accept", "application/json")
	if w := e.do(r); w.Code != http.StatusUnauthorized {
		t.Fatalf("no session, no HTML: %d", w.Code)
	}

	// The login page and its headers.
	w = e.do(req("GET", "/login?next=%2Fpage", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `<label for="password">`) || !strings.Contains(body, `name="next" value="/page"`) {
		t.Fatalf("login page: %d %s", w.Code, body)
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "style-src 'nonce-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("login CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("login page headers: %v", h)
	}

	// A wrong password: the page again, with the error, and no cookie.
	w = e.do(req("POST", "/login", loginForm("alice", "wrong", "/page")))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "not correct") || sessionCookie(w) != nil {
		t.Fatalf("wrong password: %d %v %s", w.Code, sessionCookie(w), w.Body)
	}

	// The right one: a cookie and the way to next.
	w = e.do(req("POST", "/login", loginForm("alice", alicePW, "/page")))
	c := sessionCookie(w)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/page" || c == nil {
		t.Fatalf("login: %d %q %v", w.Code, w.Header().Get("Location"), c)
	}
	if c.Name != "__Host-spread-session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || len(c.Value) != 43 {
		t.Fatalf("cookie: %+v", c)
	}
	w = e.get("/page", c.Value)
	if w.Code != 200 || w.Body.String() != `hello "alice" at /page (anonymous=false)` {
		t.Fatalf("page: %d %s", w.Code, w.Body)
	}
	h = w.Header()
	if h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("page headers: %v", h)
	}
	// Many requests, one password check.
	for i := 0; i < 20; i++ {
		e.mustBeIn(c.Value, "alice")
	}
	if n := e.checker.n.Load(); n != 2 {
		t.Errorf("%d password checks, want 2 (one wrong, one right)", n)
	}

	// GET never logs out.
	if w := e.get("/logout", c.Value); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout: %d", w.Code)
	}
	e.mustBeIn(c.Value, "alice")

	// Logout: the session ends, the cookie is deleted, the realm's
	// logout runs once.
	w = e.do(withCookie(req("POST", "/logout", url.Values{}), c.Value))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", w.Code, w.Header().Get("Location"))
	}
	if d := sessionCookie(w); d == nil || d.MaxAge >= 0 || d.Value != "" {
		t.Fatalf("logout cookie: %+v", d)
	}
	e.mustBeOut(c.Value)
	if av, lo := e.realm.counts("alice"); av != 1 || lo != 1 {
		t.Fatalf("alice: %d avatars, %d logouts; want 1 and 1", av, lo)
	}
	// A second logout with the old cookie changes nothing.
	e.do(withCookie(req("POST", "/logout", url.Values{}), c.Value))
	if _, lo := e.realm.counts("alice"); lo != 1 {
		t.Fatalf("alice: %d logouts after a second logout", lo)
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	e := newEnv(t, nil)
	norm := func(w interface{ String() string }, user string) string {
		s := w.String()
		s = strings.ReplaceAll(s, user, "USER")
		return nonceRE.ReplaceAllString(s, "")
	}
	a := e.do(req("POST", "/login", loginForm("alice", "wrong", "")))
	b := e.do(req("POST", "/login", loginForm("nobody", "wrong", "")))
	if a.Code != b.Code || norm(a.Body, "alice") != norm(b.Body, "nobody") {
		t.Fatalf("wrong password and unknown user differ:\n%d %s\n%d %s", a.Code, a.Body, b.Code, b.Body)
	}
	for k := range a.Header() {
		if k != "Content-Security-Policy" && a.Header().Get(k) != b.Header().Get(k) {
			t.Errorf("header %s differs: %q %q", k, a.Header().Get(k), b.Header().Get(k))
		}
	}
}

func TestTimeouts(t *testing.T) {
	e := newEnv(t, nil)
	// Idle: a request every 20 minutes keeps the session; 30 minutes of
	// silence end it.
	sid := e.login("alice", alicePW)
	for i := 0; i < 5; i++ {
		e.clock.Advance(20 * time.Minute)
		e.mustBeIn(sid, "alice")
	}
	e.clock.Advance(30 * time.Minute)
	e.mustBeOut(sid)
	if _, lo := e.realm.counts("alice"); lo != 1 {
		t.Fatalf("idle expiry: %d logouts", lo)
	}

	// Absolute: 12 hours after the login, however busy.
	sid = e.login("alice", alicePW)
	for i := 0; i < 12*3-1; i++ {
		e.clock.Advance(20 * time.Minute)
		e.mustBeIn(sid, "alice")
	}
	e.clock.Advance(20 * time.Minute)
	e.mustBeOut(sid)
	if _, lo := e.realm.counts("alice"); lo != 2 {
		t.Fatalf("absolute expiry: %d logouts", lo)
	}

	// The sweeper purges and logs out sessions nobody comes back to.
	sid = e.login("bob", bobPW)
	e.clock.Advance(31 * time.Minute)
	e.g.Sweep(t.Context())
	if _, lo := e.realm.counts("bob"); lo != 1 {
		t.Fatalf("sweep: %d logouts of bob", lo)
	}
	e.mustBeOut(sid)
	if _, lo := e.realm.counts("bob"); lo != 1 {
		t.Fatalf("after sweep: %d logouts of bob", lo)
	}
	if n := e.cfg.Store; n != nil {
		t.Fatal("Config was changed by New")
	}
}

func TestCloseLogsOutOnce(t *testing.T) {
	e := newEnv(t, nil)
	sa, sb := e.login("alice", alicePW), e.login("bob", bobPW)
	e.mustBeIn(sa, "alice")
	e.mustBeIn(sb, "bob")
	e.g.Close()
	e.g.Close()
	for _, u := range []string{"alice", "bob"} {
		if av, lo := e.realm.counts(u); av != 1 || lo != 1 {
			t.Errorf("%s: %d avatars, %d logouts after Close", u, av, lo)
		}
	}
	if w := e.get("/x", sa); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d", w.Code)
	}
}

func TestAnonymousAvatar(t *testing.T) {
	e := newEnv(t, nil)
	// Without an anonymous checker: the login page.
	if w := e.do(req("GET", "/", nil)); w.Code != http.StatusSeeOther {
		t.Fatalf("no anonymous checker: %d", w.Code)
	}
	e2 := newAnonEnv(t)
	w := e2.do(req("GET", "/", nil))
	if w.Code != 200 || w.Body.String() != `hello "" at / (anonymous=true)` {
		t.Fatalf("anonymous: %d %s", w.Code, w.Body)
	}
	e2.do(req("GET", "/again", nil))
	if av, _ := e2.realm.counts(""); av != 1 {
		t.Fatalf("anonymous avatar asked %d times", av)
	}
	// Logging in still works and gives the user's own avatar.
	sid := e2.login("alice", alicePW)
	e2.mustBeIn(sid, "alice")
	e2.g.Close()
	if _, lo := e2.realm.counts(""); lo != 1 {
		t.Fatalf("anonymous logouts: %d", lo)
	}
}

func TestConfig(t *testing.T) {
	portal := newEnvPortal()
	for _, cfg := range []*guard.Config{
		{Prefix: "auth"}, {Prefix: "/auth/"}, {IdleTimeout: -1}, {TrustedOrigins: []string{"not a url"}},
	} {
		if _, err := guard.New(portal, cfg); err == nil || !strings.HasPrefix(err.Error(), "guard: ") {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := guard.New(nil, nil); err == nil {
		t.Error("nil portal accepted")
	}
	// Prefix moves the paths.
	e := newEnv(t, func(c *guard.Config) { c.Prefix = "/auth" })
	if e.g.LoginPath() != "/auth/login" || e.g.LogoutPath() != "/auth/logout" {
		t.Fatalf("paths: %s %s", e.g.LoginPath(), e.g.LogoutPath())
	}
	w := e.do(req("POST", "/auth/login", loginForm("bob", bobPW, "")))
	if w.Code != http.StatusSeeOther || sessionCookie(w) == nil {
		t.Fatalf("login under prefix: %d", w.Code)
	}
}

var nonceRE = regexp.MustCompile(`nonce="[^"]*"`)
