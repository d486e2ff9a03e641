package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/testcert"
	"github.com/gospread/spread/pb"
)

func TestChatServeHTTPBadUsage(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testcert.Write(t, dir, "localhost")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "127.0.0.1:0"}, "--http needs --tls-cert"},
		{[]string{"--http", "0.0.0.0:0", "--http-insecure-loopback"}, "only a loopback address"},
		{[]string{"--http", "127.0.0.1:0", "--http-insecure-loopback", "--tls-cert", cert, "--tls-key", key}, "is for plain HTTP"},
		{[]string{"--http-insecure-loopback"}, "go with --http"},
		{[]string{"--sessions", "sqlite:" + dir + "/s.db"}, "go with --http"},
	} {
		args := append([]string{"chat", "serve", "--listen", "127.0.0.1:0", "--demo"}, c.args...)
		spread(t, "", args...).expect(t, strings.Join(c.args, " "), 2, "", c.want)
	}
}

var servingHTTPRE = regexp.MustCompile(`serving http" addr=(\S+)`)

// bobMind is a PB client's mind that collects what it is told.
type bobMind struct {
	pb.Referenceable
	lines chan string
}

func (m *bobMind) RemotePrint(line string) { m.lines <- line }

// The chat in a browser over HTTPS, beside the PB port, on the same
// users and groups; sessions in SQLite.
func TestChatServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, der := testcert.Write(t, dir, "localhost")
	sum := sha256.Sum256(der)
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--tls-cert", certFile, "--tls-key", keyFile, "--http", "127.0.0.1:0", "--sessions", "sqlite:"+dir+"/sessions.db")
	httpAddr := waitHTTPAddr(t, srv)
	base := "https://" + httpAddr
	tlsc, err := pb.ClientTLSPinned(hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: tlsc},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	form := url.Values{"username": {"alice"}, "password": {demoUsers["alice"]}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	u, _ := url.Parse(base)
	var cookie string
	for _, c := range jar.Cookies(u) {
		if c.Name == "__Host-spread-session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no __Host- session cookie over HTTPS")
	}
	resp, err = hc.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="message"`) {
		t.Fatalf("chat page: %s\n%s", resp.Status, page)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+httpAddr+"/ws", &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {base}},
	})
	if err != nil {
		t.Fatalf("WebSocket: %v", err)
	}
	defer ws.CloseNow()
	wsRead := func(typ string) map[string]any {
		t.Helper()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("reading the socket: %v", err)
			}
			var f map[string]any
			json.Unmarshal(b, &f)
			if f["type"] == typ {
				return f
			}
		}
	}
	wsWrite := func(v any) {
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	wsWrite(map[string]any{"type": "join", "group": "#web", "allowMattress": false})
	wsRead("joined")

	// bob, over PB with TLS, in the same group.
	b, err := pb.Dial(ctx, srv.addr, &pb.Config{TLS: tlsc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mind := &bobMind{lines: make(chan string, 10)}
	bob, err := b.Login(ctx, &cred.UsernamePassword{Username: "bob", Password: []byte(demoUsers["bob"])}, mind)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := bob.CallRemote(ctx, "joinGroup", "#web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gv.(*pb.RemoteReference).CallRemote(ctx, "send", "hi from PB"); err != nil {
		t.Fatal(err)
	}
	if f := wsRead("line"); f["text"] != "<bob> says: hi from PB" {
		t.Errorf("the page got %v", f)
	}
	wsWrite(map[string]any{"type": "send", "message": "hi from the browser"})
	for _, want := range []string{"<bob> says: hi from PB", "<alice> says: hi from the browser"} {
		select {
		case l := <-mind.lines:
			if l != want {
				t.Errorf("bob got %q, want %q", l, want)
			}
		case <-ctx.Done():
			t.Fatalf("bob never got %q", want)
		}
	}

	// Shutting down closes the socket, and serve exits cleanly.
	srv.cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != 4001 {
				t.Errorf("the socket at shutdown: %v", err)
			}
			break
		}
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("chat serve exited %d:\n%s", code, srv.stderr)
	}

	// The session is in SQLite: it survives a restart.
	srv = startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--tls-cert", certFile, "--tls-key", keyFile, "--http", "127.0.0.1:0", "--sessions", "sqlite:"+dir+"/sessions.db")
	resp, err = hc.Get("https://" + waitHTTPAddr(t, srv) + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<strong id="user">alice</strong>`) {
		t.Errorf("the chat page after a restart: %s\n%s", resp.Status, page)
	}
}

// Plain HTTP on loopback, only with --http-insecure-loopback.
func TestChatServeHTTPInsecureLoopback(t *testing.T) {
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--http", "127.0.0.1:0", "--http-insecure-loopback")
	httpAddr := waitHTTPAddr(t, srv)
	req, _ := http.NewRequest("GET", "http://"+httpAddr+"/login", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /login over loopback HTTP: %s", resp.Status)
	}
}

// With users in a Django database, a password changed with spread users
// passwd ends that user's web sessions, and their sockets.
func TestChatServeHTTPPasswordChangeEndsSession(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "users.sqlite3")
	password := "dora's first"
	t.Setenv("SPREAD_PASSWORD", password)
	spread(t, "", "users", "add", "--db", dsn, "dora").expect(t, "add", 0, "", "dora done")
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--db", dsn,
		"--http", "127.0.0.1:0", "--http-insecure-loopback")
	base := "http://" + waitHTTPAddr(t, srv)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {"dora"}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	u, _ := url.Parse(base)
	var cookie string
	for _, c := range jar.Cookies(u) {
		cookie = c.Name + "=" + c.Value
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+u.Host+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {base}}})
	if err != nil {
		t.Fatalf("WebSocket: %v", err)
	}
	defer ws.CloseNow()

	t.Setenv("SPREAD_PASSWORD", "dora's second")
	spread(t, "", "users", "passwd", "--db", dsn, "dora").expect(t, "passwd", 0, "", "dora done")
	// The session's next request finds the stamp changed.
	resp, err = hc.Get(base + "/keepalive")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request after the password change: %s, want 401", resp.Status)
	}
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != 4001 {
				t.Errorf("the socket after the password change: %v", err)
			}
			break
		}
	}
}

func waitHTTPAddr(t *testing.T, srv *server) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingHTTPRE.FindStringSubmatch(srv.stderr.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTP address:\n%s", srv.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
