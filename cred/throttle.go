package cred

import (
	"container/list"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrThrottled means a login was refused without checking the
// credentials because too many logins for the same user name or from the
// same address failed recently. *ThrottledError matches it with
// errors.Is.
var ErrThrottled = errors.New("cred: too many failed logins")

// ThrottledError is returned by Throttle.Allow while a user name or an
// address is locked out.
type ThrottledError struct {
	// RetryAfter is how long until the lockout ends (the longer of the
	// user's and the address's lockouts, when both are locked).
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	// Round up to whole seconds: "retry after 0s" would be misleading.
	secs := (e.RetryAfter + time.Second - 1) / time.Second
	return "cred: too many failed logins; retry after " + strconv.FormatInt(int64(secs), 10) + "s"
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// ThrottleConfig configures a Throttle. A nil *ThrottleConfig, and every
// zero field, means the default given for that field.
type ThrottleConfig struct {
	// MaxFailures is how many failed logins a key (one user name, or one
	// address) may have within Window before it is locked out.
	// Default 5.
	MaxFailures int

	// Window is the period over which failures are counted. It starts at
	// a key's first failure and the count restarts when it has passed.
	// Default 1 minute.
	Window time.Duration

	// Lockout is how long the first lockout of a key lasts. Each further
	// lockout of the same key, while its backoff is remembered, lasts
	// twice as long as the previous one, up to MaxLockout.
	// Default 1 minute.
	Lockout time.Duration

	// MaxLockout caps the lockout. It is also how long a key's backoff is
	// remembered after its last lockout (or its last counting window)
	// ends; after that quiet period the key starts afresh.
	// Default 15 minutes.
	MaxLockout time.Duration

	// MaxKeys caps the number of keys (user names plus addresses) the
	// Throttle tracks, so that an attacker who cycles through names or
	// addresses cannot exhaust memory. When the cap is reached, expired
	// entries are dropped first and then the least recently failed key
	// is forgotten. Default 10000.
	MaxKeys int

	// Now is the clock. Default time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// Default values for ThrottleConfig fields.
const (
	DefaultThrottleMaxFailures = 5
	DefaultThrottleWindow      = time.Minute
	DefaultThrottleLockout     = time.Minute
	DefaultThrottleMaxLockout  = 15 * time.Minute
	DefaultThrottleMaxKeys     = 10000
)

// Throttle limits repeated failed logins per user name and per remote
// address. It is safe for concurrent use.
//
// A login protocol calls Allow before checking credentials, then Failure
// when the Portal refused them (ErrUnauthorizedLogin) or Success when it
// accepted them:
//
//	if err := t.Allow(user, addr); err != nil {
//		return err // do not even check the password
//	}
//	_, avatar, logout, err := portal.Login(ctx, creds, mind)
//	switch {
//	case errors.Is(err, cred.ErrUnauthorizedLogin):
//		t.Failure(user, addr)
//	case err == nil:
//		t.Success(user, addr)
//	}
//
// User names and addresses are counted separately: a key is locked out
// after MaxFailures failures within Window, so a guesser is stopped both
// when it tries many passwords for one user and when it tries one
// password for many users from one address. Lockouts back off
// exponentially (see ThrottleConfig).
//
// Success clears the user name's record but not the address's: otherwise
// an attacker who owns one account could reset its address's count by
// logging in to it between guesses at other accounts. An address's
// failures age out with its window instead.
//
// addr should identify the client host. If it has the form host:port
// (as net.Conn.RemoteAddr().String() has), the port is dropped. An empty
// user name or address is not tracked.
//
// Allow does not reserve anything: logins that run concurrently all pass
// Allow before any of them records a failure, so a client may get up to
// its concurrency more attempts than MaxFailures before it is locked out.
// Failures recorded while a key is already locked out are ignored.
type Throttle struct {
	maxFailures int
	window      time.Duration
	lockout     time.Duration
	maxLockout  time.Duration
	maxKeys     int
	now         func() time.Time

	mu      sync.Mutex
	entries map[throttleKey]*list.Element // key -> element holding *throttleEntry
	lru     *list.List                    // front = least recently failed
}

type throttleEntry struct {
	key         throttleKey
	count       int       // failures in the current window
	windowStart time.Time // time of the window's first failure
	lockedUntil time.Time // zero if never locked
	strikes     int       // lockouts so far, for the backoff
}

// NewThrottle returns a Throttle configured by cfg (nil for defaults).
func NewThrottle(cfg *ThrottleConfig) *Throttle {
	var c ThrottleConfig
	if cfg != nil {
		c = *cfg
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultThrottleMaxFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultThrottleWindow
	}
	if c.Lockout <= 0 {
		c.Lockout = DefaultThrottleLockout
	}
	if c.MaxLockout <= 0 {
		c.MaxLockout = DefaultThrottleMaxLockout
	}
	if c.MaxLockout < c.Lockout {
		c.MaxLockout = c.Lockout
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = DefaultThrottleMaxKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Throttle{
		maxFailures: c.MaxFailures,
		window:      c.Window,
		lockout:     c.Lockout,
		maxLockout:  c.MaxLockout,
		maxKeys:     c.MaxKeys,
		now:         c.Now,
		entries:     make(map[throttleKey]*list.Element),
		lru:         list.New(),
	}
}

// Allow returns nil if a login for user from addr may be attempted, or a
// *ThrottledError if the user name or the address is locked out.
func (t *Throttle) Allow(user, addr string) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) == 0 {
		return nil
	}
	var wait time.Duration
	ks, n := t.keys(user, addr)
	for _, k := range ks[:n] {
		el, ok := t.entries[k]
		if !ok {
			continue
		}
		e := el.Value.(*throttleEntry)
		if d := e.lockedUntil.Sub(now); d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// Failure records a failed login for user from addr.
func (t *Throttle) Failure(user, addr string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	ks, n := t.keys(user, addr)
	for _, k := range ks[:n] {
		t.fail(k, now)
	}
}

// Success records a successful login for user from addr. It forgets the
// user name's failures and backoff; the address's record is kept (see
// Throttle).
func (t *Throttle) Success(user, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if user == "" {
		return
	}
	if el, ok := t.entries[userKey(user)]; ok {
		t.lru.Remove(el)
		delete(t.entries, userKey(user))
	}
}

// A throttleKey is a user name or an address.
type throttleKey struct {
	addr bool
	name string
}

func userKey(user string) throttleKey { return throttleKey{name: user} }

// keys returns the keys of a login attempt: its user name and its host.
func (t *Throttle) keys(user, addr string) (ks [2]throttleKey, n int) {
	if user != "" {
		ks[n] = userKey(user)
		n++
	}
	if addr != "" {
		// Take the port off "host:port" and "[v6]:port"; a bare IPv6
		// address has several colons and no brackets.
		if strings.HasPrefix(addr, "[") || strings.Count(addr, ":") == 1 {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				addr = host
			}
		}
		ks[n] = throttleKey{addr: true, name: addr}
		n++
	}
	return ks, n
}

// fail records one failure for key k. t.mu is held.
func (t *Throttle) fail(k throttleKey, now time.Time) {
	var e *throttleEntry
	if el, ok := t.entries[k]; ok {
		e = el.Value.(*throttleEntry)
		if now.Before(e.lockedUntil) {
			return // already locked out
		}
		if t.expired(e, now) {
			*e = throttleEntry{key: k} // prune has not reached it yet
		}
		t.lru.MoveToBack(el)
	} else {
		for len(t.entries) >= t.maxKeys {
			t.evict(t.lru.Front())
		}
		e = &throttleEntry{key: k}
		t.entries[k] = t.lru.PushBack(e)
	}
	if e.count == 0 || !now.Before(e.windowStart.Add(t.window)) {
		e.count = 0
		e.windowStart = now
	}
	e.count++
	if e.count >= t.maxFailures {
		d := t.lockout
		for i := 0; i < e.strikes && d < t.maxLockout; i++ {
			d *= 2
		}
		d = min(d, t.maxLockout)
		e.strikes++
		e.lockedUntil = now.Add(d)
		e.count = 0
	}
}

// expired reports whether e no longer affects anything: its window and
// lockout are over, and so is the period its backoff is remembered.
func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	end := e.windowStart.Add(t.window)
	if e.strikes > 0 {
		end = maxTime(end, e.lockedUntil).Add(t.maxLockout)
	}
	return !now.Before(end)
}

// prune drops expired entries from the front of the LRU list. Entries are
// ordered by their last failure, so it stops at the first live one; an
// expired entry behind a live one is dropped later or by eviction.
func (t *Throttle) prune(now time.Time) {
	for el := t.lru.Front(); el != nil; el = t.lru.Front() {
		if !t.expired(el.Value.(*throttleEntry), now) {
			return
		}
		t.evict(el)
	}
}

func (t *Throttle) evict(el *list.Element) {
	e := t.lru.Remove(el).(*throttleEntry)
	delete(t.entries, e.key)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
