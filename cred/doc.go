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
// [ErrUnauthorizedLogin] (the credentials were checked and refused),
// [ErrUnhandledCredentials] (no checker accepts that kind) and
// [ErrUnavailable] (the checker's store could not be reached, or not in
// time: the credentials were not checked; return an [*UnavailableError]
// wrapping the cause). A store that cannot answer is not a wrong
// password: a protocol tells the client to retry later and does not count
// the attempt. No error message ever contains a password. User names
// longer than [MaxUsernameLen] (256 bytes) are refused by the Portal with
// [ErrUsernameTooLong] before any checker sees them.
//
// # Failed logins
//
// A [Throttle] stops password guessing without becoming a way to lock
// users out. Its policy, with the defaults of [ThrottleConfig]:
//
//   - A (user name, address) pair is locked out after 5 failures within
//     a minute, for a minute, doubling with each further lockout up to 15
//     minutes. Other addresses are not affected: a guesser at one
//     address cannot lock the user out of hers.
//   - An address is locked out, for every user name, after 100 failures
//     within a minute. Only failures spend this budget, so many users
//     behind one NAT who log in correctly, or mistype now and then, never
//     reach it.
//   - A user name that fails from many addresses is slowed, never
//     locked: after 10 failures within a minute, each further failed
//     login is answered late (1 s, doubling up to 30 s). Correct
//     passwords are answered at once. A correct password from an address
//     that is not misbehaving always works.
//   - An attempt is reserved before the credentials are checked
//     ([Throttle.Begin]), and attempts being checked count against what
//     the pair and the address have left: 100 simultaneous wrong guesses
//     for one user from one address get 5 checks. An attempt whose
//     credentials could not be checked ([ErrUnavailable]) is cancelled
//     and does not count.
//   - Names and addresses are kept as fixed-size hashes, at most 10,000
//     keys in all; IPv6 addresses count per /64.
//
// A refused attempt gets a [*ThrottledError] (matching [ErrThrottled])
// that says when to retry. Package pb applies all this to every login and
// tells clients, Twisted ones included, why a login was refused.
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
