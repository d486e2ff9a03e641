package pb

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
)

// The login root speaks Twisted's cred-over-PB protocol:
//
//	root.login(username)            -> (challenge, challenger)
//	challenger.respond(response, mind) -> avatar
//	root.loginAnonymous(mind)       -> avatar
//
// and Spread's password login for stores that hold only salted hashes,
// offered only on TLS or loopback connections:
//
//	root.loginMethods()                       -> ["challenge", "password", "anonymous"] (those available)
//	root.loginPassword(username, password, mind) -> avatar

// Names of Spread's login extension methods.
const (
	MethodLoginMethods  = "loginMethods"
	MethodLoginPassword = "loginPassword"
)

// NeedPasswordLogin is the message of the UnauthorizedLogin a Spread
// server sends when a challenge login cannot work because its checker
// holds only password hashes. A Spread client then retries with the
// password login (it recognizes the failure by its login code, see
// RemoteError.Code, not by this text); a Twisted client sees an ordinary
// UnauthorizedLogin.
const NeedPasswordLogin = "this account needs Spread's password login (loginPassword, over TLS or loopback)"

// Login codes: the machine-readable reason a Spread server attaches to a
// refused login (RemoteError.Code). Twisted peers ignore them; they see
// only the UnauthorizedLogin and its message.
const (
	// LoginCodeThrottled: too many failed logins; RemoteError.RetryAfter
	// says when to retry.
	LoginCodeThrottled = "throttled"
	// LoginCodeUnavailable: the server could not check the credentials
	// (its user store did not answer). Retry later.
	LoginCodeUnavailable = "unavailable"
	// LoginCodeNeedPassword: the account needs Spread's password login.
	LoginCodeNeedPassword = "password-login"
	// LoginCodeNameTooLong: the user name is longer than
	// cred.MaxUsernameLen bytes.
	LoginCodeNameTooLong = "name-too-long"
	// LoginCodeChallenge: the challenge cannot be used (expired, used, or
	// too many pending on the connection). Call login again.
	LoginCodeChallenge = "challenge"
)

// Limits of the challenge login, per connection.
const (
	// maxPendingChallenges caps the challenges handed out on one
	// connection and neither answered nor expired.
	maxPendingChallenges = 16
	// challengeTTL is how long a challenge can be answered.
	challengeTTL = 30 * time.Second
)

type loginRoot struct {
	Referenceable
	b *Broker

	mu      sync.Mutex
	pending []*challenger // handed out, not yet answered; pruned on login
	logged  uint8         // refusals already logged on this connection (logOnce)
}

// Refusals that a peer can repeat at will are logged once per
// connection.
const (
	onceNameTooLong uint8 = 1 << iota
	onceTooManyChallenges
	onceInsecurePassword
)

// logOnce logs msg at Info the first time refusal what happens on this
// connection, and not after.
func (r *loginRoot) logOnce(what uint8, msg string, args ...any) {
	r.mu.Lock()
	first := r.logged&what == 0
	r.logged |= what
	r.mu.Unlock()
	if first {
		r.b.cfg.log.Info(msg+" (logged once per connection)", args...)
	}
}

func newLoginRoot(b *Broker) *loginRoot { return &loginRoot{b: b} }

func (r *loginRoot) addr() string {
	if a, ok := r.b.conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return r.b.conn.RemoteAddr().String()
}

func (*loginRoot) offReader()  {}
func (*challenger) offReader() {}

// loginError builds the UnauthorizedLogin a refused login gets.
func loginError(code, msg string) *Error {
	return &Error{Type: pyUnauthorizedLogin, Message: msg, code: code}
}

func throttledError(te *cred.ThrottledError) *Error {
	secs := te.RetrySeconds()
	unit := " seconds"
	if secs == 1 {
		unit = " second"
	}
	e := loginError(LoginCodeThrottled, "too many failed login attempts; try again in "+strconv.FormatInt(secs, 10)+unit)
	e.retryAfter = secs
	return e
}

// loginUnavailable tells the client that its login cannot be checked
// now, naming the store that did not answer (cred.UnavailableError.Store).
func loginUnavailable(err error) *Error {
	store := "the user database"
	var ue *cred.UnavailableError
	if errors.As(err, &ue) && ue.Store != "" {
		store = ue.Store
	}
	return loginError(LoginCodeUnavailable, "the login cannot be checked right now: "+store+" is unavailable; try again later")
}

var (
	errNameTooLong = loginError(LoginCodeNameTooLong,
		"user name longer than "+strconv.Itoa(cred.MaxUsernameLen)+" bytes")
	errTooManyChallenges = loginError(LoginCodeChallenge,
		"too many login challenges pending on this connection (at most "+strconv.Itoa(maxPendingChallenges)+")")
	errChallengeExpired = loginError(LoginCodeChallenge, "login challenge expired; call login again")
	errChallengeUsed    = loginError(LoginCodeChallenge, "login challenge already used; call login again")
)

// logName renders a peer-supplied user name for a log line: cut to 64
// bytes (at a character boundary, the full length noted), with quotes,
// backslashes, control characters and invalid UTF-8 escaped as in a Go
// string literal, so that a name cannot forge or flood log lines.
func logName(s string) string {
	const max = 64
	if len(s) <= max {
		return escapeLog(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return escapeLog(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// logErr renders an error for a log line like logName, cut to 256
// bytes: a checker's error may quote what the peer sent.
func logErr(err error) string {
	s := err.Error()
	if len(s) <= 256 {
		return escapeLog(s)
	}
	return escapeLog(s[:256]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

func escapeLog(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c >= 0x80 {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// RemoteLogin starts a challenge login. A challenge is handed out even
// for unknown users, so the answer tells nothing. A connection may hold
// maxPendingChallenges unanswered challenges; each expires after
// challengeTTL.
func (r *loginRoot) RemoteLogin(username string) (jelly.Tuple, error) {
	if len(username) > cred.MaxUsernameLen {
		r.logOnce(onceNameTooLong, "pb: login refused: user name too long", "peer", r.addr(), "user", logName(username))
		return nil, errNameTooLong
	}
	now := time.Now()
	r.mu.Lock()
	live := r.pending[:0]
	for _, c := range r.pending {
		if c.pending(now) {
			live = append(live, c)
		}
	}
	clear(r.pending[len(live):])
	r.pending = live
	if len(r.pending) >= maxPendingChallenges {
		r.mu.Unlock()
		r.logOnce(onceTooManyChallenges, "pb: login refused: too many pending challenges", "peer", r.addr())
		return nil, errTooManyChallenges
	}
	ch := make([]byte, 16)
	if r.b.cfg.challenge != nil {
		copy(ch, r.b.cfg.challenge())
	} else if _, err := rand.Read(ch); err != nil {
		panic("pb: no randomness for a login challenge: " + err.Error())
	}
	c := &challenger{root: r, username: username, challenge: ch, expires: now.Add(challengeTTL)}
	r.pending = append(r.pending, c)
	r.mu.Unlock()
	return jelly.Tuple{ch, c}, nil
}

// RemoteLoginAnonymous logs in without credentials.
func (r *loginRoot) RemoteLoginAnonymous(ctx context.Context, mind any) (any, error) {
	return r.finish(ctx, cred.Anonymous{}, "", mind)
}

// RemoteLoginMethods lists the login methods this connection offers, in
// the order the server prefers them.
func (r *loginRoot) RemoteLoginMethods() []any {
	p := r.b.cfg.Portal
	var out []any
	if p.Accepts(cred.KindChallenge) {
		out = append(out, "challenge")
	}
	if p.Accepts(cred.KindPassword) && r.b.Secure() {
		out = append(out, "password")
	}
	if p.Accepts(cred.KindAnonymous) {
		out = append(out, "anonymous")
	}
	return out
}

// RemoteLoginPassword is Spread's login for hashed stores: the client
// sends the password itself, so it is refused unless the connection is
// TLS or loopback.
func (r *loginRoot) RemoteLoginPassword(ctx context.Context, username string, password []byte, mind any) (any, error) {
	if len(username) > cred.MaxUsernameLen {
		r.logOnce(onceNameTooLong, "pb: login refused: user name too long", "peer", r.addr(), "user", logName(username))
		return nil, errNameTooLong
	}
	if !r.b.Secure() {
		r.logOnce(onceInsecurePassword, "pb: password login refused on an insecure connection", "peer", r.addr(), "user", logName(username))
		return nil, &Error{Type: pyUnauthorizedLogin, Message: "password login needs TLS or a loopback connection", Parents: parentsOf(pyUnauthorizedLogin)}
	}
	return r.finish(ctx, &cred.UsernamePassword{Username: username, Password: password}, username, mind)
}

// finish checks credentials through the portal, throttled, and exports
// the avatar. The throttle reserves the attempt before the check (see
// cred.Throttle); a check that could not be made is not counted.
func (r *loginRoot) finish(ctx context.Context, creds cred.Credentials, username string, mind any) (any, error) {
	b := r.b
	addr := r.addr()
	th := b.cfg.Throttle
	log := b.cfg.log
	attempt, err := th.Begin(username, addr)
	if err != nil {
		// Not logged: the lockout was logged when it began.
		var te *cred.ThrottledError
		b.countLogin(err, true, nil)
		if errors.As(err, &te) {
			return nil, throttledError(te)
		}
		return nil, cred.ErrUnauthorizedLogin
	}
	mindRef, _ := mind.(*RemoteReference)
	var mindArg any
	if mindRef != nil {
		mindArg = mindRef
	}
	id, avatar, logout, err := b.cfg.Portal.Login(ctx, creds, mindArg)
	logout = b.countLogin(err, false, logout)
	if err != nil {
		return nil, r.refused(ctx, attempt, creds, username, addr, err)
	}
	attempt.Success()
	if th.StoreAnswered() {
		log.Info("pb: logins can be checked again: the credential store answers")
	}
	if log.Enabled(ctx, slog.LevelInfo) { // the arguments cost allocations
		log.Info("pb: login", "peer", addr, "avatar", logName(id), "kind", string(creds.Kind()))
	}
	a := &avatarRef{avatar: avatar, logout: logout, mind: mindRef}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		a.runLogout()
		return nil, &ConnectionLostError{Cause: b.Err()}
	}
	b.noteLoggedIn() // the connection has an avatar: see limits.go
	return a, nil
}

// refused ends a login attempt whose check returned err and returns what
// the client is told.
func (r *loginRoot) refused(ctx context.Context, attempt *cred.Attempt, creds cred.Credentials, username, addr string, err error) error {
	th := r.b.cfg.Throttle
	log := r.b.cfg.log
	kind := string(creds.Kind())
	switch {
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		if th.StoreAnswered() {
			log.Info("pb: logins can be checked again: the credential store answers")
		}
		res := attempt.Failure()
		log.Info("pb: login failed", "peer", addr, "user", logName(username), "kind", kind, "reason", logErr(err))
		if res.Lockout > 0 {
			scope := "user at address"
			if res.AddressLocked {
				scope = "address"
			}
			log.Warn("pb: too many failed logins: locked out", "peer", addr, "user", logName(username),
				"scope", scope, "for", res.Lockout)
		}
		if res.DelayStarted {
			log.Warn("pb: a user name fails from many addresses: its failed logins are answered late",
				"user", logName(username), "delay", res.Delay)
		}
		if res.Delay > 0 {
			t := time.NewTimer(res.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		return cred.ErrUnauthorizedLogin
	case errors.Is(err, cred.ErrUnhandledCredentials):
		attempt.Cancel()
		log.Info("pb: login failed", "peer", addr, "user", logName(username), "kind", kind, "reason", logErr(err))
		return err
	case errors.Is(err, cred.ErrUsernameTooLong):
		attempt.Cancel()
		return errNameTooLong
	case errors.Is(err, cred.ErrUnavailable):
		attempt.Cancel()
		if th.StoreUnavailable() {
			log.Error("pb: logins cannot be checked: the credential store is unavailable (logged once per outage)",
				"err", logErr(err))
		}
		return loginUnavailable(err)
	default:
		// A realm's error, or a checker's that is neither a refusal nor
		// an outage: not the client's fault, not counted.
		attempt.Cancel()
		log.Error("pb: login error", "peer", addr, "user", logName(username), "kind", kind, "err", logErr(err))
		return cred.ErrUnauthorizedLogin
	}
}

// challenger answers one challenge; it can be used once, within
// challengeTTL.
type challenger struct {
	Referenceable
	root      *loginRoot
	username  string
	challenge []byte
	expires   time.Time
	mu        sync.Mutex
	used      bool
}

// pending reports whether c can still be answered.
func (c *challenger) pending(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.used && now.Before(c.expires)
}

// RemoteRespond checks the response to the challenge.
func (c *challenger) RemoteRespond(ctx context.Context, response []byte, mind any) (any, error) {
	c.mu.Lock()
	used, expired := c.used, !time.Now().Before(c.expires)
	c.used = true
	c.mu.Unlock()
	if used {
		return nil, errChallengeUsed
	}
	if expired {
		return nil, errChallengeExpired
	}
	p := c.root.b.cfg.Portal
	if !p.Accepts(cred.KindChallenge) && p.Accepts(cred.KindPassword) {
		c.root.b.cfg.log.Warn("pb: challenge login cannot work here: the checker holds only password hashes; the client must use Spread's password login",
			"peer", c.root.addr(), "user", logName(c.username))
		return nil, loginError(LoginCodeNeedPassword, NeedPasswordLogin)
	}
	creds := &cred.UsernameChallenge{Username: c.username, Challenge: c.challenge, Response: response}
	return c.root.finish(ctx, creds, c.username, mind)
}

// hasLogout reports whether runLogout has anything to do.
func (a *avatarRef) hasLogout() bool { return a.logout != nil || a.mind != nil }

// runLogout calls the realm's logout once and releases the mind.
func (a *avatarRef) runLogout() {
	a.once.Do(func() {
		if a.logout != nil {
			a.logout()
		}
		if a.mind != nil {
			a.mind.Release()
		}
	})
}

// Login logs in on the server's root with creds and returns the
// avatar's reference. mind (a Referenceable, or nil) is handed to the
// server's realm. Keep the avatar reference: releasing it logs out.
//
// With *cred.UsernamePassword the client uses Twisted's challenge login,
// which never sends the password. When a Spread server answers that the
// account needs the password itself (its checker holds only hashes),
// the client retries with Spread's password login, but only over TLS or
// loopback; later logins on the same connection then use the password
// login at once. With cred.Anonymous it logs in anonymously.
//
// A refused login returns a *LoginError, which matches
// cred.ErrUnauthorizedLogin (wrong credentials), cred.ErrThrottled (too
// many failed logins: errors.As gives the *cred.ThrottledError with
// RetryAfter), cred.ErrUnavailable (the server could not check them now)
// or cred.ErrUsernameTooLong, and holds the server's *RemoteError.
func (b *Broker) Login(ctx context.Context, creds cred.Credentials, mind any) (*RemoteReference, error) {
	root := b.Root()
	var res any
	var err error
	switch c := creds.(type) {
	case cred.Anonymous, *cred.Anonymous:
		res, err = root.CallRemote(ctx, "loginAnonymous", mind)
	case *cred.UsernamePassword:
		if len(c.Username) > cred.MaxUsernameLen {
			return nil, &LoginError{Err: cred.ErrUsernameTooLong}
		}
		if b.needsPassword.Load() {
			// The server said so on this connection: skip the challenge
			// (two round trips) that it refuses anyway.
			res, err = root.CallRemote(ctx, MethodLoginPassword, []byte(c.Username), c.Password, mind)
			break
		}
		res, err = b.challengeLogin(ctx, c, mind)
		var re *RemoteError
		if errors.As(err, &re) && re.Code == LoginCodeNeedPassword {
			if !b.Secure() {
				return nil, errors.New("pb: the server needs the password itself, and this connection is neither TLS nor loopback: not sending it")
			}
			b.needsPassword.Store(true)
			res, err = root.CallRemote(ctx, MethodLoginPassword, []byte(c.Username), c.Password, mind)
		}
	default:
		return nil, &cred.UnhandledError{Kind: creds.Kind()}
	}
	if err != nil {
		return nil, loginErrorOf(err)
	}
	ref, ok := res.(*RemoteReference)
	if !ok {
		return nil, protoErr(nil, "login answered %s, not a reference", pyTypeName(res))
	}
	return ref, nil
}

// loginErrorOf turns a refused login's remote failure into a
// *LoginError that matches the cred error it stands for.
func loginErrorOf(err error) error {
	var re *RemoteError
	if !errors.As(err, &re) {
		return err
	}
	var ce error
	switch {
	case re.Code == LoginCodeThrottled:
		ce = &cred.ThrottledError{RetryAfter: re.RetryAfter}
	case re.Code == LoginCodeUnavailable:
		ce = &cred.UnavailableError{}
	case re.Code == LoginCodeNameTooLong:
		ce = cred.ErrUsernameTooLong
	case re.Check(pyUnauthorizedLogin):
		ce = cred.ErrUnauthorizedLogin
	case re.Check(pyUnhandledCredential):
		ce = cred.ErrUnhandledCredentials
	default:
		return err
	}
	return &LoginError{Err: ce, Remote: re}
}

func (b *Broker) challengeLogin(ctx context.Context, c *cred.UsernamePassword, mind any) (any, error) {
	v, err := b.Root().CallRemote(ctx, "login", []byte(c.Username))
	if err != nil {
		return nil, err
	}
	t, ok := sequence(v)
	if !ok || len(t) != 2 {
		return nil, protoErr(nil, "login answered %s, not (challenge, challenger)", pyTypeName(v))
	}
	challenge, ok1 := t[0].([]byte)
	ch, ok2 := t[1].(*RemoteReference)
	if !ok1 || !ok2 {
		return nil, protoErr(nil, "login answered a malformed (challenge, challenger)")
	}
	defer ch.Release()
	return ch.CallRemote(ctx, "respond", cred.ChallengeResponse(c.Password, challenge), mind)
}
