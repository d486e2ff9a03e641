package web

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/guard"
)

// Config configures a Chat. A nil *Config, and every zero field, mean
// the default given for that field. New copies it.
type Config struct {
	// TrustedOrigins are origins ("https://chat.example.com"), besides
	// the page's own, whose pages may open the WebSocket. Default none.
	TrustedOrigins []string

	// MaxMessageBytes limits one message a browser sends. Default 4 KiB.
	MaxMessageBytes int

	// MaxFrameBytes limits one WebSocket frame from a browser; a larger
	// one closes the socket. Default MaxMessageBytes + 1 KiB.
	MaxFrameBytes int

	// SendQueue is how many frames may wait for a slow browser before
	// its socket is closed. Default 256.
	SendQueue int

	// WriteTimeout bounds the writing of one frame, and the wait for
	// the answer to a ping. Default 10 s.
	WriteTimeout time.Duration

	// PingInterval is how often an idle socket is pinged, so that a
	// browser that went away without closing it (a lost network) is
	// noticed and leaves its group. Default 30 s.
	PingInterval time.Duration

	// MembersInterval is how often the member lists of the groups that
	// browsers are in are compared, to show members of other transports
	// that joined or left. Default 1 s.
	MembersInterval time.Duration

	// Logger receives what the browser is not shown. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of Config's fields.
const (
	DefaultMaxMessageBytes = 4 << 10
	DefaultSendQueue       = 256
	DefaultWriteTimeout    = 10 * time.Second
	DefaultPingInterval    = 30 * time.Second
	DefaultMembersInterval = time.Second
	// MaxGroupNameBytes limits a group's name.
	MaxGroupNameBytes = 256
)

// ConfigError reports a bad Config field.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "chat/web: Config." + e.Field + " " + e.Reason }

func (c *Config) withDefaults() (Config, error) {
	var out Config
	if c != nil {
		out = *c
		out.TrustedOrigins = append([]string(nil), c.TrustedOrigins...)
	}
	if out.MaxMessageBytes < 0 || out.MaxFrameBytes < 0 || out.SendQueue < 0 || out.WriteTimeout < 0 || out.PingInterval < 0 || out.MembersInterval < 0 {
		return out, &ConfigError{Field: "a limit or duration", Reason: "must not be negative"}
	}
	for i, o := range out.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return out, &ConfigError{Field: "TrustedOrigins", Reason: "has " + strconv.Quote(o) + ", not an origin like https://host[:port]"}
		}
		out.TrustedOrigins[i] = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	if out.MaxMessageBytes == 0 {
		out.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if out.MaxFrameBytes == 0 {
		out.MaxFrameBytes = out.MaxMessageBytes + MaxGroupNameBytes + 1<<10
	}
	if out.SendQueue == 0 {
		out.SendQueue = DefaultSendQueue
	}
	if out.WriteTimeout == 0 {
		out.WriteTimeout = DefaultWriteTimeout
	}
	if out.PingInterval == 0 {
		out.PingInterval = DefaultPingInterval
	}
	if out.MembersInterval == 0 {
		out.MembersInterval = DefaultMembersInterval
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out, nil
}

//go:embed static
var static embed.FS

var pageTemplate = template.Must(template.ParseFS(static, "static/chat.html"))

// Chat serves the chat of a chat.Server to browsers. It is a
// chat.WebAvatars: put it in the Web field of a chat.Realm. It is safe
// for concurrent use.
type Chat struct {
	server  *chat.Server
	cfg     Config
	members *watcher
	css, js []byte
	sockets sync.WaitGroup
}

var _ chat.WebAvatars = (*Chat)(nil)

// New returns the browser chat of server. cfg may be nil.
func New(server *chat.Server, cfg *Config) (*Chat, error) {
	if server == nil {
		return nil, &ConfigError{Field: "server", Reason: "is nil"}
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	css, _ := static.ReadFile("static/chat.css")
	js, _ := static.ReadFile("static/chat.js")
	return &Chat{server: server, cfg: c, members: newWatcher(c.MembersInterval), css: css, js: js}, nil
}

// Wait waits until every socket has closed, or ctx ends. A server that
// shuts down logs every web avatar out (guard.Guard.Close), which
// closes their sockets, then waits here so that browsers are told
// why before the process exits.
func (c *Chat) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		c.sockets.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WebAvatar returns the web avatar of a logged-in user: the handler of
// the chat page, its assets and its WebSocket. Its logout closes the
// user's sockets of that session.
func (c *Chat) WebAvatar(ctx context.Context, avatarID string) (http.Handler, func(), error) {
	a := &avatar{chat: c, id: avatarID, socks: map[*socket]struct{}{}}
	return a, a.logout, nil
}

// avatar is one session's chat: the handler the guard serves that
// session's requests with.
type avatar struct {
	chat *Chat
	id   string

	mu    sync.Mutex
	socks map[*socket]struct{}
	ended bool
}

// pageData is what the page template is executed with.
type pageData struct {
	User       string
	Anonymous  bool
	LogoutPath string
	LoginPath  string
}

func (a *avatar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		if !allowGet(w, r) {
			return
		}
		a.servePage(w, r)
	case "/chat.css":
		if allowGet(w, r) {
			asset(w, r, "text/css; charset=utf-8", a.chat.css)
		}
	case "/chat.js":
		if allowGet(w, r) {
			asset(w, r, "text/javascript; charset=utf-8", a.chat.js)
		}
	case "/keepalive":
		if allowGet(w, r) {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
		}
	case "/ws":
		if allowGet(w, r) {
			a.serveSocket(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

// contentPolicy lets the page load its own script and style and open
// its own WebSocket, and nothing else.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (a *avatar) servePage(w http.ResponseWriter, r *http.Request) {
	info, ok := guard.FromContext(r.Context())
	if !ok {
		http.Error(w, "chat/web: the chat is served behind a guard", http.StatusInternalServerError)
		return
	}
	d := pageData{User: a.id, Anonymous: info.Anonymous, LogoutPath: info.LogoutPath,
		// The guard's paths share their prefix.
		LoginPath: strings.TrimSuffix(info.LogoutPath, "/logout") + "/login"}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		a.chat.cfg.Logger.Error("chat/web: page template", "err", err)
		http.Error(w, "chat/web: the page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func asset(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "chat/web: method not allowed", http.StatusMethodNotAllowed)
	return false
}

// add records a socket; it fails once the avatar is logged out.
func (a *avatar) add(s *socket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return false
	}
	a.socks[s] = struct{}{}
	return true
}

func (a *avatar) remove(s *socket) {
	a.mu.Lock()
	delete(a.socks, s)
	a.mu.Unlock()
}

// logout closes the session's sockets; the guard calls it once, when
// the session ends.
func (a *avatar) logout() {
	a.mu.Lock()
	a.ended = true
	socks := make([]*socket, 0, len(a.socks))
	for s := range a.socks {
		socks = append(socks, s)
	}
	a.mu.Unlock()
	for _, s := range socks {
		s.kill(statusSessionEnded, "session ended")
	}
}
