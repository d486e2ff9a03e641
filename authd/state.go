package authd

import (
	"context"
	"time"
)

// stateStore keeps authd's sessions (user logins) and tickets: in
// memory for one authd process (memStore), or in PostgreSQL for several
// that serve the same users (sqlStore). A method that returns an error
// could not reach the store; the caller answers "cannot check now",
// never a refusal. A nil session from a redemption is a refusal.
type stateStore interface {
	// addSession records a new login of user, lasting ttl.
	addSession(ctx context.Context, user string, ttl time.Duration) (*session, error)
	// mint issues a ticket of s for service, valid for ttl
	// (errSessionEnded, errTooManyTickets).
	mint(ctx context.Context, s *session, service string, ttl time.Duration) (string, error)
	// redeemChallenge consumes the live ticket of user for service
	// whose MD5 with challenge gives response.
	redeemChallenge(ctx context.Context, user, service string, challenge, response []byte) (*session, error)
	// redeemTicket consumes the live ticket tk of user for service.
	redeemTicket(ctx context.Context, user, service string, tk []byte) (*session, error)
	// handle returns s's revocation handle for service and notes that
	// caller is to be told when s ends; "" when s has ended.
	handle(ctx context.Context, s *session, service, caller string) (string, error)
	// end ends s and returns the revocations to send; nil when it had
	// ended already.
	end(ctx context.Context, s *session) (map[notice]bool, error)
	// detach notes that s's authd connection ended.
	detach(ctx context.Context, s *session)
	// userSessions returns user's live sessions.
	userSessions(ctx context.Context, user string) ([]*session, error)
	// sweep purges expired tickets and returns the expired sessions,
	// to be ended.
	sweep(ctx context.Context) ([]*session, error)
	// counts returns the live sessions and tickets.
	counts(ctx context.Context) (sessions, tickets int, err error)
	close()
}

var _ stateStore = (*memStore)(nil)
