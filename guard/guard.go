package guard

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
)

// Stamper tells the guard, cheaply, whether a user's sessions are still
// good. SessionStamp returns a value that changes when the user's
// password changes (an HMAC under key of what the user store holds, as
// djangostore.Store.SessionStamp computes it), or an error matching
// cred.ErrUnauthorizedLogin when the user may no longer log in (deleted,
// deactivated). It runs on every request of a session, so it must not
// hash a password. Any other error is a failure of the store: the
// request gets 503 and the session is kept.
type Stamper interface {
	SessionStamp(ctx context.Context, avatarID string, key []byte) ([]byte, error)
}

// Guard is an http.Handler that puts a form login, sessions and logout
// in front of the avatars a cred.Portal gives for cred.IHTTPHandler. See
// the package documentation. It is safe for concurrent use.
type Guard struct {
	portal     *cred.Portal
	cfg        Config
	loginPath  string
	logoutPath string
	handler    http.Handler
	loginSlots chan struct{}
	touchEvery time.Duration

	mu     sync.RWMutex
	live   map[Hash]*live // this process's avatars, by session
	anon   *live          // the anonymous avatar, once asked for
	closed bool
	isDown atomic.Bool // closed, for the request path

	secretMu sync.Mutex
	secret   []byte

	stop      chan struct{}
	sweepDone chan struct{}
}

// live is the avatar this process holds for one session.
type live struct {
	avatarID string
	handler  http.Handler
	created  time.Time
	lastSeen atomic.Int64 // unix nanoseconds, this process's latest request
	logout   func()
	once     sync.Once
	done     chan struct{}
	info     *Info // what FromContext gives the session's requests
}

func (l *live) end() {
	l.once.Do(func() {
		close(l.done)
		if l.logout != nil {
			l.logout()
		}
	})
}

// New returns a Guard for portal, whose realm must give an http.Handler
// for cred.IHTTPHandler. cfg may be nil. Call Close when done.
func New(portal *cred.Portal, cfg *Config) (*Guard, error) {
	if portal == nil {
		return nil, &ConfigError{Field: "portal", Reason: "is nil"}
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Guard{
		portal:     portal,
		cfg:        c,
		loginPath:  c.Prefix + "/login",
		logoutPath: c.Prefix + "/logout",
		loginSlots: make(chan struct{}, c.MaxConcurrentLogins),
		touchEvery: min(c.IdleTimeout/60, time.Minute),
		live:       make(map[Hash]*live),
		stop:       make(chan struct{}),
		sweepDone:  make(chan struct{}),
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range c.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, &ConfigError{Field: "TrustedOrigins", Reason: err.Error()}
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.plain(w, http.StatusForbidden, "guard: cross-origin request refused")
	}))
	g.handler = cop.Handler(http.HandlerFunc(g.serve))
	go g.sweepLoop()
	return g, nil
}

// LoginPath returns the path of the login page (Prefix+"/login").
func (g *Guard) LoginPath() string { return g.loginPath }

// LogoutPath returns the path a logout form posts to (Prefix+"/logout").
func (g *Guard) LogoutPath() string { return g.logoutPath }

// ServeHTTP serves the login and logout paths, and every other request
// with the avatar of its session.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Info describes the session a request is served in.
type Info struct {
	// AvatarID is the logged-in user's id; cred.AnonymousID for the
	// anonymous avatar.
	AvatarID string
	// Anonymous is true when no one is logged in.
	Anonymous bool
	// Done is closed when the session ends (logout, expiry, a changed
	// password, Close). Long-lived handlers (a WebSocket) watch it.
	Done <-chan struct{}
	// LogoutPath is where a logout form posts.
	LogoutPath string
}

type infoKey struct{}

// FromContext returns the Info of the request whose context is ctx.
func FromContext(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(infoKey{}).(*Info)
	if !ok {
		return Info{}, false
	}
	return *i, true
}

// secure reports whether r may be served at all, and whether its cookie
// is the Secure one.
func (g *Guard) transport(r *http.Request) (ok, secure bool) {
	if r.TLS != nil {
		return true, true
	}
	return g.cfg.InsecureLoopbackHTTP && isLoopback(r.RemoteAddr), false
}

func isLoopback(addr string) bool {
	// netip parses without allocating, unlike net.ParseIP.
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().IsLoopback()
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// Cookie names: the __Host- prefix makes browsers insist on Secure,
// Path=/ and no Domain.
const (
	CookieName         = "__Host-spread-session"
	InsecureCookieName = "spread-session"
)

func cookieName(secure bool) string {
	if secure {
		return CookieName
	}
	return InsecureCookieName
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request) {
	ok, secure := g.transport(r)
	if !ok {
		g.plain(w, http.StatusForbidden, "guard: HTTPS required")
		return
	}
	if g.isDown.Load() {
		g.plain(w, http.StatusServiceUnavailable, ErrClosed.Error())
		return
	}
	switch r.URL.Path {
	case g.loginPath:
		g.serveLogin(w, r, secure)
		return
	case g.logoutPath:
		g.serveLogout(w, r, secure)
		return
	}
	l, status := g.session(r, secure)
	switch {
	case status != 0:
		g.plain(w, status, "guard: session check unavailable")
		return
	case l != nil:
		g.serveAvatar(w, r, l)
		return
	}
	if sessionCookie(r, secure) != "" {
		// A stale, forged or ended session: forget the cookie.
		http.SetCookie(w, g.cookie("", secure, -1))
	}
	if g.cfg.BasicAuth {
		// Look at the scheme only: over plain HTTP the credentials are
		// refused without being decoded.
		if a := r.Header.Get("Authorization"); len(a) > 6 && strings.EqualFold(a[:6], "basic ") {
			g.serveBasic(w, r)
			return
		}
	}
	if a := g.anonymous(r.Context()); a != nil {
		g.serveAvatar(w, r, a)
		return
	}
	g.unauthenticated(w, r)
}

// unauthenticated answers a request that needs a login: browsers go to
// the login page, other clients get 401.
func (g *Guard) unauthenticated(w http.ResponseWriter, r *http.Request) {
	noStore(w.Header())
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		target := g.loginPath
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			target += "?next=" + queryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if g.cfg.BasicAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="spread", charset="UTF-8"`)
	}
	g.plain(w, http.StatusUnauthorized, "guard: login required")
}

var (
	hdrNoStore    = []string{"no-store"}
	hdrFrameNone  = []string{"frame-ancestors 'none'"}
	hdrSameOrigin = []string{"same-origin"}
)

func (g *Guard) serveAvatar(w http.ResponseWriter, r *http.Request, l *live) {
	// Shared value slices (len == cap, so a handler's Add copies them)
	// spare an allocation per header and request.
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	h["Content-Security-Policy"] = hdrFrameNone
	h["Referrer-Policy"] = hdrSameOrigin
	l.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, l.info)))
}

// session returns the live avatar of r's session, or nil when r has no
// valid session. status is non-zero when the store could not answer.
func (g *Guard) session(r *http.Request, secure bool) (l *live, status int) {
	h, ok := parseID(sessionCookie(r, secure))
	if !ok {
		return nil, 0
	}
	ctx := r.Context()
	s, err := g.cfg.Store.Get(ctx, h)
	if errors.Is(err, ErrNoSession) {
		g.endLocal(h)
		return nil, 0
	}
	if err != nil {
		g.cfg.Logger.Error("guard: reading a session", "err", err)
		return nil, http.StatusServiceUnavailable
	}
	now := g.cfg.Now()
	if g.expired(s, now) {
		g.end(ctx, h)
		return nil, 0
	}
	if g.cfg.Stamper != nil {
		stamp, err := g.stamp(ctx, s.AvatarID)
		if errors.Is(err, cred.ErrUnauthorizedLogin) || (err == nil && !hmac.Equal(stamp, s.Stamp)) {
			g.end(ctx, h)
			return nil, 0
		}
		if err != nil {
			g.cfg.Logger.Error("guard: checking a session's stamp", "err", err)
			return nil, http.StatusServiceUnavailable
		}
	}
	if now.Sub(s.LastSeen) >= g.touchEvery {
		if err := g.cfg.Store.Touch(ctx, h, now); err != nil {
			g.cfg.Logger.Error("guard: touching a session", "err", err)
		}
	}
	g.mu.RLock()
	l = g.live[h]
	g.mu.RUnlock()
	if l != nil {
		l.lastSeen.Store(now.UnixNano())
		return l, 0
	}
	// A session this process has not served yet (a restart, another
	// front-end's login): ask the realm again, without a password check.
	avatar, logout, err := g.portal.Resume(ctx, s.AvatarID, nil, cred.IHTTPHandler)
	if err != nil {
		g.cfg.Logger.Error("guard: resuming a session", "avatar", s.AvatarID, "err", err)
		return nil, http.StatusServiceUnavailable
	}
	nl, err := g.newLive(s.AvatarID, avatar, logout, s.Created, false)
	if err != nil {
		g.cfg.Logger.Error("guard: resuming a session", "avatar", s.AvatarID, "err", err)
		return nil, http.StatusServiceUnavailable
	}
	nl.lastSeen.Store(now.UnixNano())
	return g.adopt(h, nl), 0
}

func (g *Guard) newLive(id string, avatar any, logout func(), created time.Time, anonymous bool) (*live, error) {
	h, ok := avatar.(http.Handler)
	if !ok {
		if logout != nil {
			logout()
		}
		return nil, errors.New("guard: the realm's avatar for cred.IHTTPHandler is not an http.Handler")
	}
	l := &live{avatarID: id, handler: h, logout: logout, created: created, done: make(chan struct{})}
	l.info = &Info{AvatarID: id, Anonymous: anonymous, Done: l.done, LogoutPath: g.logoutPath}
	return l, nil
}

// adopt records l for h, unless another request did first (then l is
// logged out and the other one returned) or the guard is closed.
func (g *Guard) adopt(h Hash, l *live) *live {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		l.end()
		return l
	}
	if old := g.live[h]; old != nil {
		g.mu.Unlock()
		l.end()
		return old
	}
	g.live[h] = l
	g.mu.Unlock()
	return l
}

func (g *Guard) expired(s Session, now time.Time) bool {
	return now.Sub(s.LastSeen) >= g.cfg.IdleTimeout || now.Sub(s.Created) >= g.cfg.AbsoluteTimeout
}

// end deletes a session from the store and logs its avatar out.
func (g *Guard) end(ctx context.Context, h Hash) {
	if err := g.cfg.Store.Delete(ctx, h); err != nil {
		g.cfg.Logger.Error("guard: deleting a session", "err", err)
	}
	g.endLocal(h)
}

// endLocal logs out this process's avatar for h, if any.
func (g *Guard) endLocal(h Hash) {
	g.mu.Lock()
	l := g.live[h]
	delete(g.live, h)
	g.mu.Unlock()
	if l != nil {
		l.end()
	}
}

// stamp returns the Stamper's current value for id.
func (g *Guard) stamp(ctx context.Context, id string) ([]byte, error) {
	key, err := g.secretKey(ctx)
	if err != nil {
		return nil, err
	}
	return g.cfg.Stamper.SessionStamp(ctx, id, key)
}

func (g *Guard) secretKey(ctx context.Context) ([]byte, error) {
	g.secretMu.Lock()
	defer g.secretMu.Unlock()
	if g.secret == nil {
		k, err := g.cfg.Store.Secret(ctx)
		if err != nil {
			return nil, err
		}
		g.secret = k
	}
	return g.secret, nil
}

// anonymous returns the realm's anonymous web avatar when the portal
// admits anonymous users, asking for it once.
func (g *Guard) anonymous(ctx context.Context) *live {
	if !g.portal.Accepts(cred.KindAnonymous) {
		return nil
	}
	g.mu.RLock()
	a := g.anon
	g.mu.RUnlock()
	if a != nil {
		return a
	}
	id, avatar, logout, err := g.portal.LoginFor(ctx, cred.Anonymous{}, nil, cred.IHTTPHandler)
	if err != nil {
		if !errors.Is(err, cred.ErrUnauthorizedLogin) && !errors.Is(err, cred.ErrUnsupportedInterface) {
			g.cfg.Logger.Error("guard: anonymous login", "err", err)
		}
		return nil
	}
	l, err := g.newLive(id, avatar, logout, g.cfg.Now(), true)
	if err != nil {
		g.cfg.Logger.Error("guard: anonymous login", "err", err)
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.anon != nil {
		go l.end()
		if g.anon != nil {
			return g.anon
		}
		return nil
	}
	g.anon = l
	return l
}

// sweepLoop purges expired sessions every SweepInterval.
func (g *Guard) sweepLoop() {
	defer close(g.sweepDone)
	t := time.NewTicker(g.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.Sweep(context.Background())
		}
	}
}

// Sweep purges expired sessions from the store and logs out this
// process's avatars of expired sessions, and of sessions this process
// has not served for IdleTimeout. The guard runs it every SweepInterval.
func (g *Guard) Sweep(ctx context.Context) {
	now := g.cfg.Now()
	if _, err := g.cfg.Store.Purge(ctx, now.Add(-g.cfg.IdleTimeout), now.Add(-g.cfg.AbsoluteTimeout)); err != nil {
		g.cfg.Logger.Error("guard: purging sessions", "err", err)
	}
	var ended []*live
	g.mu.Lock()
	for h, l := range g.live {
		if now.Sub(time.Unix(0, l.lastSeen.Load())) >= g.cfg.IdleTimeout || now.Sub(l.created) >= g.cfg.AbsoluteTimeout {
			delete(g.live, h)
			ended = append(ended, l)
		}
	}
	g.mu.Unlock()
	for _, l := range ended {
		l.end()
	}
}

// Close stops the sweeper and logs out every avatar this process holds.
// Sessions stay in the store (a SQLStore's survive a restart); the store
// is not closed. Requests after Close get 503.
func (g *Guard) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.isDown.Store(true)
	lives := g.live
	g.live = nil
	anon := g.anon
	g.anon = nil
	g.mu.Unlock()
	close(g.stop)
	<-g.sweepDone
	for _, l := range lives {
		l.end()
	}
	if anon != nil {
		anon.end()
	}
	return nil
}

// cookie returns the session cookie for id (maxAge < 0 deletes it).
func (g *Guard) cookie(id string, secure bool, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName(secure),
		Value:    id,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// sessionCookie returns the value of r's session cookie, or "". It
// scans the Cookie headers itself: net/http's parser would allocate
// every cookie of the request on every request.
func sessionCookie(r *http.Request, secure bool) string {
	name := cookieName(secure)
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if v, ok := strings.CutPrefix(part, name); ok && len(v) > 0 && v[0] == '=' {
				v = strings.TrimRight(v[1:], " \t")
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}
