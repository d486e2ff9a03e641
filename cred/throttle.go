package cred

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrThrottled means a login was refused without checking the
// credentials because too many logins for the same user name from the
// same address, or from the same address in all, failed recently.
// *ThrottledError matches it with errors.Is.
var ErrThrottled = errors.New("cred: too many failed logins")

// ThrottledError is returned by Throttle.Begin while the (user name,
// address) pair or the address is locked out.
type ThrottledError struct {
	// RetryAfter is how long until a login may be attempted again (the
	// longer of the pair's and the address's lockouts, when both are
	// locked).
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "cred: too many failed logins; retry after " + strconv.FormatInt(e.RetrySeconds(), 10) + "s"
}

// RetrySeconds is RetryAfter rounded up to whole seconds, at least 1:
// "retry after 0s" would be misleading.
func (e *ThrottledError) RetrySeconds() int64 {
	return int64(max((e.RetryAfter+time.Second-1)/time.Second, 1))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// ThrottleConfig configures a Throttle. A nil *ThrottleConfig, and every
// zero field, means the default given for that field.
type ThrottleConfig struct {
	// MaxFailures is how many failed logins one user name may have from
	// one address within Window before that (user name, address) pair
	// is locked out. Default 5.
	MaxFailures int

	// AddressMaxFailures is how many failed logins one address may have
	// within Window, whatever the user names, before the address is
	// locked out. It is high so that many users behind one NAT can each
	// mistype their passwords; it stops one host from guessing one
	// password for many users. Default 100.
	AddressMaxFailures int

	// UserDelayAfter is how many failed logins one user name may have
	// within Window, from all addresses together, before its further
	// failed logins are answered late (see UserDelay). A user name is
	// never locked out as such: its owner's correct password from an
	// address that is not locked out always works. Default 10.
	UserDelayAfter int

	// UserDelay is how long the first late failure is held back; each
	// further failure of the user name within Window waits twice as long
	// as the previous one, up to UserMaxDelay. Default 1 second.
	UserDelay time.Duration

	// UserMaxDelay caps UserDelay's growth. Default 30 seconds.
	UserMaxDelay time.Duration

	// Window is the period over which failures are counted. It starts at
	// a key's first failure and the count restarts when it has passed.
	// Default 1 minute.
	Window time.Duration

	// Lockout is how long the first lockout of a pair or an address
	// lasts. Each further lockout of the same key, while its backoff is
	// remembered, lasts twice as long as the previous one, up to
	// MaxLockout. Default 1 minute.
	Lockout time.Duration

	// MaxLockout caps the lockout. It is also how long a key's backoff is
	// remembered after its last lockout (or its last counting window)
	// ends; after that quiet period the key starts afresh.
	// Default 15 minutes.
	MaxLockout time.Duration

	// MaxKeys caps the number of keys (pairs, addresses and user names)
	// the Throttle tracks, so that an attacker who cycles through names
	// or addresses cannot exhaust memory. Every key has the same small
	// size, whatever the length of the user name (keys are hashes).
	// When the cap is reached, expired entries are dropped first and
	// then the least recently used key without a login in progress is
	// forgotten. Default 10000.
	MaxKeys int

	// Now is the clock. Default time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// Default values for ThrottleConfig fields.
const (
	DefaultThrottleMaxFailures        = 5
	DefaultThrottleAddressMaxFailures = 100
	DefaultThrottleUserDelayAfter     = 10
	DefaultThrottleUserDelay          = time.Second
	DefaultThrottleUserMaxDelay       = 30 * time.Second
	DefaultThrottleWindow             = time.Minute
	DefaultThrottleLockout            = time.Minute
	DefaultThrottleMaxLockout         = 15 * time.Minute
	DefaultThrottleMaxKeys            = 10000
)

// busyRetry is the RetryAfter of an attempt refused because the pair's
// or the address's remaining failures are all taken by attempts still
// being checked: they end in about the time one check takes.
const busyRetry = time.Second

// Throttle limits repeated failed logins so that a password cannot be
// guessed, without letting a guesser lock other users out. It is safe
// for concurrent use. The policy:
//
//   - A (user name, address) pair is locked out after MaxFailures
//     failures within Window; lockouts back off exponentially from
//     Lockout to MaxLockout. Other addresses are not affected: the
//     owner of the name logs in from her own address while a guesser
//     elsewhere is locked out.
//   - An address is locked out, for all user names, after
//     AddressMaxFailures failures within Window. The budget is spent by
//     failures only, so a crowd behind one NAT that logs in correctly
//     never spends it.
//   - A user name that fails from many addresses is slowed, not locked:
//     past UserDelayAfter failures within Window, each further failed
//     login is answered after a growing delay (Failure returns it).
//     Correct passwords are answered at once.
//   - Begin reserves the attempt before the credentials are checked,
//     and attempts still being checked count against the pair's and
//     the address's remaining failures. So concurrent guesses cannot
//     outrun the count: of 100 simultaneous wrong guesses for one user
//     from one address, at most MaxFailures are checked.
//
// A login protocol calls Begin before checking credentials and then
// exactly one of the attempt's Failure (the credentials were refused),
// Success (accepted) or Cancel (they could not be checked: the store is
// unavailable; the attempt does not count):
//
//	a, err := t.Begin(user, addr)
//	if err != nil {
//		return err // a *ThrottledError: do not even check the password
//	}
//	_, avatar, logout, err := portal.Login(ctx, creds, mind)
//	switch {
//	case err == nil:
//		a.Success()
//	case errors.Is(err, cred.ErrUnauthorizedLogin):
//		time.Sleep(a.Failure().Delay)
//	default:
//		a.Cancel()
//	}
//
// Success clears the pair's record but neither the address's nor the
// user name's: otherwise an attacker who owns one account could reset
// its address's count by logging in to it between guesses at others.
//
// addr should identify the client host. If it has the form host:port
// (as net.Conn.RemoteAddr().String() has), the port is dropped; IPv6
// addresses are counted per /64, the block one host usually holds. An
// empty user name or address is not tracked. User names and addresses
// are kept only as truncated SHA-256 hashes.
type Throttle struct {
	maxFailures     int
	addrMaxFailures int
	userDelayAfter  int
	userDelay       time.Duration
	userMaxDelay    time.Duration
	window          time.Duration
	lockout         time.Duration
	maxLockout      time.Duration
	maxKeys         int
	now             func() time.Time

	storeDown atomic.Bool

	mu      sync.Mutex
	entries map[throttleKey]*list.Element // key -> element holding *throttleEntry
	lru     *list.List                    // front = least recently used
}

type throttleEntry struct {
	key         throttleKey
	count       int       // failures in the current window
	windowStart time.Time // time of the window's first failure
	lockedUntil time.Time // zero if never locked
	strikes     int       // lockouts so far, for the backoff
	inflight    int       // attempts begun and not yet ended
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
	if c.AddressMaxFailures <= 0 {
		c.AddressMaxFailures = DefaultThrottleAddressMaxFailures
	}
	if c.UserDelayAfter <= 0 {
		c.UserDelayAfter = DefaultThrottleUserDelayAfter
	}
	if c.UserDelay <= 0 {
		c.UserDelay = DefaultThrottleUserDelay
	}
	if c.UserMaxDelay <= 0 {
		c.UserMaxDelay = DefaultThrottleUserMaxDelay
	}
	if c.UserMaxDelay < c.UserDelay {
		c.UserMaxDelay = c.UserDelay
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
		maxFailures:     c.MaxFailures,
		addrMaxFailures: c.AddressMaxFailures,
		userDelayAfter:  c.UserDelayAfter,
		userDelay:       c.UserDelay,
		userMaxDelay:    c.UserMaxDelay,
		window:          c.Window,
		lockout:         c.Lockout,
		maxLockout:      c.MaxLockout,
		maxKeys:         c.MaxKeys,
		now:             c.Now,
		entries:         make(map[throttleKey]*list.Element),
		lru:             list.New(),
	}
}

// Key kinds. A key is a kind and a hash, so every key has the same size.
const (
	kindPair = 1 + iota
	kindAddr
	kindUser
)

type throttleKey struct {
	kind uint8
	sum  [16]byte
}

func hashKey(kind uint8, parts ...string) throttleKey {
	h := sha256.New()
	var n [9]byte
	n[0] = kind
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[1:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	k := throttleKey{kind: kind}
	copy(k.sum[:], h.Sum(nil))
	return k
}

// Attempt is a login attempt reserved by Throttle.Begin. Exactly one of
// Success, Failure or Cancel must be called; later calls do nothing.
type Attempt struct {
	t                *Throttle
	pair, addr, user throttleKey
	hasUser, hasAddr bool
	done             atomic.Bool
}

// FailureResult tells a protocol what a failed attempt led to.
type FailureResult struct {
	// Delay is how long to wait before answering the failure: the user
	// name has failed from many addresses (see UserDelayAfter). Zero
	// means answer at once.
	Delay time.Duration
	// DelayStarted is true for the first delayed failure of the user
	// name in its window, so that the protocol can log the start of the
	// slowdown once.
	DelayStarted bool
	// Lockout is the length of the lockout this failure started, or
	// zero. It is non-zero once per lockout, so the protocol can log
	// each lockout once, not each refused attempt.
	Lockout time.Duration
	// AddressLocked says the lockout is of the whole address (all user
	// names), not only of the (user name, address) pair.
	AddressLocked bool
}

// Begin reserves a login attempt for user from addr. It returns a
// *ThrottledError, and reserves nothing, when the pair or the address
// is locked out or when the attempts already being checked would use up
// the failures it has left.
func (t *Throttle) Begin(user, addr string) (*Attempt, error) {
	a := t.attempt(user, addr)
	if !a.hasAddr {
		return a, nil // only the user name's delay applies
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	var busy bool
	check := func(k throttleKey, limit int) {
		el, ok := t.entries[k]
		if !ok {
			return
		}
		e := el.Value.(*throttleEntry)
		if d := e.lockedUntil.Sub(now); d > wait {
			wait = d
		}
		n := e.inflight
		if t.live(e, now) {
			n += e.count
		}
		if n >= limit {
			busy = true
		}
	}
	check(a.addr, t.addrMaxFailures)
	if a.hasUser {
		check(a.pair, t.maxFailures)
	}
	if wait <= 0 && busy {
		wait = busyRetry
	}
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	t.prune(now)
	t.entry(a.addr, now).inflight++
	if a.hasUser {
		t.entry(a.pair, now).inflight++
	}
	return a, nil
}

// attempt returns an Attempt with the keys of user and addr, reserving
// nothing.
func (t *Throttle) attempt(user, addr string) *Attempt {
	a := &Attempt{t: t}
	host := normalizeAddr(addr)
	a.hasAddr = host != ""
	a.hasUser = user != ""
	if a.hasAddr {
		a.addr = hashKey(kindAddr, host)
	}
	if a.hasUser {
		a.user = hashKey(kindUser, user)
		if a.hasAddr {
			a.pair = hashKey(kindPair, user, host)
		}
	}
	return a
}

// live reports whether e's count is of the current window.
func (t *Throttle) live(e *throttleEntry, now time.Time) bool {
	return e.count > 0 && now.Before(e.windowStart.Add(t.window))
}

// Success ends the attempt as a successful login: it clears the pair's
// failures and backoff. The address's and the user name's failures are
// kept (see Throttle).
func (a *Attempt) Success() {
	if !a.done.CompareAndSwap(false, true) || !a.hasAddr {
		return
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.release(a.addr, false)
	if a.hasUser {
		t.release(a.pair, true)
	}
}

// Cancel ends the attempt without counting it: the credentials could not
// be checked (their store is unavailable) or the login was abandoned
// before they were.
func (a *Attempt) Cancel() {
	if !a.done.CompareAndSwap(false, true) || !a.hasAddr {
		return
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.release(a.addr, false)
	if a.hasUser {
		t.release(a.pair, false)
	}
}

// Failure ends the attempt as a refused login and records the failure
// for the pair, the address and the user name.
func (a *Attempt) Failure() FailureResult {
	var r FailureResult
	if !a.done.CompareAndSwap(false, true) {
		return r
	}
	t := a.t
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	if a.hasAddr {
		t.release(a.addr, false)
		if d := t.fail(a.addr, t.addrMaxFailures, now); d > 0 {
			r.Lockout, r.AddressLocked = d, true
		}
		if a.hasUser {
			t.release(a.pair, false)
			if d := t.fail(a.pair, t.maxFailures, now); d > r.Lockout {
				r.Lockout, r.AddressLocked = d, false
			}
		}
	}
	if a.hasUser {
		e := t.entry(a.user, now)
		t.count(e, now)
		if over := e.count - t.userDelayAfter; over > 0 {
			d := t.userDelay
			for i := 1; i < over && d < t.userMaxDelay; i++ {
				d *= 2
			}
			r.Delay = min(d, t.userMaxDelay)
			r.DelayStarted = over == 1
		}
	}
	return r
}

// StoreUnavailable records that a login could not be checked because the
// credential store did not answer. It reports true only for the first
// such report since the store last answered (StoreAnswered), so that a
// protocol logs an outage once, not once per attempt.
func (t *Throttle) StoreUnavailable() bool { return t.storeDown.CompareAndSwap(false, true) }

// StoreAnswered records that the credential store answered a login. It
// reports true when that ends an outage StoreUnavailable recorded.
func (t *Throttle) StoreAnswered() bool {
	return t.storeDown.Load() && t.storeDown.CompareAndSwap(true, false)
}

// normalizeAddr returns the host part of addr, IPv6 masked to its /64.
func normalizeAddr(addr string) string {
	if addr == "" {
		return ""
	}
	// Take the port off "host:port" and "[v6]:port"; a bare IPv6
	// address has several colons and no brackets.
	if strings.HasPrefix(addr, "[") || strings.Count(addr, ":") == 1 {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
	}
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return addr
}

// entry returns k's entry, created if missing, marked as recently used.
// t.mu is held.
func (t *Throttle) entry(k throttleKey, now time.Time) *throttleEntry {
	if el, ok := t.entries[k]; ok {
		e := el.Value.(*throttleEntry)
		if e.inflight == 0 && t.expired(e, now) {
			*e = throttleEntry{key: k} // prune has not reached it yet
		}
		t.lru.MoveToBack(el)
		return e
	}
	t.makeRoom()
	e := &throttleEntry{key: k}
	t.entries[k] = t.lru.PushBack(e)
	return e
}

// makeRoom evicts least recently used entries until one more fits. An
// entry with attempts in progress is skipped: forgetting it would free
// their reservations. If every entry has one, the cap is exceeded until
// they end (they are bounded by the logins in progress). t.mu is held.
func (t *Throttle) makeRoom() {
	el := t.lru.Front()
	for len(t.entries) >= t.maxKeys && el != nil {
		next := el.Next()
		if el.Value.(*throttleEntry).inflight == 0 {
			t.evict(el)
		}
		el = next
	}
}

// release ends one attempt in progress on k; clear also forgets k's
// failures (a successful login for a pair). t.mu is held.
func (t *Throttle) release(k throttleKey, clear bool) {
	el, ok := t.entries[k]
	if !ok {
		return
	}
	e := el.Value.(*throttleEntry)
	if e.inflight > 0 {
		e.inflight--
	}
	if clear {
		e.count, e.strikes, e.lockedUntil = 0, 0, time.Time{}
	}
	if e.inflight == 0 && e.count == 0 && e.strikes == 0 {
		t.evict(el)
	}
}

// count adds one failure to e's window. t.mu is held.
func (t *Throttle) count(e *throttleEntry, now time.Time) {
	if !t.live(e, now) {
		e.count = 0
		e.windowStart = now
	}
	e.count++
}

// fail records one failure for key k with the given limit and returns
// the lockout it starts, if any. t.mu is held.
func (t *Throttle) fail(k throttleKey, limit int, now time.Time) time.Duration {
	e := t.entry(k, now)
	if now.Before(e.lockedUntil) {
		return 0 // already locked out (an attempt begun before the lock)
	}
	t.count(e, now)
	if e.count < limit {
		return 0
	}
	d := t.lockout
	for i := 0; i < e.strikes && d < t.maxLockout; i++ {
		d *= 2
	}
	d = min(d, t.maxLockout)
	e.strikes++
	e.lockedUntil = now.Add(d)
	e.count = 0
	return d
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
// ordered by their last use, so it stops at the first live one; an
// expired entry behind a live one is dropped later or by eviction.
func (t *Throttle) prune(now time.Time) {
	for el := t.lru.Front(); el != nil; el = t.lru.Front() {
		e := el.Value.(*throttleEntry)
		if e.inflight > 0 || !t.expired(e, now) {
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
