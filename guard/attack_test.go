package guard_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/guard"
)

func TestCredentialsInQueryStringNeverRead(t *testing.T) {
	e := newEnv(t, nil)
	q := "?username=alice&password=" + url.QueryEscape(alicePW)
	for _, r := range []*http.Request{
		req("GET", "/login"+q, nil),
		req("POST", "/login"+q, url.Values{}),
		req("POST", "/login"+q, url.Values{"next": {"/"}}),
	} {
		w := e.do(r)
		if w.Code != http.StatusBadRequest || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "never read") {
			t.Errorf("%s %s: %d %v %s", r.Method, r.URL.Path, w.Code, sessionCookie(w), w.Body)
		}
	}
	if n := e.checker.n.Load(); n != 0 {
		t.Fatalf("the checker was called %d times", n)
	}
	// A POST whose body lacks the password is not completed from the
	// query either.
	r := req("POST", "/login?password="+url.QueryEscape(alicePW)[:0], url.Values{"username": {"alice"}})
	if w := e.do(r); sessionCookie(w) != nil {
		t.Fatal("logged in without a password in the body")
	}
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.login("alice", alicePW)
	cross := []func(*http.Request){
		func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") },
		func(r *http.Request) { r.Header.Del("Sec-Fetch-Site"); r.Header.Set("Origin", "https://evil.test") },
		func(r *http.Request) { r.Header.Del("Sec-Fetch-Site"); r.Header.Set("Origin", "null") },
	}
	for i, mod := range cross {
		for _, path := range []string{"/login", "/logout", "/app/post"} {
			r := withCookie(req("POST", path, loginForm("bob", bobPW, "")), sid)
			mod(r)
			w := e.do(r)
			if w.Code != http.StatusForbidden || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "cross-origin") {
				t.Errorf("variant %d, POST %s: %d %s", i, path, w.Code, w.Body)
			}
		}
	}
	if n := e.checker.n.Load(); n != 1 {
		t.Errorf("%d checks: cross-site logins reached the checker", n)
	}
	e.mustBeIn(sid, "alice") // not logged out
	// A WebSocket-style upgrade from another site, by GET, is the
	// avatar's to check; a cross-site POST never reaches it.
	r := withCookie(req("PUT", "/app/x", nil), sid)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if w := e.do(r); w.Code != http.StatusForbidden {
		t.Errorf("cross-site PUT: %d", w.Code)
	}
	// Same-origin and non-browser POSTs pass.
	r = withCookie(req("POST", "/app/post", url.Values{"a": {"b"}}), sid)
	if w := e.do(r); w.Code != 200 {
		t.Errorf("same-origin POST: %d", w.Code)
	}
	r = withCookie(req("POST", "/app/post", url.Values{"a": {"b"}}), sid)
	r.Header.Del("Sec-Fetch-Site")
	r.Header.Del("Origin")
	if w := e.do(r); w.Code != 200 {
		t.Errorf("POST without browser headers: %d", w.Code)
	}
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t, nil)
	// An attacker plants their own valid session id, and a made-up one.
	attacker := e.login("bob", bobPW)
	madeUp := make([]byte, 32)
	rand.Read(madeUp)
	for _, planted := range []string{attacker, base64.RawURLEncoding.EncodeToString(madeUp)} {
		w := e.do(withCookie(req("POST", "/login", loginForm("alice", alicePW, "")), planted))
		c := sessionCookie(w)
		if w.Code != http.StatusSeeOther || c == nil || c.Value == planted {
			t.Fatalf("login with a planted cookie: %d %v", w.Code, c)
		}
		e.mustBeIn(c.Value, "alice")
		e.mustBeOut(planted)
	}
	if _, lo := e.realm.counts("bob"); lo != 1 {
		t.Fatalf("the replaced session's avatar: %d logouts", lo)
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	e := newEnv(t, nil)
	bad := []string{
		"//evil.test", "//evil.test/x", "/\\evil.test", "\\\\evil.test", "https://evil.test", "http:evil.test",
		"javascript:alert(1)", "evil.test", "/%2fevil.test", "/%2Fevil.test", "/%5cevil.test", "/%5Cevil.test",
		"%2f%2fevil.test", "/%252fevil.test", "/\t/evil.test", "/\n/evil.test", " //evil.test", "///evil.test",
		"/%09/evil.test", "/%0a/evil.test", "/%25252F", "/%25252F%25252Fevil.test", "/%2525252f%2525252fevil.test",
	}
	for _, next := range bad {
		w := e.do(req("POST", "/login", loginForm("alice", alicePW, next)))
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/" {
			t.Errorf("next %q: %d Location %q", next, w.Code, loc)
		}
		// Nor is it put into the login page's form.
		p := e.do(req("GET", "/login?next="+url.QueryEscape(next), nil))
		if strings.Contains(p.Body.String(), `name="next"`) {
			t.Errorf("next %q kept in the login page", next)
		}
	}
	for _, next := range []string{"/", "/a/b?c=d&e=f", "/a%20b", "/%E2%82%AC", "/a#frag"} {
		w := e.do(req("POST", "/login", loginForm("alice", alicePW, next)))
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != next {
			t.Errorf("local next %q: %d Location %q", next, w.Code, loc)
		}
	}
}

func TestForgedTruncatedAndExpiredCookies(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.login("alice", alicePW)
	other := e.login("bob", bobPW)
	flip := []byte(sid)
	if flip[5] == 'A' {
		flip[5] = 'B'
	} else {
		flip[5] = 'A'
	}
	for _, v := range []string{
		sid[:42], sid[:20], sid + "A", string(flip), strings.Repeat("A", 43), "", "not base64 at all !!", sid[:42] + "=",
		strings.ToUpper(sid), strings.Repeat("x", 5000),
	} {
		w := e.get("/x", v)
		if w.Code != http.StatusSeeOther {
			t.Errorf("cookie %.12q...: %d %s", v, w.Code, w.Body)
		}
		if v != "" {
			if c := sessionCookie(w); c == nil || c.MaxAge >= 0 {
				t.Errorf("cookie %.12q...: not deleted", v)
			}
		}
	}
	// The plain-HTTP cookie name means nothing over HTTPS.
	r := req("GET", "/x", nil)
	r.AddCookie(&http.Cookie{Name: guard.InsecureCookieName, Value: sid})
	if w := e.do(r); w.Code != http.StatusSeeOther {
		t.Errorf("insecure cookie name over HTTPS: %d", w.Code)
	}
	e.mustBeIn(sid, "alice")
	e.mustBeIn(other, "bob")

	// Expired: alice idles, bob keeps going.
	for i := 0; i < 4; i++ {
		e.clock.Advance(10 * time.Minute)
		e.mustBeIn(other, "bob")
	}
	e.mustBeOut(sid)
	e.mustBeIn(other, "bob")
}

func TestOversizedBodies(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.login("bob", bobPW)
	big := url.Values{"username": {"alice"}, "password": {alicePW}, "pad": {strings.Repeat("x", guard.DefaultMaxFormBytes)}}
	if w := e.do(req("POST", "/login", big)); w.Code != http.StatusRequestEntityTooLarge || sessionCookie(w) != nil {
		t.Fatalf("oversized login: %d", w.Code)
	}
	r := withCookie(req("POST", "/logout", big), sid)
	if w := e.do(r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized logout: %d", w.Code)
	}
	e.mustBeIn(sid, "bob")
	long := loginForm(strings.Repeat("a", 300), alicePW, "")
	if w := e.do(req("POST", "/login", long)); w.Code != 200 || sessionCookie(w) != nil {
		t.Fatalf("long user name: %d", w.Code)
	}
	r = req("POST", "/login", nil)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if w := e.do(r); w.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("multipart login: %d", w.Code)
	}
	dup := url.Values{"username": {"alice", "bob"}, "password": {alicePW}}
	if w := e.do(req("POST", "/login", dup)); w.Code != http.StatusBadRequest {
		t.Fatalf("repeated field: %d", w.Code)
	}
	if n := e.checker.n.Load(); n != 1 {
		t.Fatalf("%d checks, want 1 (bob's login)", n)
	}
}

func TestThrottledLogins(t *testing.T) {
	e := newEnv(t, func(c *guard.Config) {
		c.Throttle = cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 3, Lockout: time.Minute})
	})
	bobSession := e.login("bob", bobPW)
	for i := 0; i < 3; i++ {
		if w := e.do(req("POST", "/login", loginForm("alice", "guess"+strconv.Itoa(i), ""))); w.Code != 200 {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	// Locked: even the right password gets 429, without a check.
	before := e.checker.n.Load()
	w := e.do(req("POST", "/login", loginForm("alice", alicePW, "")))
	ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if w.Code != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 60 || sessionCookie(w) != nil {
		t.Fatalf("throttled: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "Too many failed logins") || !strings.Contains(w.Body.String(), "seconds") {
		t.Fatalf("throttled page: %s", w.Body)
	}
	if e.checker.n.Load() != before {
		t.Fatal("a throttled login reached the checker")
	}
	// Other users' sessions are unaffected.
	e.mustBeIn(bobSession, "bob")
	// Basic is throttled the same way.
	e2 := newEnv(t, func(c *guard.Config) {
		c.BasicAuth = true
		c.Throttle = cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 2})
	})
	for i := 0; i < 2; i++ {
		r := req("GET", "/api", nil)
		r.SetBasicAuth("alice", "guess")
		e2.do(r)
	}
	r := req("GET", "/api", nil)
	r.SetBasicAuth("alice", alicePW)
	if w := e2.do(r); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("throttled Basic: %d", w.Code)
	}
}

// TestManyConcurrentLogins sends 10,000 login attempts at once, most of
// them failing, and checks that the heap stays bounded and that a
// logged-in user is unaffected.
func TestManyConcurrentLogins(t *testing.T) {
	e := newEnv(t, func(c *guard.Config) { c.MaxConcurrentLogins = 8 })
	sid := e.login("bob", bobPW)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 10000
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := req("POST", "/login", loginForm("user"+strconv.Itoa(i%500), "guess", ""))
			r.RemoteAddr = "198.51.100." + strconv.Itoa(i%250) + ":1234"
			<-start
			w := e.do(r)
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if codes[200]+codes[429] != n {
		t.Fatalf("answers: %v", codes)
	}
	if codes[429] == 0 {
		t.Errorf("no login was throttled: %v", codes)
	}
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 16<<20 {
		t.Errorf("heap grew by %d bytes after 10,000 attempts", grow)
	}
	if st, ok := e.cfg.Store.(*guard.MemoryStore); ok && st.Len() != 0 {
		t.Errorf("store holds %d sessions", st.Len())
	}
	e.mustBeIn(sid, "bob")
}

func TestBasicAuthForScripts(t *testing.T) {
	e := newEnv(t, func(c *guard.Config) { c.BasicAuth = true })
	r := req("GET", "/api", nil)
	r.Header.Set("Accept", "application/json")
	r.SetBasicAuth("alice", alicePW)
	w := e.do(r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `hello "alice"`) || sessionCookie(w) != nil {
		t.Fatalf("Basic: %d %s", w.Code, w.Body)
	}
	if av, lo := e.realm.counts("alice"); av != 1 || lo != 1 {
		t.Fatalf("Basic request: %d avatars %d logouts", av, lo)
	}
	r = req("GET", "/api", nil)
	r.SetBasicAuth("alice", "wrong")
	if w := e.do(r); w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("wrong Basic: %d %v", w.Code, w.Header())
	}
	// Over plain HTTP, refused unread (even with the loopback option).
	e2 := newEnv(t, func(c *guard.Config) { c.BasicAuth = true; c.InsecureLoopbackHTTP = true })
	r = req("GET", "/api", nil)
	r.TLS = nil
	r.RemoteAddr = "127.0.0.1:4444"
	r.SetBasicAuth("alice", alicePW)
	if w := e2.do(r); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "HTTPS") {
		t.Fatalf("Basic over HTTP: %d %s", w.Code, w.Body)
	}
	if n := e2.checker.n.Load(); n != 0 {
		t.Fatalf("Basic over HTTP reached the checker")
	}
	// Without the option, Basic headers are ignored.
	e3 := newEnv(t, nil)
	r = req("GET", "/api", nil)
	r.Header.Set("Accept", "*/*")
	r.SetBasicAuth("alice", alicePW)
	if w := e3.do(r); w.Code != 401 || e3.checker.n.Load() != 0 {
		t.Fatalf("Basic while off: %d", w.Code)
	}
}

func TestPlainHTTP(t *testing.T) {
	e := newEnv(t, nil)
	r := req("GET", "/login", nil)
	r.TLS = nil
	r.RemoteAddr = "127.0.0.1:5000"
	if w := e.do(r); w.Code != http.StatusForbidden {
		t.Fatalf("plain HTTP without the option: %d", w.Code)
	}
	e = newEnv(t, func(c *guard.Config) { c.InsecureLoopbackHTTP = true })
	plain := func(r *http.Request, addr string) *http.Request {
		r.TLS = nil
		r.RemoteAddr = addr
		r.Header.Set("Origin", "http://example.test")
		return r
	}
	r = plain(req("POST", "/login", loginForm("alice", alicePW, "")), "192.0.2.1:5000")
	if w := e.do(r); w.Code != http.StatusForbidden {
		t.Fatalf("plain HTTP from afar: %d", w.Code)
	}
	w := e.do(plain(req("POST", "/login", loginForm("alice", alicePW, "")), "[::1]:5000"))
	c := sessionCookie(w)
	if w.Code != http.StatusSeeOther || c == nil || c.Name != guard.InsecureCookieName || c.Secure || !c.HttpOnly {
		t.Fatalf("loopback login: %d %+v", w.Code, c)
	}
	r = plain(req("GET", "/x", nil), "127.0.0.1:1")
	r.AddCookie(c)
	if w := e.do(r); w.Code != 200 {
		t.Fatalf("loopback session: %d", w.Code)
	}
}

func TestCookieHeaderParsing(t *testing.T) {
	e := newEnv(t, nil)
	sid := e.login("alice", alicePW)
	for _, hdr := range []string{
		"a=b; " + guard.CookieName + "=" + sid + "; c=d",
		guard.CookieName + "=" + sid,
		"theme=dark;" + guard.CookieName + "=\"" + sid + "\"",
	} {
		r := req("GET", "/x", nil)
		r.Header.Set("Cookie", hdr)
		if w := e.do(r); w.Code != 200 {
			t.Errorf("Cookie %q: %d", strings.ReplaceAll(hdr, sid, "SID"), w.Code)
		}
	}
	for _, hdr := range []string{
		"x" + guard.CookieName + "=" + sid,
		guard.CookieName + "x=" + sid,
		guard.CookieName + sid,
	} {
		r := req("GET", "/x", nil)
		r.Header.Set("Cookie", hdr)
		if w := e.do(r); w.Code != http.StatusSeeOther {
			t.Errorf("Cookie %q: %d", strings.ReplaceAll(hdr, sid, "SID"), w.Code)
		}
	}
}
