package guard

import (
	"html/template"
	"log/slog"
	"time"

	"github.com/gospread/spread/cred"
)

// Config configures a Guard. A nil *Config, and every zero field, mean
// the default given for that field. New copies it; the caller's Config
// is never changed.
type Config struct {
	// Prefix is put before the guard's own paths: Prefix+"/login" and
	// Prefix+"/logout". It must be empty or start with "/" and not end
	// with "/". Default "" (the paths are /login and /logout).
	Prefix string

	// Store keeps the sessions. Default a new MemoryStore; use a
	// SQLStore (OpenSQLStore) so that sessions survive a restart and
	// several front-ends share them.
	Store Store

	// IdleTimeout ends a session that has seen no request for this
	// long. Default 30 minutes.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after its login,
	// whatever its activity. Default 12 hours.
	AbsoluteTimeout time.Duration

	// Stamper, when set, is asked on every request for the user's
	// current stamp (see Stamper); a session whose stamp changed, or
	// whose user may no longer log in, ends. A *djangostore.Store is a
	// Stamper. Default none: sessions then end only by logout and
	// timeouts.
	Stamper Stamper

	// Throttle limits failed logins (form and Basic) per user name and
	// per client address. Default cred.NewThrottle(nil).
	Throttle *cred.Throttle

	// InsecureLoopbackHTTP lets plain-HTTP requests from a loopback
	// address through, for development on one machine: their session
	// cookie is "spread-session", without Secure. Without it, every
	// plain-HTTP request gets 403. Never set it for a server others can
	// reach over plain HTTP.
	InsecureLoopbackHTTP bool

	// BasicAuth accepts HTTP Basic credentials (for scripts) on HTTPS
	// requests that carry no session: each such request is one login
	// (one password check) through the same portal and throttle, and
	// its avatar is logged out when the request ends. Over plain HTTP,
	// Basic credentials are refused unread. Default off.
	BasicAuth bool

	// LoginTemplate replaces the login page. It is executed with a
	// *LoginPage. Default a plain, accessible form.
	LoginTemplate *template.Template

	// MaxFormBytes limits the body of a login or logout form.
	// Default 8 KiB.
	MaxFormBytes int64

	// MaxConcurrentLogins bounds the password checks running at once;
	// further logins wait for a slot (or for their request to end).
	// Default 64.
	MaxConcurrentLogins int

	// TrustedOrigins are origins ("https://example.com") whose
	// cross-origin state-changing requests are let through
	// http.CrossOriginProtection. Default none.
	TrustedOrigins []string

	// SweepInterval is how often expired sessions are purged from the
	// store and logged out. Default 1 minute.
	SweepInterval time.Duration

	// Logger receives errors the client is not shown (a database down,
	// a realm that failed). It never receives a password or a session
	// id. Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Defaults of Config's fields.
const (
	DefaultIdleTimeout         = 30 * time.Minute
	DefaultAbsoluteTimeout     = 12 * time.Hour
	DefaultMaxFormBytes        = 8 << 10
	DefaultMaxConcurrentLogins = 64
	DefaultSweepInterval       = time.Minute
)

func (c *Config) withDefaults() (Config, error) {
	var out Config
	if c != nil {
		out = *c
		out.TrustedOrigins = append([]string(nil), c.TrustedOrigins...)
	}
	if out.Prefix != "" && (out.Prefix[0] != '/' || out.Prefix[len(out.Prefix)-1] == '/') {
		return out, &ConfigError{Field: "Prefix", Reason: "must be empty or start with / and not end with /"}
	}
	if out.IdleTimeout < 0 || out.AbsoluteTimeout < 0 || out.MaxFormBytes < 0 ||
		out.MaxConcurrentLogins < 0 || out.SweepInterval < 0 {
		return out, &ConfigError{Field: "a duration or limit", Reason: "must not be negative"}
	}
	if out.IdleTimeout == 0 {
		out.IdleTimeout = DefaultIdleTimeout
	}
	if out.AbsoluteTimeout == 0 {
		out.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if out.MaxFormBytes == 0 {
		out.MaxFormBytes = DefaultMaxFormBytes
	}
	if out.MaxConcurrentLogins == 0 {
		out.MaxConcurrentLogins = DefaultMaxConcurrentLogins
	}
	if out.SweepInterval == 0 {
		out.SweepInterval = DefaultSweepInterval
	}
	if out.Store == nil {
		out.Store = NewMemoryStore()
	}
	if out.Throttle == nil {
		out.Throttle = cred.NewThrottle(nil)
	}
	if out.LoginTemplate == nil {
		out.LoginTemplate = defaultLoginTemplate
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return out, nil
}
