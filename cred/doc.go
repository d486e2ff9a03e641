// Package cred decides who gets which object.
//
// It is a Go rendering of Twisted's cred layer. A [Portal] receives
// [Credentials], asks a [Checker] that can verify their [Kind] for an
// avatar id, and then asks its [Realm] for that user's avatar. The realm
// also returns a logout function; the Portal does not call it, the
// protocol that performed the login does (exactly once).
//
// Credentials come in three kinds today:
//
//   - [UsernamePassword]: the client sent the password itself. Any
//     checker can verify it, including checkers that hold only salted
//     hashes (Django, htpasswd).
//   - [UsernameChallenge]: Perspective Broker's MD5 challenge/response.
//     Only a checker that knows the password, or its unsalted MD5, can
//     verify it.
//   - [Anonymous]: no proof at all; only an anonymous checker accepts it.
//
// Tokens and other proofs can be added as new kinds without changing the
// Portal: a checker names the kinds it accepts.
//
// Checkers must compare secrets in constant time and must spend about as
// long on an unknown user as on a wrong password. Errors are
// [ErrUnauthorizedLogin] (the credentials were checked and refused) and
// [ErrUnhandledCredentials] (no checker accepts that kind). Neither error
// message ever contains a password.
//
// # One realm, several protocols
//
// Twisted asks a realm for an avatar for an interface (IPerspective for
// Perspective Broker, IResource for the web), so that one realm and one
// user database serve every protocol. Spread's [Interface] names what
// the protocol wants: [IPerspective] (Perspective Broker, what
// [Portal.Login] asks for) or [IHTTPHandler] (an http.Handler for that
// user; package guard asks for it through [Portal.LoginFor]). A realm
// that serves more than PB implements [InterfaceRealm] (or is an
// [InterfaceRealmFunc]); a plain [Realm] keeps working and serves
// IPerspective only, other interfaces failing with an error matching
// [ErrUnsupportedInterface]. [Portal.Resume] gives the avatar for an id
// that was checked earlier (a web session resumed after a restart)
// without checking credentials again.
//
// This package imports only the standard library.
package cred
