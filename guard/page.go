package guard

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
)

// LoginPage is what the login template is executed with.
type LoginPage struct {
	// Action is the path the form posts to.
	Action string
	// Next is the local path to go to after the login, or "".
	Next string
	// Username is the name typed in a failed attempt, to fill in again.
	Username string
	// Error is a message for the user, or "".
	Error string
	// RetryAfter is set, in seconds, when logins are throttled.
	RetryAfter int
	// Nonce is the Content-Security-Policy nonce for an inline <style>.
	Nonce string
}

var defaultLoginTemplate = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in</title>
<style nonce="{{.Nonce}}">
body { font-family: system-ui, sans-serif; max-width: 22rem; margin: 4rem auto; padding: 0 1rem; }
label { display: block; margin-top: 1rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
button { margin-top: 1.25rem; padding: .5rem 1.5rem; font-size: 1rem; }
.error { color: #a00; border: 1px solid #a00; padding: .5rem; }
</style>
</head>
<body>
<main>
<h1>Log in</h1>
{{if .Error}}<p class="error" role="alert" id="login-error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{{.Username}}"{{if not .Username}} autofocus{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{{if .Username}} autofocus{{end}}>
{{if .Next}}<input type="hidden" name="next" value="{{.Next}}">{{end}}
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`))

func (g *Guard) renderLogin(w http.ResponseWriter, r *http.Request, status int, page *LoginPage) {
	var nb [16]byte
	rand.Read(nb[:])
	page.Nonce = base64.RawURLEncoding.EncodeToString(nb[:])
	page.Action = g.loginPath
	var buf bytes.Buffer
	if err := g.cfg.LoginTemplate.Execute(&buf, page); err != nil {
		g.cfg.Logger.Error("guard: login template", "err", err)
		g.plain(w, http.StatusInternalServerError, "guard: the login page failed")
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+page.Nonce+
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// plain writes a short text answer.
func (g *Guard) plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

func securityHeaders(h http.Header) {
	noStore(h)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

func noStore(h http.Header) { h.Set("Cache-Control", "no-store") }
