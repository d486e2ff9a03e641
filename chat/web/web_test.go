package web_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gospread/spread/chat/web"
)

type join struct {
	Type          string `json:"type"`
	Group         string `json:"group"`
	AllowMattress bool   `json:"allowMattress"`
}

type send struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func TestPage(t *testing.T) {
	s := newSite(t, siteOptions{})
	c := s.browser(t)

	// Without a session a browser is sent to the login page.
	req, _ := http.NewRequest("GET", s.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET / without a session: %s to %q", resp.Status, resp.Header.Get("Location"))
	}

	s.login(t, c, "alice", alicePassword)
	resp, err = c.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	page := string(body)
	for _, want := range []string{
		`<label for="group">`, `name="group"`, `<label for="message">`, `name="message"`,
		`action="/logout"`, `<strong id="user">alice</strong>`, `src="chat.js"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, asset := range []string{"/chat.js", "/chat.css"} {
		resp, err := c.Get(s.URL + asset)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) < 100 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %s, %d bytes", asset, resp.Status, len(b))
		}
	}
	resp, err = c.Get(s.URL + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %s", resp.Status)
	}
}

func TestUpgradeWithoutSessionRefused(t *testing.T) {
	s := newSite(t, siteOptions{})
	ws, resp, err := s.dial(t, s.browser(t), s.URL)
	if err == nil {
		ws.CloseNow()
		t.Fatal("upgrade without a session accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without a session: %v, %v", err, resp)
	}
	// A forged session cookie is no session either.
	ctx := t.Context()
	_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {"spread-session=" + strings.Repeat("A", 43)}, "Origin": {s.URL}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with a forged cookie: %v, %v", err, resp)
	}
	c := s.browser(t)
	s.login(t, c, "alice", alicePassword)
	s.post(t, c, "/logout", nil) // the cookie is gone now
	if ws, resp, err := s.dial(t, c, s.URL); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		if ws != nil {
			ws.CloseNow()
		}
		t.Fatalf("upgrade after logout: %v, %v", err, resp)
	}
}

func TestCrossSiteUpgradeRefused(t *testing.T) {
	s := newSite(t, siteOptions{})
	c := s.browser(t)
	s.login(t, c, "alice", alicePassword)
	for _, origin := range []string{"http://evil.example", "https://" + strings.TrimPrefix(s.URL, "http://"), "null"} {
		ws, resp, err := s.dial(t, c, origin)
		if err == nil {
			ws.CloseNow()
			t.Errorf("upgrade from Origin %s accepted", origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("upgrade from Origin %s: %v, %v", origin, err, resp)
		}
	}
	// Sec-Fetch-Site: cross-site is refused whatever the Origin says.
	h := http.Header{"Cookie": {s.cookieHeader(c)}, "Origin": {s.URL}, "Sec-Fetch-Site": {"cross-site"}}
	req, _ := http.NewRequest("GET", s.URL+"/ws", nil)
	req.Header = h
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Sec-Fetch-Site: cross-site upgrade: %s", resp.Status)
	}
	// The page's own origin works, and so does a trusted one.
	ws, _, err := s.dial(t, c, s.URL)
	if err != nil {
		t.Fatalf("same-origin upgrade: %v", err)
	}
	ws.CloseNow()

	ts := newSite(t, siteOptions{webConfig: &web.Config{TrustedOrigins: []string{"https://chat.example"}, Logger: quietLogger()}})
	tc := ts.browser(t)
	ts.login(t, tc, "bob", bobPassword)
	if ws, _, err := ts.dial(t, tc, "https://chat.example"); err != nil {
		t.Errorf("trusted origin refused: %v", err)
	} else {
		ws.CloseNow()
	}
}

func TestChatBetweenBrowsers(t *testing.T) {
	s := newSite(t, siteOptions{})
	_, alice := s.loggedIn(t, "alice", alicePassword)
	_, bob := s.loggedIn(t, "bob", bobPassword)

	write(t, alice, join{"join", "#quiet", false})
	f := read(t, alice)
	if f.Type != "joined" || f.Group != "#quiet" || f.AllowMattress == nil || *f.AllowMattress || !slices.Equal(f.Members, []string{"alice"}) {
		t.Fatalf("alice joined: %+v", f)
	}
	// bob asks for the mattress, but the first member decided.
	write(t, bob, join{"join", "#quiet", true})
	f = read(t, bob)
	if f.Type != "joined" || *f.AllowMattress || !slices.Equal(f.Members, []string{"alice", "bob"}) {
		t.Fatalf("bob joined: %+v", f)
	}
	if f := readUntil(t, alice, "members", nil); !slices.Equal(f.Members, []string{"alice", "bob"}) {
		t.Fatalf("alice's member list: %v", f.Members)
	}

	write(t, alice, send{"send", "hi bob"})
	for _, ws := range []*websocket.Conn{alice, bob} {
		if f := readUntil(t, ws, "line", nil); f.Text != "<alice> says: hi bob" || f.Group != "#quiet" {
			t.Errorf("line %+v", f)
		}
	}
	write(t, bob, send{"send", "a mattress"})
	if f := read(t, bob); f.Type != "error" || f.Text != "Don't say that word" {
		t.Errorf("mattress: %+v", f)
	}
	write(t, bob, send{"send", "sorry"})
	for _, ws := range []*websocket.Conn{alice, bob} {
		if f := readUntil(t, ws, "line", nil); f.Text != "<bob> says: sorry" {
			t.Errorf("after the refusal: %+v", f)
		}
	}

	// Bad frames get an error and the socket stays usable.
	for _, bad := range []any{join{"join", "", true}, map[string]string{"type": "dance"}, send{"send", strings.Repeat("x", web.DefaultMaxMessageBytes+1)}} {
		write(t, bob, bad)
		if f := read(t, bob); f.Type != "error" {
			t.Errorf("%v: %+v", bad, f)
		}
	}
	ctx := t.Context()
	bob.Write(ctx, websocket.MessageText, []byte("{not json"))
	if f := read(t, bob); f.Type != "error" || f.Text != "chat/web: malformed frame" {
		t.Errorf("malformed frame: %+v", f)
	}

	// bob moves to another group: alice sees him leave.
	write(t, bob, join{"join", "#other", true})
	if f := readUntil(t, bob, "joined", nil); f.Group != "#other" || !slices.Equal(f.Members, []string{"bob"}) {
		t.Errorf("bob in #other: %+v", f)
	}
	if f := readUntil(t, alice, "members", nil); !slices.Equal(f.Members, []string{"alice"}) {
		t.Errorf("alice's list after bob left: %v", f.Members)
	}
	write(t, alice, send{"send", "alone"})
	readUntil(t, alice, "line", nil)
	write(t, bob, send{"send", "elsewhere"})
	if f := readUntil(t, bob, "line", nil); f.Text != "<bob> says: elsewhere" || f.Group != "#other" {
		t.Errorf("bob heard %+v, not his own line in #other", f)
	}

	// A closed socket leaves its group.
	bob.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for g := s.Chat.Group("#other"); len(g.Members()) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("bob still in #other: %v", g.Members())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memMember is a chat member of another transport, in memory.
type memMember struct{}

func (memMember) Deliver(string) error { return nil }
func (memMember) Error(error)          {}
func (memMember) Leave()               {}

func TestMembersOfOtherTransports(t *testing.T) {
	s := newSite(t, siteOptions{webConfig: &web.Config{MembersInterval: 20 * time.Millisecond, Logger: quietLogger()}})
	_, alice := s.loggedIn(t, "alice", alicePassword)
	write(t, alice, join{"join", "#mixed", true})
	readUntil(t, alice, "joined", nil)
	carol := s.Chat.Attach("carol", memMember{})
	if _, err := carol.Join("#mixed", true); err != nil {
		t.Fatal(err)
	}
	if f := readUntil(t, alice, "members", nil); !slices.Equal(f.Members, []string{"alice", "carol"}) {
		t.Errorf("after carol joined: %v", f.Members)
	}
	carol.Leave()
	if f := readUntil(t, alice, "members", nil); !slices.Equal(f.Members, []string{"alice"}) {
		t.Errorf("after carol left: %v", f.Members)
	}
}

func TestLogoutClosesSocket(t *testing.T) {
	s := newSite(t, siteOptions{})
	c, ws := s.loggedIn(t, "alice", alicePassword)
	write(t, ws, join{"join", "#g", true})
	readUntil(t, ws, "joined", nil)
	// A second tab of the same session closes too; another session does not.
	ws2, _, err := s.dial(t, c, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, other := s.loggedIn(t, "alice", alicePassword)

	if resp := s.post(t, c, "/logout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	for _, w := range []*websocket.Conn{ws, ws2} {
		if st := closeStatus(t, w); st != 4001 {
			t.Errorf("close status %d, want 4001", st)
		}
	}
	if g := s.Chat.Group("#g"); len(g.Members()) != 0 {
		t.Errorf("#g after logout: %v", g.Members())
	}
	write(t, other, join{"join", "#g", true})
	if f := readUntil(t, other, "joined", nil); !slices.Equal(f.Members, []string{"alice"}) {
		t.Errorf("the other session: %+v", f)
	}
}

func TestExpiryClosesSocket(t *testing.T) {
	s := newSite(t, siteOptions{})
	_, ws := s.loggedIn(t, "alice", alicePassword)
	s.advance(guardIdle + time.Second)
	s.Guard.Sweep(t.Context())
	if st := closeStatus(t, ws); st != 4001 {
		t.Errorf("close status %d, want 4001", st)
	}
}

const guardIdle = 30 * time.Minute

func TestAnonymousVisitorsAreGuests(t *testing.T) {
	s := newSite(t, siteOptions{anonymous: true})
	var names []string
	for range 2 {
		ws, _, err := s.dial(t, s.browser(t), s.URL)
		if err != nil {
			t.Fatal(err)
		}
		f := read(t, ws)
		names = append(names, f.User)
	}
	if names[0] == names[1] || !strings.HasPrefix(names[0], "guest-") || !strings.HasPrefix(names[1], "guest-") {
		t.Errorf("anonymous names %v", names)
	}
	resp, err := s.browser(t).Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `href="/login" id="login"`) || strings.Contains(string(page), `id="logout"`) {
		t.Errorf("a guest's page: %s\n%s", resp.Status, page)
	}
}

func TestSlowBrowserIsDisconnected(t *testing.T) {
	s := newSite(t, siteOptions{webConfig: &web.Config{SendQueue: 4, Logger: quietLogger()}})
	_, slow := s.loggedIn(t, "alice", alicePassword)
	write(t, slow, join{"join", "#flood", true})
	readUntil(t, slow, "joined", nil)
	bob := s.Chat.Attach("bob", memMember{})
	g, _ := bob.Join("#flood", true)
	// alice does not read; bob talks until her queue and the socket's
	// buffers are full.
	deadline := time.Now().Add(20 * time.Second)
	for slices.Contains(g.Members(), "alice") {
		if time.Now().After(deadline) {
			t.Fatal("a browser that does not read was never disconnected")
		}
		bob.Send(g, strings.Repeat("flood ", 1000))
	}
	if st := closeStatus(t, slow); st != websocket.StatusPolicyViolation {
		t.Errorf("close status %v, want policy violation", st)
	}
}

func TestUnansweredPingsEndSocket(t *testing.T) {
	s := newSite(t, siteOptions{webConfig: &web.Config{PingInterval: 50 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, Logger: quietLogger()}})
	_, gone := s.loggedIn(t, "alice", alicePassword)
	_, alive := s.loggedIn(t, "bob", bobPassword)
	for _, ws := range []*websocket.Conn{gone, alive} {
		write(t, ws, join{"join", "#ping", true})
		readUntil(t, ws, "joined", nil)
	}
	// bob's client keeps reading, so it answers pings; alice's reads
	// no more, as a browser whose network went away.
	go func() {
		for {
			if _, _, err := alive.Read(t.Context()); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	g := s.Chat.Group("#ping")
	for slices.Contains(g.Members(), "alice") {
		if time.Now().After(deadline) {
			t.Fatal("a socket that answers no ping stayed in its group")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("alice left after %v", time.Since(start))
	time.Sleep(200 * time.Millisecond) // a few more pings for bob
	if !slices.Equal(g.Members(), []string{"bob"}) {
		t.Errorf("members %v, want bob, who answers pings", g.Members())
	}
}

// The page's keepalive requests count as activity for the guard's idle
// timeout; without them the session ends and so does the socket.
func TestKeepaliveKeepsSessionAndSocket(t *testing.T) {
	s := newSite(t, siteOptions{})
	c, ws := s.loggedIn(t, "alice", alicePassword)
	for range 3 { // 60 minutes in all, a request every 20
		s.advance(20 * time.Minute)
		resp, err := c.Get(s.URL + "/keepalive")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("keepalive: %s", resp.Status)
		}
		s.Guard.Sweep(t.Context())
	}
	write(t, ws, join{"join", "#awake", true})
	if f := readUntil(t, ws, "joined", nil); f.Group != "#awake" {
		t.Fatalf("after an hour of keepalives: %+v", f)
	}
	s.advance(guardIdle)
	s.Guard.Sweep(t.Context())
	if st := closeStatus(t, ws); st != 4001 {
		t.Errorf("close status %d after the idle timeout, want 4001", st)
	}
}

func TestOversizedFrameClosesSocket(t *testing.T) {
	s := newSite(t, siteOptions{webConfig: &web.Config{MaxMessageBytes: 100, Logger: quietLogger()}})
	_, ws := s.loggedIn(t, "alice", alicePassword)
	_, other := s.loggedIn(t, "bob", bobPassword)
	write(t, ws, join{"join", "#big", true})
	readUntil(t, ws, "joined", nil)
	write(t, other, join{"join", "#big", true})
	readUntil(t, other, "joined", nil)
	write(t, ws, send{"send", strings.Repeat("x", 100+web.MaxGroupNameBytes+2<<10)})
	if st := closeStatus(t, ws); st != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", st)
	}
	if f := readUntil(t, other, "members", nil); !slices.Equal(f.Members, []string{"bob"}) {
		t.Errorf("bob's list after alice's socket closed: %v", f.Members)
	}
	write(t, other, send{"send", "still here"})
	if f := readUntil(t, other, "line", nil); f.Text != "<bob> says: still here" {
		t.Errorf("bob: %+v", f)
	}
}

// Wait returns once every socket has closed: what a server that shuts
// down waits for after the guard's Close.
func TestWaitForSockets(t *testing.T) {
	s := newSite(t, siteOptions{})
	_, ws := s.loggedIn(t, "alice", alicePassword)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Web.Wait(ctx); err == nil {
		t.Fatal("Wait returned while a socket was open")
	}
	go func() { // the client reads, so it answers the closing handshake
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	s.Guard.Close()
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Web.Wait(ctx); err != nil {
		t.Fatalf("Wait after the guard's Close: %v", err)
	}
}
