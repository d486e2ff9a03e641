package cred

import (
	"context"
	"errors"
)

// Interface names the kind of avatar a protocol asks a realm for, as
// Twisted's requestAvatar is asked for IPerspective or IResource. One
// realm can then serve the same users to several protocols: a
// Perspective Broker login asks for IPerspective, a web login (package
// guard) for IHTTPHandler.
type Interface string

// The interfaces Spread's protocols ask for.
const (
	// IPerspective: a Perspective Broker avatar (what Realm.RequestAvatar
	// returns). Portal.Login asks for it.
	IPerspective Interface = "perspective"
	// IHTTPHandler: an avatar that is a net/http.Handler serving that
	// user's pages. Package guard asks for it.
	IHTTPHandler Interface = "http.Handler"
)

// ErrUnsupportedInterface means the realm cannot give an avatar for the
// interface asked. *InterfaceError matches it with errors.Is.
var ErrUnsupportedInterface = errors.New("cred: realm does not serve that interface")

// InterfaceError is returned when a realm has no avatar for an
// interface.
type InterfaceError struct {
	Interface Interface
}

func (e *InterfaceError) Error() string {
	return "cred: realm does not serve interface " + string(e.Interface)
}

// Is makes errors.Is(err, ErrUnsupportedInterface) true.
func (e *InterfaceError) Is(target error) bool { return target == ErrUnsupportedInterface }

// InterfaceRealm is a Realm that can give avatars for several
// interfaces. RequestAvatarFor returns an avatar for iface, or an error
// matching ErrUnsupportedInterface when it has none; its logout follows
// the rules of Realm.RequestAvatar. The Portal uses RequestAvatarFor for
// every interface, IPerspective included, when its realm implements it.
type InterfaceRealm interface {
	Realm
	RequestAvatarFor(ctx context.Context, avatarID string, mind any, iface Interface) (avatar any, logout func(), err error)
}

// InterfaceRealmFunc adapts a function to InterfaceRealm. Its
// RequestAvatar asks for IPerspective.
type InterfaceRealmFunc func(ctx context.Context, avatarID string, mind any, iface Interface) (any, func(), error)

// RequestAvatar calls f for IPerspective.
func (f InterfaceRealmFunc) RequestAvatar(ctx context.Context, avatarID string, mind any) (any, func(), error) {
	return f(ctx, avatarID, mind, IPerspective)
}

// RequestAvatarFor calls f.
func (f InterfaceRealmFunc) RequestAvatarFor(ctx context.Context, avatarID string, mind any, iface Interface) (any, func(), error) {
	return f(ctx, avatarID, mind, iface)
}

// requestAvatar asks realm for avatarID's avatar for iface. A plain
// Realm serves IPerspective only.
func requestAvatar(ctx context.Context, realm Realm, avatarID string, mind any, iface Interface) (any, func(), error) {
	var (
		avatar any
		logout func()
		err    error
	)
	switch r := realm.(type) {
	case InterfaceRealm:
		avatar, logout, err = r.RequestAvatarFor(ctx, avatarID, mind, iface)
	default:
		if iface != IPerspective {
			return nil, nil, &InterfaceError{Interface: iface}
		}
		avatar, logout, err = realm.RequestAvatar(ctx, avatarID, mind)
	}
	if err != nil {
		return nil, nil, err
	}
	if avatar == nil {
		if logout != nil {
			logout()
		}
		return nil, nil, errors.New("cred: realm returned no avatar")
	}
	return avatar, logout, nil
}

// LoginFor is Login for an avatar of interface iface: it checks creds
// and asks the realm for that user's avatar for iface. Login is
// LoginFor(ctx, creds, mind, IPerspective).
func (p *Portal) LoginFor(ctx context.Context, creds Credentials, mind any, iface Interface) (avatarID string, avatar any, logout func(), err error) {
	id, err := p.check(ctx, creds)
	if err != nil {
		return "", nil, nil, err
	}
	avatar, logout, err = requestAvatar(ctx, p.realm, id, mind, iface)
	if err != nil {
		return "", nil, nil, err
	}
	return id, avatar, logout, nil
}

// Resume asks the realm for the avatar of avatarID for iface without
// checking credentials. It is for a protocol that checked them earlier
// and kept the avatar id in a session (package guard, after a restart or
// on another front-end). Never call it with an id that did not come out
// of a checker.
func (p *Portal) Resume(ctx context.Context, avatarID string, mind any, iface Interface) (avatar any, logout func(), err error) {
	return requestAvatar(ctx, p.realm, avatarID, mind, iface)
}
