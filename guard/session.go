package guard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Hash is the SHA-256 of a session id. Stores keep sessions under it and
// never see the id itself, so that a copy of the store does not give
// anyone a live session.
type Hash [32]byte

// Session is what a Store keeps for one logged-in session.
type Session struct {
	// AvatarID is the id the portal's checker returned at login.
	AvatarID string
	// Created is the time of the login; LastSeen the time of the latest
	// request the store was told about (see Store.Touch).
	Created, LastSeen time.Time
	// Stamp is the Stamper's value at login, or nil.
	Stamp []byte
}

// Store keeps sessions server-side. Implementations must be safe for
// concurrent use. MemoryStore and SQLStore are the two Spread provides.
type Store interface {
	// Create stores a new session.
	Create(ctx context.Context, h Hash, s Session) error
	// Get returns a session, or an error matching ErrNoSession.
	Get(ctx context.Context, h Hash) (Session, error)
	// Touch sets a session's LastSeen. An unknown session is no error.
	Touch(ctx context.Context, h Hash, lastSeen time.Time) error
	// Delete removes a session. An unknown session is no error.
	Delete(ctx context.Context, h Hash) error
	// Purge removes the sessions last seen before idleBefore or created
	// before createdBefore, and reports how many it removed.
	Purge(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)
	// Secret returns a random key of 32 bytes that stays the same for
	// the store's lifetime (for a shared store: for every front-end and
	// across restarts). The guard keys its stamps with it.
	Secret(ctx context.Context) ([]byte, error)
}

// idLen is the length of an encoded session id: 32 random bytes in
// unpadded base64url (TestIDLen checks it against base64).
const idLen = 43

// newID returns a new session id (256 bits from crypto/rand) and its
// hash.
func newID() (string, Hash) {
	var b [32]byte
	rand.Read(b[:]) // never fails (Go 1.24+: it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:]), sha256.Sum256(b[:])
}

// parseID returns the hash of a well-formed session id.
func parseID(s string) (Hash, bool) {
	if len(s) != idLen {
		return Hash{}, false
	}
	var in [idLen]byte // copying into it spares an allocation
	var b [32]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], in[:copy(in[:], s)])
	if err != nil || n != 32 {
		return Hash{}, false
	}
	return sha256.Sum256(b[:]), true
}

// MemoryStore keeps sessions in this process: they end when it exits.
// The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	secret []byte

	mu       sync.RWMutex
	sessions map[Hash]Session
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{secret: make([]byte, 32), sessions: make(map[Hash]Session)}
	rand.Read(s.secret)
	return s
}

// Create stores s.
func (m *MemoryStore) Create(_ context.Context, h Hash, s Session) error {
	s.Stamp = append([]byte(nil), s.Stamp...)
	m.mu.Lock()
	m.sessions[h] = s
	m.mu.Unlock()
	return nil
}

// Get returns the session stored under h.
func (m *MemoryStore) Get(_ context.Context, h Hash) (Session, error) {
	m.mu.RLock()
	s, ok := m.sessions[h]
	m.mu.RUnlock()
	if !ok {
		return Session{}, ErrNoSession
	}
	return s, nil
}

// Touch sets LastSeen.
func (m *MemoryStore) Touch(_ context.Context, h Hash, t time.Time) error {
	m.mu.Lock()
	if s, ok := m.sessions[h]; ok && t.After(s.LastSeen) {
		s.LastSeen = t
		m.sessions[h] = s
	}
	m.mu.Unlock()
	return nil
}

// Delete removes the session.
func (m *MemoryStore) Delete(_ context.Context, h Hash) error {
	m.mu.Lock()
	delete(m.sessions, h)
	m.mu.Unlock()
	return nil
}

// Purge removes expired sessions.
func (m *MemoryStore) Purge(_ context.Context, idleBefore, createdBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for h, s := range m.sessions {
		if s.LastSeen.Before(idleBefore) || s.Created.Before(createdBefore) {
			delete(m.sessions, h)
			n++
		}
	}
	return n, nil
}

// Secret returns the store's random key.
func (m *MemoryStore) Secret(context.Context) ([]byte, error) { return m.secret, nil }

// Len reports how many sessions the store holds.
func (m *MemoryStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.sessions)
}
