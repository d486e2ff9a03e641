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
