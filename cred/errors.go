package cred

import "errors"

// ErrUnauthorizedLogin means the credentials were checked and refused:
// unknown user, wrong password, inactive account. Checkers return it (or
// an error wrapping it) without saying which, so that a client cannot
// probe for user names.
var ErrUnauthorizedLogin = errors.New("cred: unauthorized login")

// ErrUnhandledCredentials means no checker in the Portal accepts the kind
// of credentials presented.
var ErrUnhandledCredentials = errors.New("cred: unhandled credentials")

// UnhandledError is returned by Portal.Login when no checker accepts the
// credentials' kind. It matches ErrUnhandledCredentials with errors.Is.
type UnhandledError struct {
	Kind Kind
}

func (e *UnhandledError) Error() string {
	return "cred: no checker for credentials of kind " + string(e.Kind)
}

// Is makes errors.Is(err, ErrUnhandledCredentials) true.
func (e *UnhandledError) Is(target error) bool { return target == ErrUnhandledCredentials }

// ErrUnavailable means the credentials could not be checked at all: the
// checker's store (a database, an authentication service) did not
// answer, or not in time. It is not a refusal. A protocol tells the
// client to try again later and does not count the attempt as a failed
// login. *UnavailableError matches it with errors.Is.
var ErrUnavailable = errors.New("cred: credentials cannot be checked now")

// UnavailableError is what a checker returns when its store cannot be
// reached. Err is the cause, for the server's log; it is never shown to
// the client.
type UnavailableError struct {
	// Store names what could not be reached, in words a client may be
	// shown ("the user database", "the authentication server"). Empty
	// means the user database.
	Store string
	Err   error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return ErrUnavailable.Error()
	}
	return "cred: credential store unavailable: " + e.Err.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// MaxUsernameLen is the longest user name, in bytes, that Spread accepts.
// Longer names are refused before they are checked, stored, counted by a
// Throttle or logged.
const MaxUsernameLen = 256

// ErrUsernameTooLong is returned for a user name longer than
// MaxUsernameLen. It is not a refusal of credentials (it does not match
// ErrUnauthorizedLogin): the name could not belong to any user.
var ErrUsernameTooLong = errors.New("cred: user name longer than 256 bytes")
