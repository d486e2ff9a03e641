package guard

import (
	"errors"
	"net/http"
	"time"

	"github.com/gospread/spread/cred"
)

// serveBasic serves a request that carries HTTP Basic credentials and no
// session: one login for this one request.
func (g *Guard) serveBasic(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		// Not even decoded: the password has already crossed in clear.
		g.plain(w, http.StatusForbidden, "guard: Basic authentication needs HTTPS")
		return
	}
	user, pw, ok := r.BasicAuth()
	if !ok || user == "" || len(user) > maxUsernameBytes || len(pw) > maxPasswordBytes {
		w.Header().Set("WWW-Authenticate", `Basic realm="spread", charset="UTF-8"`)
		g.plain(w, http.StatusUnauthorized, "guard: malformed Basic credentials")
		return
	}
	_, l, err := g.login(r, user, []byte(pw))
	var te *cred.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", itoa(int((te.RetryAfter+time.Second-1)/time.Second)))
		g.plain(w, http.StatusTooManyRequests, "guard: too many failed logins; retry later")
		return
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		w.Header().Set("WWW-Authenticate", `Basic realm="spread", charset="UTF-8"`)
		g.plain(w, http.StatusUnauthorized, "guard: the user name or password is not correct")
		return
	case err != nil:
		g.cfg.Logger.Error("guard: Basic login failed", "err", err)
		g.plain(w, http.StatusServiceUnavailable, "guard: login unavailable")
		return
	}
	defer l.end()
	l.lastSeen.Store(g.cfg.Now().UnixNano())
	g.serveAvatar(w, r, l)
}
