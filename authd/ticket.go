package authd

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
)

// Tickets: 32 random bytes from crypto/rand (256 bits), written as 43
// characters of unpadded base64url. A ticket is kept only as two
// digests: its SHA-256, by which a password-login redemption looks it
// up, and its MD5, from which the answer to a Twisted challenge is
// computed (PB's challenge response is MD5(MD5(password) + challenge),
// so MD5(ticket) is what a challenge can be checked against).
const (
	ticketBytes = 32
	// TicketLen is the length of a ticket string.
	TicketLen = 43
	// maxTicketsPerSession caps the unredeemed tickets of one session.
	maxTicketsPerSession = 64
	// maxSessionsPerUser caps the sessions authd keeps for one user: the
	// ones whose connection ended are kept until they expire, so that
	// their broker sessions can be revoked, but no more than this many.
	maxSessionsPerUser = 256
)

type ticket struct {
	sum     [sha256.Size]byte
	md5     [md5.Size]byte
	user    string
	service string
	sess    *session
	expires time.Time
}

// session is one login at authd: the user's avatar there, its tickets,
// and the handles of the services that redeemed one of them.
type session struct {
	id       string // the SQL store's key; "" in memory
	user     string
	expires  time.Time
	timer    *time.Timer
	ended    bool
	attached bool              // the user's authd connection is up
	tickets  map[*ticket]bool  // unredeemed
	handles  map[string]string // service -> the handle its sessions have
	notify   map[notice]bool   // who to tell when the session ends
	upstream bool              // logged in through the upstream authd
}

// key identifies s: its id in the SQL store, itself in memory.
func (s *session) key() any {
	if s.id != "" {
		return s.id
	}
	return s
}

// notice is a revocation to send: the caller's mind gets
// revoke(user, handle). The caller is the service that redeemed, a
// proxy for the service the handle is for.
type notice struct{ caller, handle string }

// ticketKey indexes the tickets of a user for a service.
type ticketKey struct{ user, service string }

// memStore holds sessions and tickets in memory: the state of one
// authd process. Its methods take the lock; none calls out, none fails.
type memStore struct {
	stateID  string // random: no other store, nor this process after a restart, has it
	mu       sync.Mutex
	byHash   map[[sha256.Size]byte]*ticket
	byUser   map[ticketKey]map[*ticket]bool
	sessions map[string]map[*session]bool // by user
	byHandle map[string]*session          // the sessions kept, by their handles
}

func newMemStore() *memStore {
	return &memStore{
		stateID:  newStateID(),
		byHash:   map[[sha256.Size]byte]*ticket{},
		byUser:   map[ticketKey]map[*ticket]bool{},
		sessions: map[string]map[*session]bool{},
		byHandle: map[string]*session{},
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("authd: no randomness: " + err.Error())
	}
	return b
}

// newHandle returns a revocation handle: 128 random bits in hex.
func newHandle() string { return hex.EncodeToString(randomBytes(16)) }

// addSession records a new session of user.
func (st *memStore) addSession(_ context.Context, user string, ttl time.Duration) (*session, error) {
	expires := time.Now().Add(ttl)
	s := &session{user: user, expires: expires, attached: true, tickets: map[*ticket]bool{}, handles: map[string]string{}, notify: map[notice]bool{}}
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.sessions[user]
	if m == nil {
		m = map[*session]bool{}
		st.sessions[user] = m
	}
	if len(m) >= maxSessionsPerUser {
		// Forget the detached session that ends first: its broker
		// sessions can then be ended only by revoking the user.
		var oldest *session
		for o := range m {
			if !o.attached && (oldest == nil || o.expires.Before(oldest.expires)) {
				oldest = o
			}
		}
		if oldest != nil {
			oldest.ended = true
			if oldest.timer != nil {
				oldest.timer.Stop()
			}
			delete(m, oldest)
			st.forgetHandlesLocked(oldest)
		}
	}
	m[s] = true
	return s, nil
}

// mint issues a ticket of s for service, valid for ttl.
func (st *memStore) mint(_ context.Context, s *session, service string, ttl time.Duration) (string, error) {
	raw := randomBytes(ticketBytes)
	str := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	t := &ticket{sum: sha256.Sum256([]byte(str)), md5: md5.Sum([]byte(str)), user: s.user, service: service, sess: s, expires: now.Add(ttl)}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.ended {
		return "", errSessionEnded
	}
	for old := range s.tickets {
		if !now.Before(old.expires) {
			st.dropLocked(old)
		}
	}
	if len(s.tickets) >= maxTicketsPerSession {
		return "", errTooManyTickets
	}
	st.byHash[t.sum] = t
	k := ticketKey{t.user, service}
	m := st.byUser[k]
	if m == nil {
		m = map[*ticket]bool{}
		st.byUser[k] = m
	}
	m[t] = true
	s.tickets[t] = true
	return str, nil
}

// dropLocked forgets t.
func (st *memStore) dropLocked(t *ticket) {
	delete(st.byHash, t.sum)
	k := ticketKey{t.user, t.service}
	if m := st.byUser[k]; m != nil {
		delete(m, t)
		if len(m) == 0 {
			delete(st.byUser, k)
		}
	}
	delete(t.sess.tickets, t)
}

// redeemChallenge consumes the ticket of user for service whose MD5,
// with challenge, gives response. Every live ticket of that user for
// that service is compared, in constant time, whatever matches.
func (st *memStore) redeemChallenge(_ context.Context, user, service string, challenge, response []byte) (*session, error) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	var found *ticket
	var want [md5.Size]byte
	for t := range st.byUser[ticketKey{user, service}] {
		if !now.Before(t.expires) {
			st.dropLocked(t)
			continue
		}
		h := md5.New()
		h.Write(t.md5[:])
		h.Write(challenge)
		h.Sum(want[:0])
		if subtle.ConstantTimeCompare(want[:], response) == 1 {
			found = t
		}
	}
	if found == nil {
		return nil, nil
	}
	st.dropLocked(found)
	return found.sess, nil
}

// redeemTicket consumes ticket if it belongs to user and service and
// is live.
func (st *memStore) redeemTicket(_ context.Context, user, service string, tk []byte) (*session, error) {
	sum := sha256.Sum256(tk)
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	t := st.byHash[sum]
	if t == nil {
		return nil, nil
	}
	if !now.Before(t.expires) {
		st.dropLocked(t)
		return nil, nil
	}
	if t.user != user || t.service != service {
		return nil, nil
	}
	st.dropLocked(t)
	return t.sess, nil
}

// handle returns s's handle for service, made on first use, and notes
// that caller is to be told when s ends; "" when s has ended (a ticket
// redeemed while its session ended).
func (st *memStore) handle(_ context.Context, s *session, service, caller string) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.ended {
		return "", nil
	}
	h := s.handles[service]
	if h == "" {
		h = newStateHandle(st.stateID)
		s.handles[service] = h
		st.byHandle[h] = s
	}
	s.notify[notice{caller, h}] = true
	return h, nil
}

// end ends s and returns the revocations to send; nil if it had ended
// already.
func (st *memStore) end(_ context.Context, s *session) (map[notice]bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.ended {
		return nil, nil
	}
	s.ended = true
	for t := range s.tickets {
		st.dropLocked(t)
	}
	st.forgetLocked(s)
	if s.timer != nil {
		s.timer.Stop()
	}
	return s.notify, nil
}

// detach notes that s's authd connection ended: its unredeemed tickets
// go; the session stays until it ends (its broker sessions can still
// be revoked), unless no ticket of it was ever redeemed.
func (st *memStore) detach(_ context.Context, s *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.attached = false
	for t := range s.tickets {
		st.dropLocked(t)
	}
	if len(s.handles) == 0 && !s.ended {
		s.ended = true
		st.forgetLocked(s)
		if s.timer != nil {
			s.timer.Stop()
		}
	}
}

func (st *memStore) forgetLocked(s *session) {
	if m := st.sessions[s.user]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(st.sessions, s.user)
		}
	}
	st.forgetHandlesLocked(s)
}

func (st *memStore) forgetHandlesLocked(s *session) {
	for _, h := range s.handles {
		if st.byHandle[h] == s {
			delete(st.byHandle, h)
		}
	}
}

func (st *memStore) id() string { return st.stateID }

// liveHandles returns which of handles belong to a live session and
// were given to caller.
func (st *memStore) liveHandles(_ context.Context, caller string, handles []string) (map[string]bool, error) {
	now := time.Now()
	live := map[string]bool{}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, h := range handles {
		if s := st.byHandle[h]; s != nil && !s.ended && now.Before(s.expires) && s.notify[notice{caller, h}] {
			live[h] = true
		}
	}
	return live, nil
}

// userSessions returns the live sessions of user.
func (st *memStore) userSessions(_ context.Context, user string) ([]*session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*session, 0, len(st.sessions[user]))
	for s := range st.sessions[user] {
		out = append(out, s)
	}
	return out, nil
}

// sweep drops expired tickets. Expired sessions end by their timers.
func (st *memStore) sweep(_ context.Context) ([]*session, error) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, t := range st.byHash {
		if !now.Before(t.expires) {
			st.dropLocked(t)
		}
	}
	return nil, nil
}

// counts returns the live sessions and tickets.
func (st *memStore) counts(_ context.Context) (sessions, tickets int, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.sessions {
		sessions += len(m)
	}
	return sessions, len(st.byHash), nil
}

func (st *memStore) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.sessions {
		for sess := range m {
			if sess.timer != nil {
				sess.timer.Stop()
			}
		}
	}
}
