package cred

import (
	"context"
	"sync"
)

// Checker verifies credentials and returns the avatar id of the user
// they prove, or an error (normally ErrUnauthorizedLogin).
type Checker interface {
	CheckCredentials(ctx context.Context, c Credentials) (avatarID string, err error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, c Credentials) (string, error)

// CheckCredentials calls f.
func (f CheckerFunc) CheckCredentials(ctx context.Context, c Credentials) (string, error) {
	return f(ctx, c)
}

// KindsChecker is implemented by checkers that know which kinds of
// credentials they accept. Portal.Register uses it when no kinds are
// given explicitly.
type KindsChecker interface {
	Checker
	Kinds() []Kind
}

// Realm turns an authenticated avatar id into an avatar.
//
// mind is the client's own object handed over at login (for Perspective
// Broker a remote reference to it), or nil. logout is called exactly once
// by the protocol when the session ends; it may be nil.
//
// RequestAvatar gives Perspective Broker avatars (IPerspective). A realm
// that also serves the web, or other protocols, implements
// InterfaceRealm as well.
type Realm interface {
	RequestAvatar(ctx context.Context, avatarID string, mind any) (avatar any, logout func(), err error)
}

// RealmFunc adapts a function to Realm.
type RealmFunc func(ctx context.Context, avatarID string, mind any) (any, func(), error)

// RequestAvatar calls f.
func (f RealmFunc) RequestAvatar(ctx context.Context, avatarID string, mind any) (any, func(), error) {
	return f(ctx, avatarID, mind)
}

// AnonymousID is the avatar id an anonymous checker returns. Realms that
// admit anonymous users test for it.
const AnonymousID = ""

// Portal joins checkers and a realm. It is safe for concurrent use.
type Portal struct {
	realm Realm

	mu       sync.RWMutex
	checkers map[Kind]Checker
	order    []Kind
}

// NewPortal returns a Portal for realm with the given checkers, each
// registered for the kinds it reports through KindsChecker.
func NewPortal(realm Realm, checkers ...Checker) *Portal {
	p := &Portal{realm: realm, checkers: make(map[Kind]Checker)}
	for _, c := range checkers {
		p.Register(c)
	}
	return p
}

// Register adds a checker for the given kinds. Without kinds, the
// checker must implement KindsChecker. A later registration for a kind
// replaces an earlier one.
func (p *Portal) Register(c Checker, kinds ...Kind) {
	if len(kinds) == 0 {
		if kc, ok := c.(KindsChecker); ok {
			kinds = kc.Kinds()
		}
	}
	if len(kinds) == 0 {
		panic("cred: Register needs kinds for a checker that does not implement KindsChecker")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range kinds {
		if _, ok := p.checkers[k]; !ok {
			p.order = append(p.order, k)
		}
		p.checkers[k] = c
	}
}

// Kinds lists the kinds of credentials the portal can check, in the
// order they were first registered.
func (p *Portal) Kinds() []Kind {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]Kind(nil), p.order...)
}

// Accepts reports whether some checker handles kind k.
func (p *Portal) Accepts(k Kind) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.checkers[k]
	return ok
}

// Login checks creds and asks the realm for the avatar. On success the
// caller owns logout and must call it exactly once when the session
// ends. A user name longer than MaxUsernameLen gives ErrUsernameTooLong
// before any checker sees it. Checker and realm errors are returned as
// they are: a refusal matches ErrUnauthorizedLogin, a store that did not
// answer matches ErrUnavailable, and anything else is for the server's
// log; a protocol should show the client only a generic message.
func (p *Portal) Login(ctx context.Context, creds Credentials, mind any) (avatarID string, avatar any, logout func(), err error) {
	return p.LoginFor(ctx, creds, mind, IPerspective)
}

// check runs the checker registered for creds' kind.
func (p *Portal) check(ctx context.Context, creds Credentials) (string, error) {
	if creds == nil {
		return "", &UnhandledError{Kind: ""}
	}
	if u, ok := creds.(interface{ User() string }); ok && len(u.User()) > MaxUsernameLen {
		return "", ErrUsernameTooLong
	}
	p.mu.RLock()
	c, ok := p.checkers[creds.Kind()]
	p.mu.RUnlock()
	if !ok {
		return "", &UnhandledError{Kind: creds.Kind()}
	}
	return c.CheckCredentials(ctx, creds)
}
