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
// This package imports only the standard library.
package cred
