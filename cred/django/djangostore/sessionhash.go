package djangostore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gospread/spread/cred"
)

// ErrInactive is returned by SessionStamp for a user whose is_active is
// false.
var ErrInactive = errors.New("django: user is inactive")

// SessionStamp returns HMAC-SHA256(key, the user's stored password
// value), in the spirit of Django's session auth hash: a web session
// keeps the stamp of its login and ends when the stamp changes, that is
// when the password was changed (or made unusable). It costs one
// indexed SELECT and one HMAC, never a password hash, so it can run on
// every request. An inactive user gives an error matching ErrInactive,
// an unknown one ErrNoSuchUser; both also match cred.ErrUnauthorizedLogin
// (the user may no longer log in). Other errors are the database's.
// Its signature is the one package guard's Stamper asks for.
//
// key should be a secret of at least 32 random bytes; the stamp is as
// sensitive as an HMAC of the password hash under that key.
func (s *Store) SessionStamp(ctx context.Context, username string, key []byte) ([]byte, error) {
	if !utf8.ValidString(username) || strings.ContainsRune(username, 0) {
		return nil, fmt.Errorf("%w: %q (%w)", ErrNoSuchUser, username, cred.ErrUnauthorizedLogin)
	}
	var (
		encoded string
		active  bool
	)
	err := s.db.QueryRowContext(ctx,
		s.q(`SELECT "password", "is_active" FROM `+s.table+` WHERE "username" = ?`),
		username).Scan(&encoded, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q (%w)", ErrNoSuchUser, username, cred.ErrUnauthorizedLogin)
	}
	if err != nil {
		return nil, fmt.Errorf("django: look up user: %w", err)
	}
	if !active {
		return nil, fmt.Errorf("%w: %q (%w)", ErrInactive, username, cred.ErrUnauthorizedLogin)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("spread session stamp\x00"))
	m.Write([]byte(encoded))
	return m.Sum(nil), nil
}
