package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/chat/web"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/guard"
)

// The test users' passwords come from variables, never printed.
var (
	alicePassword = "1234"
	bobPassword   = "secret"
)

// site is the chat behind a guard on a loopback HTTP server.
type site struct {
	URL    string
	Chat   *chat.Server
	Web    *web.Chat
	Portal *cred.Portal
	Guard  *guard.Guard

	mu  sync.Mutex
	now time.Time
}

type siteOptions struct {
	tls       bool // HTTPS only, as in production
	anonymous bool
	webConfig *web.Config
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSite(t testing.TB, o siteOptions) *site {
	t.Helper()
	s := &site{now: time.Now()}
	s.Chat = chat.NewServer(quietLogger())
	wc := o.webConfig
	if wc == nil {
		wc = &web.Config{Logger: quietLogger()}
	}
	w, err := web.New(s.Chat, wc)
	if err != nil {
		t.Fatal(err)
	}
	s.Web = w
	s.Portal = cred.NewPortal(&chat.Realm{Server: s.Chat, Web: w},
		checkers.NewInMemory(map[string]string{"alice": alicePassword, "bob": bobPassword}))
	if o.anonymous {
		s.Portal.Register(checkers.NewAnonymous())
	}
	s.Guard, err = guard.New(s.Portal, &guard.Config{
		InsecureLoopbackHTTP: !o.tls,
		Logger:               quietLogger(),
		Now:                  s.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(s.Guard)
	} else {
		srv = httptest.NewServer(s.Guard)
	}
	t.Cleanup(func() {
		s.Guard.Close()
		srv.Close()
	})
	s.URL = srv.URL
	return s
}

func (s *site) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *site) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func (s *site) browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// login posts the login form as the page would.
func (s *site) login(t testing.TB, c *http.Client, user, password string) {
	t.Helper()
	resp := s.post(t, c, "/login", url.Values{"username": {user}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: %s", user, resp.Status)
	}
}

// post sends a same-origin form.
func (s *site) post(t testing.TB, c *http.Client, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (s *site) cookieHeader(c *http.Client) string {
	u, _ := url.Parse(s.URL)
	var parts []string
	for _, ck := range c.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// dial opens the chat's WebSocket with c's cookies and the given
// Origin ("" for none).
func (s *site) dial(t testing.TB, c *http.Client, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if ck := s.cookieHeader(c); ck != "" {
		h.Set("Cookie", ck)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if ws != nil {
		t.Cleanup(func() { ws.CloseNow() })
	}
	return ws, resp, err
}

// frame is what the page receives.
type frame struct {
	Type          string   `json:"type"`
	User          string   `json:"user"`
	Group         string   `json:"group"`
	AllowMattress *bool    `json:"allowMattress"`
	Members       []string `json:"members"`
	Text          string   `json:"text"`
}

func read(t testing.TB, ws *websocket.Conn) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	return f
}

// readUntil reads frames until one of type typ for which ok is true.
func readUntil(t testing.TB, ws *websocket.Conn, typ string, ok func(frame) bool) frame {
	t.Helper()
	for {
		f := read(t, ws)
		if f.Type == typ && (ok == nil || ok(f)) {
			return f
		}
	}
}

func write(t testing.TB, ws *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("writing a frame: %v", err)
	}
}

// closeStatus waits for the server to close ws and returns its status.
func closeStatus(t testing.TB, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("the socket was not closed")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// loggedIn logs a new browser in as user and opens its socket.
func (s *site) loggedIn(t testing.TB, user, password string) (*http.Client, *websocket.Conn) {
	t.Helper()
	c := s.browser(t)
	s.login(t, c, user, password)
	ws, resp, err := s.dial(t, c, s.URL)
	if err != nil {
		t.Fatalf("dial as %s: %v (%v)", user, err, resp)
	}
	if f := read(t, ws); f.Type != "hello" || f.User != user {
		t.Fatalf("first frame %+v, want hello %s", f, user)
	}
	return c, ws
}
