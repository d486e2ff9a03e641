// Package guard puts a form login, server-side sessions and logout in
// front of web avatars served by a cred.Portal.
//
// The portal's realm gives, for cred.IHTTPHandler, an http.Handler for
// each user (see cred.InterfaceRealm): the same realm and the same users
// that serve Perspective Broker logins. A Guard is itself an
// http.Handler:
//
//   - GET Prefix/login serves a login page (an html/template that
//     Config.LoginTemplate can replace); POST Prefix/login takes the
//     form fields username, password and an optional next; POST
//     Prefix/logout logs out. Credentials in a query string are never
//     read (400), and a GET never logs anyone in or out.
//   - Every other request is served by the avatar of its session. A
//     request without a session gets the realm's anonymous web avatar
//     when the portal admits anonymous users; otherwise a browser (a
//     request that accepts text/html) gets 303 to Prefix/login?next=PATH
//     and other clients 401. After a login, next is followed only when
//     it is a path on this site.
//
// # Sessions
//
// A session id is 256 bits from crypto/rand; the Store keeps the session
// under the id's SHA-256 only. The cookie is __Host-spread-session
// (Secure, HttpOnly, SameSite=Lax, Path=/). Plain-HTTP requests are
// refused (403) unless Config.InsecureLoopbackHTTP is set and they come
// from a loopback address; their cookie, spread-session, lacks Secure.
// A login always issues a new id and ends the session the browser had
// (no fixation); a logout ends the session and deletes the cookie.
// Sessions end after Config.IdleTimeout without a request (default 30
// minutes) and Config.AbsoluteTimeout after the login (default 12
// hours). The avatar of a session is logged out (the realm's logout
// runs) exactly once: at logout, at expiry, when the session is found
// invalid, or at Close.
//
// A login costs one password check (one slow hash with Django's
// PBKDF2); a request in a session costs none. With Config.Stamper (a
// *djangostore.Store is one), each request also compares the user's stamp, an
// HMAC of the stored password hash, with the stamp of the login: a
// changed password, or a user deleted or deactivated, ends the session
// at its next request.
//
// MemoryStore (the default) keeps sessions in the process. SQLStore
// keeps them in SQLite or PostgreSQL (the DSNs of spread's --db), so that
// sessions survive a restart and several front-ends share them; a
// front-end that meets a session it has not served asks the realm again
// (cred.Portal.Resume) without a password check. Expired sessions are
// purged every Config.SweepInterval.
//
// # Defences
//
// Every state-changing request, the login form included, passes Go's
// http.CrossOriginProtection (Sec-Fetch-Site and Origin checks; 403).
// Logins go through a cred.Throttle: a throttled login gets 429 with
// Retry-After and a page that says so. An unknown user and a wrong
// password get the same page (and, with the checkers of cred/checkers
// and cred/django, take the same time). Form bodies are limited
// (Config.MaxFormBytes, 413), and so are concurrent password checks
// (Config.MaxConcurrentLogins). The login page and authenticated pages
// are sent with Cache-Control: no-store, frame-ancestors 'none' and
// Referrer-Policy: same-origin; the login page with a CSP that allows
// nothing but its form and its own style.
//
// Config.BasicAuth lets scripts send HTTP Basic credentials over HTTPS;
// each such request is one login through the same portal and throttle.
//
// This package imports cred and the standard library only.
package guard
