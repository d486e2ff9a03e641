package checkers

import (
	"context"

	"github.com/gospread/spread/cred"
)

// Anonymous admits anyone who presents cred.KindAnonymous credentials,
// as cred.AnonymousID. Register it with a Portal to allow anonymous
// logins; the realm decides what an anonymous avatar may do.
type Anonymous struct{}

// NewAnonymous returns an anonymous checker.
func NewAnonymous() *Anonymous { return &Anonymous{} }

// Kinds returns cred.KindAnonymous.
func (*Anonymous) Kinds() []cred.Kind { return []cred.Kind{cred.KindAnonymous} }

// CheckCredentials returns cred.AnonymousID for anonymous credentials and
// a *cred.UnhandledError for any other kind.
func (*Anonymous) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	if c == nil {
		return "", &cred.UnhandledError{}
	}
	if c.Kind() != cred.KindAnonymous {
		return "", &cred.UnhandledError{Kind: c.Kind()}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return cred.AnonymousID, nil
}
