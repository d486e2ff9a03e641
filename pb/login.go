package pb

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"sync"

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
// password login; a Twisted client sees an ordinary UnauthorizedLogin.
const NeedPasswordLogin = "this account needs Spread's password login (loginPassword, over TLS or loopback)"

type loginRoot struct {
	Referenceable
	b *Broker
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

// RemoteLogin starts a challenge login. A challenge is handed out even
// for unknown users, so the answer tells nothing.
func (r *loginRoot) RemoteLogin(username string) jelly.Tuple {
	ch := make([]byte, 16)
	if r.b.cfg.challenge != nil {
		copy(ch, r.b.cfg.challenge())
	} else if _, err := rand.Read(ch); err != nil {
		panic("pb: no randomness for a login challenge: " + err.Error())
	}
	c := &challenger{root: r, username: username, challenge: ch}
	return jelly.Tuple{ch, c}
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
	if !r.b.Secure() {
		r.b.cfg.log.Warn("pb: password login refused on an insecure connection", "peer", r.addr(), "user", username)
		return nil, &Error{Type: pyUnauthorizedLogin, Message: "password login needs TLS or a loopback connection", Parents: parentsOf(pyUnauthorizedLogin)}
	}
	return r.finish(ctx, &cred.UsernamePassword{Username: username, Password: password}, username, mind)
}

// finish checks credentials through the portal (throttled) and exports
// the avatar.
func (r *loginRoot) finish(ctx context.Context, creds cred.Credentials, username string, mind any) (any, error) {
	b := r.b
	addr := r.addr()
	if err := b.cfg.Throttle.Allow(username, addr); err != nil {
		b.cfg.log.Warn("pb: login throttled", "peer", addr, "user", username, "kind", string(creds.Kind()))
		return nil, cred.ErrUnauthorizedLogin
	}
	mindRef, _ := mind.(*RemoteReference)
	var mindArg any
	if mindRef != nil {
		mindArg = mindRef
	}
	id, avatar, logout, err := b.cfg.Portal.Login(ctx, creds, mindArg)
	if err != nil {
		if !errors.Is(err, cred.ErrUnhandledCredentials) {
			b.cfg.Throttle.Failure(username, addr)
		}
		b.cfg.log.Info("pb: login failed", "peer", addr, "user", username, "kind", string(creds.Kind()), "reason", err.Error())
		if errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrUnhandledCredentials) {
			return nil, err
		}
		return nil, cred.ErrUnauthorizedLogin
	}
	b.cfg.Throttle.Success(username, addr)
	if b.cfg.log.Enabled(ctx, slog.LevelInfo) { // the arguments cost allocations
		b.cfg.log.Info("pb: login", "peer", addr, "avatar", id, "kind", string(creds.Kind()))
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

// challenger answers one challenge; it can be used once.
type challenger struct {
	Referenceable
	root      *loginRoot
	username  string
	challenge []byte
	mu        sync.Mutex
	used      bool
}

// RemoteRespond checks the response to the challenge.
func (c *challenger) RemoteRespond(ctx context.Context, response []byte, mind any) (any, error) {
	c.mu.Lock()
	used := c.used
	c.used = true
	c.mu.Unlock()
	if used {
		return nil, cred.ErrUnauthorizedLogin
	}
	p := c.root.b.cfg.Portal
	if !p.Accepts(cred.KindChallenge) && p.Accepts(cred.KindPassword) {
		c.root.b.cfg.log.Warn("pb: challenge login cannot work here: the checker holds only password hashes; the client must use Spread's password login",
			"peer", c.root.addr(), "user", c.username)
		return nil, &Error{Type: pyUnauthorizedLogin, Message: NeedPasswordLogin}
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
func (b *Broker) Login(ctx context.Context, creds cred.Credentials, mind any) (*RemoteReference, error) {
	root := b.Root()
	var res any
	var err error
	switch c := creds.(type) {
	case cred.Anonymous, *cred.Anonymous:
		res, err = root.CallRemote(ctx, "loginAnonymous", mind)
	case *cred.UsernamePassword:
		if b.needsPassword.Load() {
			// The server said so on this connection: skip the challenge
			// (two round trips) that it refuses anyway.
			res, err = root.CallRemote(ctx, MethodLoginPassword, []byte(c.Username), c.Password, mind)
			break
		}
		res, err = b.challengeLogin(ctx, c, mind)
		var re *RemoteError
		if errors.As(err, &re) && re.Type == pyUnauthorizedLogin && re.Value == NeedPasswordLogin {
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
		return nil, err
	}
	ref, ok := res.(*RemoteReference)
	if !ok {
		return nil, protoErr(nil, "login answered %s, not a reference", pyTypeName(res))
	}
	return ref, nil
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
