package djangostore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django"
)

func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// Kinds returns cred.KindPassword: a Store verifies plaintext passwords
// against stored hashes and cannot answer an MD5 challenge.
func (s *Store) Kinds() []cred.Kind { return []cred.Kind{cred.KindPassword} }

// CheckCredentials implements cred.Checker for *cred.UsernamePassword. The avatar id is the username. Other
// credentials give an error matching cred.ErrUnhandledCredentials; a
// refusal gives one matching cred.ErrUnauthorizedLogin. See Check.
func (s *Store) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	up, ok := c.(*cred.UsernamePassword)
	if !ok || up == nil {
		var k cred.Kind
		if c != nil {
			k = c.Kind()
		}
		return "", &cred.UnhandledError{Kind: k}
	}
	if err := s.Check(ctx, up.Username, up.Password); err != nil {
		return "", err
	}
	return up.Username, nil
}

// Check applies the rules of Django's ModelBackend.authenticate:
//
//   - the username must match exactly (the column's own comparison; on
//     SQLite and PostgreSQL that is case-sensitive);
//   - the password must verify against the stored hash (see django.Verify);
//   - the user must be active: an inactive user is refused even with the
//     right password, after the password has been checked in full.
//
// An unknown user, an unusable password or a hash Spread cannot read
// cost one pbkdf2_sha256 at Config.Iterations, as Django's dummy hash
// does; a wrong password against an older, cheaper pbkdf2_sha256 hash is
// topped up to the current count. So the time a refusal takes does not
// tell which of these happened.
//
// On success (and only then: Django also re-hashes for an inactive
// user who typed the right password, Spread does not) Check sets
// last_login to the time of this login, and with Config.Rehash replaces
// a hash Django would replace (django.MustUpdate) by a new pbkdf2_sha256 one.
// Nothing is written with Config.ReadOnly.
//
// The new hash is written before Check returns. last_login is not:
// Check records it and returns, and a background goroutine (which runs
// only while writes are pending) writes every recorded login in one
// transaction, the newest time per user winning. Until then a reader of
// the table sees the previous value; Flush waits for the writes and
// returns their errors, Close flushes them. If the process dies first,
// those last_login values are lost (the logins themselves are not
// affected). At most 4096 users are pending at once: past that, a
// successful Check waits for the batch being written (or for ctx, whose
// end then fails the login with its error), so memory stays bounded
// when the database stalls.
//
// Check returns nil on success and an error matching
// cred.ErrUnauthorizedLogin on refusal. When the database cannot answer
// (an error from it, or no answer within Config.QueryTimeout), Check
// returns a *cred.UnavailableError (matching cred.ErrUnavailable) that
// wraps the cause: the password was not checked, and a login protocol
// must not count the attempt as a failure.
func (s *Store) Check(ctx context.Context, username string, password []byte) error {
	if !utf8.ValidString(username) || strings.ContainsRune(username, 0) {
		// No such name can be stored (PostgreSQL would reject the query).
		s.dummyHash()
		return cred.ErrUnauthorizedLogin
	}
	var (
		id      int64
		encoded string
		active  bool
	)
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	err := s.db.QueryRowContext(qctx,
		s.q(`SELECT "id", "password", "is_active" FROM `+s.table+` WHERE "username" = ?`),
		username).Scan(&id, &encoded, &active)
	cancel()
	if errors.Is(err, sql.ErrNoRows) {
		s.dummyHash()
		return cred.ErrUnauthorizedLogin
	}
	if err != nil {
		return unavailable("look up user", err)
	}
	if !django.IsUsable(encoded) {
		s.dummyHash()
		return cred.ErrUnauthorizedLogin
	}
	ok, verr := django.Verify(password, encoded)
	if verr != nil {
		// Unknown or unsupported format: Django also runs its dummy hash.
		s.dummyHash()
		return fmt.Errorf("%w (%v)", cred.ErrUnauthorizedLogin, verr)
	}
	mustUpdate := django.MustUpdate(encoded, s.cfg.Iterations)
	if !ok {
		if mustUpdate {
			django.HardenRuntime(password, encoded, s.cfg.Iterations)
		}
		return cred.ErrUnauthorizedLogin
	}
	if !active {
		return cred.ErrUnauthorizedLogin
	}
	if s.cfg.ReadOnly {
		return nil
	}
	now := time.Now()
	if s.cfg.Rehash && mustUpdate {
		// Replace the hash only if nobody changed it since we read it.
		newHash := django.MakePasswordIterations(password, s.cfg.Iterations)
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		_, err = s.db.ExecContext(qctx, s.q(`UPDATE `+s.table+` SET `+
			`"password" = CASE WHEN "password" = ? THEN ? ELSE "password" END WHERE "id" = ?`),
			encoded, newHash, id)
		cancel()
		if err != nil {
			return unavailable("re-hash password", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	if err := s.recordLogin(rctx, id, now); err != nil {
		return &cred.UnavailableError{Err: err}
	}
	return nil
}

// unavailable wraps a database error of a login check: the store could
// not answer, which is not a refusal.
func unavailable(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer from the database in time: %w", err)
	}
	return &cred.UnavailableError{Err: fmt.Errorf("django: %s: %w", what, err)}
}

// dummyPassword returns 32 random bytes: the password of a dummy hash.
func dummyPassword() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// dummyHash spends what one default hash costs.
func (s *Store) dummyHash() {
	django.MakePasswordIterations(dummyPassword(), s.cfg.Iterations)
}
