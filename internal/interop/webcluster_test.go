package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/natstest"
	"github.com/gospread/spread/internal/pgtest"
)

var httpAddrRE = regexp.MustCompile(`serving http" addr=(\S+)`)

// The browser chat across brokers: two brokers on one NATS share one
// PostgreSQL session store and user database. A browser-less client
// logs in at A's web port; its session cookie works at B's too; a line
// it sends over A's WebSocket reaches a PB member on B.
func TestWebChatAcrossBrokers(t *testing.T) {
	dsn := pgtest.Start(t)
	dj := djangotest.New(t, dsn, nil)
	dj.Migrate(t)
	dj.CreateUsers(t,
		djangotest.User{Username: "alice", Password: clusterUsers["alice"], Algorithm: "pbkdf2_sha256", Params: map[string]any{"iterations": 1000}},
		djangotest.User{Username: "bob", Password: clusterUsers["bob"], Algorithm: "pbkdf2_sha256", Params: map[string]any{"iterations": 1000}})
	nats := natstest.Start(t)
	var brokers []*spreadServer
	var web []string
	for i := 1; i <= 2; i++ {
		b := startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--db", dsn,
			"--http", "127.0.0.1:0", "--http-insecure-loopback", "--sessions", dsn,
			"--cluster", nats.URL(), "--node", fmt.Sprintf("w%d", i), "--login-failures", "1000")
		brokers = append(brokers, b)
		waitUntil(t, "the web port", 10*time.Second, func() bool { return httpAddrRE.MatchString(b.Log()) })
		web = append(web, "http://"+httpAddrRE.FindStringSubmatch(b.Log())[1])
	}
	for _, b := range brokers {
		waitUntil(t, "brokers meet", 10*time.Second, func() bool { return strings.Contains(b.Log(), "cluster: broker joined") })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Log in at A.
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {"alice"}, "password": {clusterUsers["alice"]}}
	req, _ := http.NewRequest("POST", web[0]+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", web[0])
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login at A: %s", resp.Status)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie from A")
	}

	// The cookie works at B: B serves the chat page, and refuses it without the cookie.
	get := func(base, cookie string) int {
		req, _ := http.NewRequest("GET", base+"/keepalive", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(web[1], cookie); code != http.StatusOK && code != http.StatusNoContent {
		t.Errorf("A's session at B: %d, want 2xx", code)
	}
	if code := get(web[1], ""); code == http.StatusOK || code == http.StatusNoContent {
		t.Errorf("B without a session: %d, want a refusal", code)
	}

	// bob over PB at B, in the group.
	bob := joinGo(t, ctx, brokers[1].Addr, "bob", "#webx")

	// alice's WebSocket at A (and one at B, with the same cookie).
	dial := func(base string) *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{
			HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {base}}})
		if err != nil {
			t.Fatalf("WebSocket at %s: %v", base, err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	read := func(ws *websocket.Conn, typ string) map[string]any {
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
	write := func(ws *websocket.Conn, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	wsB := dial(web[1])
	write(wsB, map[string]any{"type": "join", "group": "#webx", "allowMattress": true})
	read(wsB, "joined")
	wsA := dial(web[0])
	write(wsA, map[string]any{"type": "join", "group": "#webx", "allowMattress": true})
	read(wsA, "joined")
	write(wsA, map[string]any{"type": "send", "message": "hi from the browser at A"})
	bob.waitLine(t, "<alice> says: hi from the browser at A")
	bob.send(t, ctx, "hi from PB at B")
	readLine(t, read, wsA, "<bob> says: hi from PB at B")
	// The same session's page at B hears both.
	readLine(t, read, wsB, "<alice> says: hi from the browser at A")
	readLine(t, read, wsB, "<bob> says: hi from PB at B")
}

// readLine reads line frames until one has the text want.
func readLine(t *testing.T, read func(*websocket.Conn, string) map[string]any, ws *websocket.Conn, want string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if f := read(ws, "line"); f["text"] == want {
			return
		}
	}
	t.Fatalf("never read %q", want)
}
