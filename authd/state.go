package authd

import (
	"context"
	"encoding/hex"
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
	// id is the state's id: the prefix of every handle it issues
	// (handlePrefix). A memory store has a random one; the SQL store
	// keeps one in the database, so that every process sharing it has
	// the same.
	id() string
	// liveHandles returns which of handles (all issued by this state)
	// belong to a live session and were given to caller.
	liveHandles(ctx context.Context, caller string, handles []string) (map[string]bool, error)
	close()
}

var _ stateStore = (*memStore)(nil)

// Revocation handles are the issuing state's id, a dot, and 128
// random bits in hex. The id lets authd tell a handle it issued (which
// it can judge: live, or ended) from one it did not (another process's
// memory, an authd restarted with memory state, an upstream authd,
// a handle from before handles carried an id), which it cannot.
const (
	stateIDLen = 16 // hex characters: 64 random bits
	// maxHandleLen bounds a handle a service sends back.
	maxHandleLen = 128
)

// newStateID returns a random state id.
func newStateID() string { return hex.EncodeToString(randomBytes(stateIDLen / 2)) }

// handlePrefix is what the handles of the state with id start with.
func handlePrefix(id string) string { return id + "." }

// newStateHandle returns a new revocation handle of the state id.
func newStateHandle(id string) string { return handlePrefix(id) + newHandle() }
