package checkers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"github.com/gospread/spread/cred"
)

// InMemory checks user names and plaintext passwords held in memory. It
// accepts cred.KindPassword and cred.KindChallenge (any
// cred.PasswordProver). User names are compared exactly (case matters)
// and the avatar id is the user name. The empty user name never logs in,
// since its avatar id would be cred.AnonymousID. It is safe for
// concurrent use.
//
// It suits tests, examples and small fixed deployments; the passwords
// live in the process's memory in the clear.
type InMemory struct {
	mu    sync.RWMutex
	users map[string][]byte
	dummy []byte // compared against for unknown users
}

// NewInMemory returns a checker for users, a map from user name to
// plaintext password. The map is copied.
func NewInMemory(users map[string]string) *InMemory {
	m := &InMemory{users: make(map[string][]byte, len(users)), dummy: randomSecret()}
	for u, p := range users {
		m.users[u] = []byte(p)
	}
	return m
}

// AddUser adds a user or replaces the user's password.
func (m *InMemory) AddUser(user, password string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[user] = []byte(password)
}

// RemoveUser removes a user. Removing an unknown user does nothing.
func (m *InMemory) RemoveUser(user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, user)
}

// Kinds returns cred.KindPassword and cred.KindChallenge.
func (m *InMemory) Kinds() []cred.Kind {
	return []cred.Kind{cred.KindPassword, cred.KindChallenge}
}

// CheckCredentials returns the user name if c proves the user's password,
// cred.ErrUnauthorizedLogin if it does not or the user is unknown, and a
// *cred.UnhandledError for credentials that are not a
// cred.PasswordProver.
func (m *InMemory) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	p, err := passwordProver(c)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.RLock()
	stored, known := m.users[p.User()]
	m.mu.RUnlock()
	if !known || p.User() == "" {
		known = false
		stored = m.dummy
	}
	if matchPlain(p, stored) && known {
		return p.User(), nil
	}
	return "", cred.ErrUnauthorizedLogin
}

// passwordProver returns c as a PasswordProver of an accepted kind, or a
// *cred.UnhandledError.
func passwordProver(c cred.Credentials) (cred.PasswordProver, error) {
	if c == nil {
		return nil, &cred.UnhandledError{}
	}
	p, ok := c.(cred.PasswordProver)
	if !ok || (c.Kind() != cred.KindPassword && c.Kind() != cred.KindChallenge) {
		return nil, &cred.UnhandledError{Kind: c.Kind()}
	}
	return p, nil
}

// plainPassword returns c's plaintext password, or a *cred.UnhandledError
// for credentials that do not carry one.
func plainPassword(c cred.Credentials) (*cred.UsernamePassword, error) {
	if c == nil {
		return nil, &cred.UnhandledError{}
	}
	up, ok := c.(*cred.UsernamePassword)
	if !ok || up == nil || c.Kind() != cred.KindPassword {
		return nil, &cred.UnhandledError{Kind: c.Kind()}
	}
	return up, nil
}

// matchPlain reports whether p proves the plaintext password stored.
//
// For a plain password it compares SHA-256 digests in constant time
// rather than calling CheckPassword, because a constant-time compare of
// the raw bytes still returns early when the lengths differ and so would
// reveal the stored password's length. Challenge responses are digests
// of fixed length already.
func matchPlain(p cred.PasswordProver, stored []byte) bool {
	if up, ok := p.(*cred.UsernamePassword); ok {
		a := sha256.Sum256(up.Password)
		b := sha256.Sum256(stored)
		return subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	return p.CheckPassword(stored)
}

// randomSecret returns a secret nobody knows, for the comparisons made
// on behalf of unknown users.
func randomSecret() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return b
}
