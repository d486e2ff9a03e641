package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/chat/web"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/guard"
)

// One realm serves the chat to PB clients and to browsers: the same
// portal (users) can be given to a pb.Server and, as here, to a guard.
func Example() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	server := chat.NewServer(log)
	browsers, _ := web.New(server, &web.Config{Logger: log})
	portal := cred.NewPortal(&chat.Realm{Server: server, Web: browsers},
		checkers.NewInMemory(map[string]string{"alice": "1234"}))
	g, _ := guard.New(portal, &guard.Config{InsecureLoopbackHTTP: true, Logger: log})
	defer g.Close()
	site := httptest.NewServer(g) // use HTTPS for real
	defer site.Close()

	// A browser logs in through the guard's form...
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, _ := client.Post(site.URL+"/login", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"username": {"alice"}, "password": {"1234"}}.Encode()))
	resp.Body.Close()

	// ... and its page talks to the chat over the WebSocket.
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws",
		&websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Origin": {site.URL}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.CloseNow()
	type frame struct {
		Type, Text string
		Members    []string
	}
	wsjson.Write(ctx, ws, map[string]any{"type": "join", "group": "#NeedAFourth", "allowMattress": false})
	wsjson.Write(ctx, ws, map[string]any{"type": "send", "message": "You can call me Al."})
	wsjson.Write(ctx, ws, map[string]any{"type": "send", "message": "a mattress"})
	for range 4 {
		var f frame
		wsjson.Read(ctx, ws, &f)
		fmt.Println(f.Type, f.Text, f.Members)
	}
	// Output:
	// hello  []
	// joined  [alice]
	// line <alice> says: You can call me Al. []
	// error Don't say that word []
}
