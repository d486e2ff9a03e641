package guard

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/gospread/spread/cred"
)

// Limits on login form fields.
const (
	maxUsernameBytes = 256
	maxPasswordBytes = 1024
)

func (g *Guard) serveLogin(w http.ResponseWriter, r *http.Request, secure bool) {
	q := r.URL.Query()
	if q.Has("password") || q.Has("username") {
		// Never read, never used: a URL ends up in logs and histories.
		g.plain(w, http.StatusBadRequest, "guard: credentials in a URL are never read; use the login form")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		g.renderLogin(w, r, http.StatusOK, &LoginPage{Next: localNext(q.Get("next"))})
	case http.MethodPost:
		g.postLogin(w, r, secure)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		g.plain(w, http.StatusMethodNotAllowed, "guard: method not allowed")
	}
}

// readForm reads an application/x-www-form-urlencoded body of at most
// MaxFormBytes. It never looks at the query string.
func (g *Guard) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		g.plain(w, http.StatusUnsupportedMediaType, "guard: want an application/x-www-form-urlencoded form")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxFormBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		g.plain(w, http.StatusRequestEntityTooLarge, "guard: form too large")
		return nil, false
	}
	if err != nil {
		g.plain(w, http.StatusBadRequest, "guard: reading the form failed")
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		g.plain(w, http.StatusBadRequest, "guard: malformed form")
		return nil, false
	}
	return form, true
}

func (g *Guard) postLogin(w http.ResponseWriter, r *http.Request, secure bool) {
	form, ok := g.readForm(w, r)
	if !ok {
		return
	}
	for _, f := range []string{"username", "password", "next"} {
		if len(form[f]) > 1 {
			g.plain(w, http.StatusBadRequest, "guard: the form field "+f+" is repeated")
			return
		}
	}
	user, pw := form.Get("username"), form.Get("password")
	page := &LoginPage{Next: localNext(form.Get("next")), Username: user}
	if user == "" || pw == "" || len(user) > maxUsernameBytes || len(pw) > maxPasswordBytes || !utf8.ValidString(user) {
		page.Username = ""
		page.Error = "Enter your user name and password."
		g.renderLogin(w, r, http.StatusOK, page)
		return
	}
	id, l, err := g.login(r, user, []byte(pw))
	var te *cred.ThrottledError
	switch {
	case errors.As(err, &te):
		g.throttled(w, r, page, te.RetryAfter)
		return
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		page.Error = "The user name or password is not correct."
		g.renderLogin(w, r, http.StatusOK, page)
		return
	case err != nil:
		g.cfg.Logger.Error("guard: login failed", "err", err)
		page.Error = "Logging in is not possible right now. Please try again later."
		g.renderLogin(w, r, http.StatusServiceUnavailable, page)
		return
	}
	// The old session, if any, ends: a session id is never carried
	// across a login (no fixation).
	if h, ok := parseID(sessionCookie(r, secure)); ok {
		g.end(r.Context(), h)
	}
	sid, err := g.startSession(r.Context(), id, l)
	if err != nil {
		g.cfg.Logger.Error("guard: storing a session", "err", err)
		page.Error = "Logging in is not possible right now. Please try again later."
		g.renderLogin(w, r, http.StatusServiceUnavailable, page)
		return
	}
	http.SetCookie(w, g.cookie(sid, secure, 0))
	noStore(w.Header())
	next := page.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// login checks the credentials through the throttle and the portal and
// returns the web avatar. Failures match cred.ErrThrottled or
// cred.ErrUnauthorizedLogin; other errors are the server's.
func (g *Guard) login(r *http.Request, user string, pw []byte) (string, *live, error) {
	ctx := r.Context()
	attempt, err := g.throttleBegin(user, r.RemoteAddr)
	if err != nil {
		return "", nil, err
	}
	select {
	case g.loginSlots <- struct{}{}:
	case <-ctx.Done():
		attempt.Cancel()
		return "", nil, ctx.Err()
	}
	id, avatar, logout, err := g.portal.LoginFor(ctx, &cred.UsernamePassword{Username: user, Password: pw}, nil, cred.IHTTPHandler)
	<-g.loginSlots
	g.throttleEnd(ctx, attempt, user, err)
	if errors.Is(err, cred.ErrUnhandledCredentials) {
		// No password checker: to the client, a refused login.
		g.cfg.Logger.Error("guard: the portal has no checker for passwords")
		err = cred.ErrUnauthorizedLogin
	}
	if err != nil {
		return "", nil, err
	}
	l, err := g.newLive(id, avatar, logout, g.cfg.Now(), false)
	if err != nil {
		return "", nil, err
	}
	return id, l, nil
}

// startSession stores a new session for l and returns its id.
func (g *Guard) startSession(ctx context.Context, avatarID string, l *live) (string, error) {
	now := l.created
	s := Session{AvatarID: avatarID, Created: now, LastSeen: now}
	if g.cfg.Stamper != nil {
		stamp, err := g.stamp(ctx, avatarID)
		if err != nil {
			l.end()
			return "", err
		}
		s.Stamp = stamp
	}
	sid, h := newID()
	if err := g.cfg.Store.Create(ctx, h, s); err != nil {
		l.end()
		return "", err
	}
	l.lastSeen.Store(now.UnixNano())
	g.adopt(h, l)
	return sid, nil
}

func (g *Guard) throttled(w http.ResponseWriter, r *http.Request, page *LoginPage, after time.Duration) {
	secs := int((after + time.Second - 1) / time.Second)
	page.RetryAfter = secs
	page.Error = "Too many failed logins. Try again in " + itoa(secs) + " seconds."
	w.Header().Set("Retry-After", itoa(secs))
	g.renderLogin(w, r, http.StatusTooManyRequests, page)
}

func (g *Guard) serveLogout(w http.ResponseWriter, r *http.Request, secure bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		g.plain(w, http.StatusMethodNotAllowed, "guard: log out with POST")
		return
	}
	if r.ContentLength > g.cfg.MaxFormBytes {
		g.plain(w, http.StatusRequestEntityTooLarge, "guard: form too large")
		return
	}
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, g.cfg.MaxFormBytes))
	if h, ok := parseID(sessionCookie(r, secure)); ok {
		g.end(r.Context(), h)
	}
	http.SetCookie(w, g.cookie("", secure, -1))
	noStore(w.Header())
	http.Redirect(w, r, g.loginPath, http.StatusSeeOther)
}

// localNext returns next when it is a path on this site, else "". It
// refuses anything a browser could read as another host: "//host",
// "/\host", schemes, and their percent-encoded forms.
func localNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	// Decode until the value stops changing, checking every layer: a
	// server or proxy may unescape more than once. A value still
	// changing after maxUnescape rounds is refused outright.
	const maxUnescape = 4
	for s, i := next, 0; ; i++ {
		if i > maxUnescape {
			return ""
		}
		if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
			return ""
		}
		for _, c := range []byte(s) {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return ""
			}
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return ""
		}
		if u == s {
			break
		}
		s = u
		if s == "" || s[0] != '/' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

func queryEscape(s string) string { return url.QueryEscape(s) }

func itoa(n int) string {
	if n <= 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
