package authd

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// CheckerConfig configures a Checker.
type CheckerConfig struct {
	// Addr is authd's address, HOST:PORT; or several, separated by
	// commas: authd processes that share one state store
	// (Config.State). The checker connects to the first that answers,
	// in order; when that connection is lost it moves to the next.
	Addr string
	// Service is this broker's service name at authd, and Secret its
	// secret. The secret travels with Spread's password login, so the
	// connection must be TLS or loopback.
	Service string
	Secret  []byte
	// TLS, when set, connects with TLS.
	TLS *tls.Config
	// Logger receives the checker's log; nil means slog.Default().
	Logger *slog.Logger
	// MinDelay and MaxDelay bound the wait between attempts to reach
	// authd (exponential backoff with jitter). Defaults 200ms and 10s.
	MinDelay, MaxDelay time.Duration
	// Timeout bounds one check at authd. Default 5s.
	Timeout time.Duration
	// ProbeInterval is how often the checker makes sure that authd
	// answers (ping); a connection whose authd does not answer within the
	// interval (a hung process) is closed, so that checks fail at once
	// instead of after Timeout, and a new connection is tried. Default 5s.
	ProbeInterval time.Duration
}

// Checker is the cred.Checker of a broker that delegates to authd. It
// accepts Twisted's challenge login (it forwards the challenge and the
// response) and Spread's password login (it forwards the ticket), and
// returns the avatar id authd answers.
//
// It keeps one PB connection to authd, logged in as its service, and
// reconnects with backoff when it is lost. While it is not connected,
// checks fail at once with a *cred.UnavailableError; sessions already
// open are kept.
//
// A session that a PB login opened with a ticket is revoked when authd
// says so (its user logged out at authd, the authd login expired, an
// operator revoked the user): the checker closes that connection,
// which runs the realm's logout. Only PB logins are tracked (the checker
// finds the connection with pb.CallBroker); a login checked outside PB,
// a web form for example, is checked but not revoked.
//
// Each time it logs in at authd, the checker asks authd (ended, in
// batches) which of the sessions it tracked before have ended, so that
// revocations sent while it was away, or to another authd process, or
// while only another instance of the service was connected, still close
// their sessions. Sessions whose handles another authd state issued
// (another process with memory state, an authd restarted since) are kept
// and logged: authd cannot judge them.
type Checker struct {
	cfg   CheckerConfig
	addrs []string
	log   *slog.Logger
	mind  *checkerMind

	cur    atomic.Pointer[pb.RemoteReference] // the service's avatar at authd, while connected
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	conns    map[*pb.Broker]*tracked
	byHandle map[string]map[*tracked]bool
	byUser   map[string]map[*tracked]bool
	revoked  map[string]time.Time // recently revoked handles
	pruned   time.Time            // when revoked was last pruned
	hook     func(user, handle string)
	connects int // logins at authd so far
}

// tracked is one PB connection that logged in with tickets.
type tracked struct {
	b       *pb.Broker
	handles map[string]string // handle -> the user it was redeemed for
	users   map[string]bool
}

// NewChecker starts a Checker: it connects to authd in the background.
// Close stops it.
func NewChecker(cfg *CheckerConfig) (*Checker, error) {
	if cfg == nil || cfg.Addr == "" {
		return nil, errors.New("authd: CheckerConfig.Addr is required")
	}
	var addrs []string
	for _, a := range strings.Split(cfg.Addr, ",") {
		if a = strings.TrimSpace(a); a == "" {
			return nil, fmt.Errorf("authd: CheckerConfig.Addr %q has an empty address", cfg.Addr)
		}
		addrs = append(addrs, a)
	}
	if err := ValidServiceName(cfg.Service); err != nil {
		return nil, err
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("authd: CheckerConfig.Secret is required")
	}
	c := &Checker{cfg: *cfg, addrs: addrs, done: make(chan struct{}),
		conns: map[*pb.Broker]*tracked{}, byHandle: map[string]map[*tracked]bool{}, byUser: map[string]map[*tracked]bool{}, revoked: map[string]time.Time{}}
	c.cfg.Secret = append([]byte(nil), cfg.Secret...)
	if c.cfg.MinDelay <= 0 {
		c.cfg.MinDelay = 200 * time.Millisecond
	}
	if c.cfg.MaxDelay <= 0 {
		c.cfg.MaxDelay = 10 * time.Second
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = 5 * time.Second
	}
	if c.cfg.ProbeInterval <= 0 {
		c.cfg.ProbeInterval = 5 * time.Second
	}
	c.log = c.cfg.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	c.mind = &checkerMind{c: c}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	return c, nil
}

// Close disconnects from authd. Sessions opened with tickets stay.
func (c *Checker) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// Connected reports whether the checker is logged in at authd now.
func (c *Checker) Connected() bool { return c.cur.Load() != nil }

// Addr is the address (or the comma-separated addresses) of the
// authentication server the checker uses.
func (c *Checker) Addr() string { return strings.Join(c.addrs, ",") }

// WaitConnected waits until the checker is logged in at authd or ctx
// ends.
func (c *Checker) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !c.Connected() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Kinds returns cred.KindChallenge and cred.KindPassword.
func (c *Checker) Kinds() []cred.Kind {
	return []cred.Kind{cred.KindChallenge, cred.KindPassword}
}

// run keeps a connection to one of authd's addresses: it tries them in
// order, moves to the next when a connection is lost, and waits (with
// exponential backoff and jitter) only after every address has failed.
func (c *Checker) run(ctx context.Context) {
	defer close(c.done)
	delay := c.cfg.MinDelay
	i, failed := 0, 0
	for {
		addr := c.addrs[i]
		i = (i + 1) % len(c.addrs)
		b, err := c.connect(ctx, addr)
		wait := jitter(c.cfg.MinDelay)
		if err == nil {
			delay, failed = c.cfg.MinDelay, 0
			select {
			case <-b.Done():
			case <-ctx.Done():
			}
			b.Close()
		} else {
			if ctx.Err() != nil {
				return
			}
			var re *pb.RemoteError
			if errors.Is(err, cred.ErrUnauthorizedLogin) || errors.As(err, &re) && re.Check(pyUnauthorizedLogin) {
				// A wrong service secret: keep trying, slowly; the
				// operator may fix authd's services file.
				c.log.Error("authd: authd refused this service's login; retrying", "addr", addr, "service", c.cfg.Service, "err", err)
			} else {
				c.log.Info("authd: cannot reach the authentication server", "addr", addr, "err", err)
			}
			failed++
			if failed < len(c.addrs) {
				continue // try the other addresses first
			}
			failed = 0
			wait = jitter(delay)
			delay = min(2*delay, c.cfg.MaxDelay)
		}
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// jitter returns between half and all of d.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// connect dials addr and logs in as the service. The connection ends
// when ctx does.
func (c *Checker) connect(ctx context.Context, addr string) (*pb.Broker, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	b, err := pb.Dial(dctx, addr, &pb.Config{TLS: c.cfg.TLS, Logger: c.log})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { b.Close() })
	go func() { <-b.Done(); stop() }()
	if err := c.onConnect(b.Context(), b, addr); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (c *Checker) onConnect(ctx context.Context, b *pb.Broker, addr string) error {
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	v, err := b.Root().CallRemote(lctx, pb.MethodLoginPassword, ServicePrefix+c.cfg.Service, c.cfg.Secret, c.mind)
	if err != nil {
		return err
	}
	avatar, ok := v.(*pb.RemoteReference)
	if !ok {
		return fmt.Errorf("authd: login answered %T, not an avatar", v)
	}
	b.StartProbe(&pb.Probe{Interval: c.cfg.ProbeInterval, Target: avatar, Method: "ping"})
	// The handles tracked before this connection: the ones whose
	// logins may have ended while the checker was away. Those redeemed
	// from now on are checked by no one but revoke().
	handles := c.trackedHandles()
	c.cur.Store(avatar)
	c.mu.Lock()
	c.connects++
	c.mu.Unlock()
	context.AfterFunc(ctx, func() {
		if c.cur.CompareAndSwap(avatar, nil) {
			c.log.Warn("authd: lost the connection to the authentication server; ticket logins are refused until it is back",
				"addr", addr, "err", b.Err())
		}
	})
	c.log.Info("authd: connected to the authentication server", "addr", addr, "service", c.cfg.Service)
	if len(handles) > 0 {
		go c.reconcile(ctx, avatar, addr, handles)
	}
	return nil
}

// reconcileBatch is how many handles one ended() call carries (authd
// accepts MaxEndedHandles).
const reconcileBatch = 500

// trackedHandles returns the handles of the sessions tracked now.
func (c *Checker) trackedHandles() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.byHandle))
}

// reconcile asks authd, in batches, which of handles belong to logins
// that ended while the checker was not connected to it (or connected
// to another authd process), and closes their sessions. The handles
// authd did not issue (another process's memory state, an authd
// restarted with memory state) cannot be judged there: their sessions
// are kept, and said so once. While authd answers that it cannot check
// now (its state store is down), it tries again, with backoff, as long
// as the connection lasts. ctx is the connection's.
func (c *Checker) reconcile(ctx context.Context, avatar *pb.RemoteReference, addr string, handles []string) {
	asked, ended, closed, unknown := 0, 0, 0, 0
	delay := time.Second
	for len(handles) > 0 && ctx.Err() == nil {
		n := min(len(handles), reconcileBatch)
		e, u, err := c.askEnded(ctx, avatar, handles[:n])
		var re *pb.RemoteError
		if errors.As(err, &re) && re.Check(PyUnavailable) {
			c.log.Warn("authd: the authentication server cannot check the open ticket sessions now; trying again", "addr", addr, "in", delay)
			t := time.NewTimer(jitter(delay))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, 30*time.Second)
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("authd: could not check the open ticket sessions with the authentication server; they are kept",
					"addr", addr, "err", err)
			}
			return
		}
		handles = handles[n:]
		asked += n
		ended += len(e)
		unknown += len(u)
		for _, h := range e {
			closed += c.revokeHandle(h)
		}
	}
	if ctx.Err() != nil {
		return
	}
	if unknown > 0 {
		c.log.Warn("authd: some ticket sessions were opened through an authentication server whose state this one does not share "+
			"(another authd process with memory state, or an authd restarted since); they are kept",
			"addr", addr, "sessions", unknown)
	}
	c.log.Info("authd: checked the open ticket sessions with the authentication server",
		"addr", addr, "handles", asked, "ended", ended, "closed", closed, "kept_unknown", unknown)
}

// askEnded calls ended(handles) on avatar (the current connection's
// when nil): at most MaxEndedHandles.
func (c *Checker) askEnded(ctx context.Context, avatar *pb.RemoteReference, handles []string) (ended, unknown []string, err error) {
	if avatar == nil {
		if avatar, err = c.avatar(); err != nil {
			return nil, nil, err
		}
	}
	args := make([]any, len(handles))
	for i, h := range handles {
		args[i] = h
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	v, err := avatar.CallRemote(cctx, "ended", args)
	if err != nil {
		return nil, nil, err
	}
	e, u, ok := endedAnswer(v)
	if !ok {
		return nil, nil, errors.New("authd: ended answered something else than [ended, unknown]")
	}
	return e, u, nil
}

// endedAnswer parses ended()'s answer: [ended, unknown], lists of str.
func endedAnswer(v any) (ended, unknown []string, ok bool) {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return nil, nil, false
	}
	var out [2][]string
	for i := range l {
		items, ok := l[i].([]any)
		if !ok {
			return nil, nil, false
		}
		for _, x := range items {
			h, ok := text(x)
			if !ok {
				return nil, nil, false
			}
			out[i] = append(out[i], h)
		}
	}
	return out[0], out[1], true
}

// avatar returns the service's avatar at authd, or an unavailable
// error.
func (c *Checker) avatar() (*pb.RemoteReference, error) {
	a := c.cur.Load()
	if a == nil {
		return nil, &cred.UnavailableError{Store: "the authentication server", Err: errNotConnected}
	}
	return a, nil
}

// CheckCredentials asks authd whether creds carry a live ticket of
// theirs for this service.
func (c *Checker) CheckCredentials(ctx context.Context, creds cred.Credentials) (string, error) {
	id, handle, err := c.redeem(ctx, creds, "")
	if err != nil {
		return "", err
	}
	c.track(ctx, id, handle)
	return id, nil
}

// redeem asks authd to redeem the ticket in creds for service (this
// checker's own when "").
func (c *Checker) redeem(ctx context.Context, creds cred.Credentials, service string) (id, handle string, err error) {
	var method string
	var args []any
	switch cr := creds.(type) {
	case *cred.UsernameChallenge:
		if len(cr.Response) != md5.Size || len(cr.Challenge) > maxChallengeLen {
			return "", "", cred.ErrUnauthorizedLogin
		}
		method, args = "redeem", []any{cr.Username, cr.Challenge, cr.Response}
	case *cred.UsernamePassword:
		// Only what has a ticket's shape goes to authd: a password meant
		// for a local store (a mistyped one) never leaves the broker.
		if !looksLikeTicket(cr.Password) {
			return "", "", cred.ErrUnauthorizedLogin
		}
		method, args = "redeemTicket", []any{cr.Username, cr.Password}
	default:
		return "", "", &cred.UnhandledError{Kind: creds.Kind()}
	}
	if service != "" {
		args = append(args, pb.Kw{"service": service})
	}
	v, err := c.call(ctx, method, args...)
	if err != nil {
		return "", "", err
	}
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return "", "", fmt.Errorf("authd: %s answered %T, not [avatarID, handle]", method, v)
	}
	id, ok1 := text(l[0])
	handle, ok2 := text(l[1])
	if !ok1 || !ok2 || handle == "" {
		return "", "", fmt.Errorf("authd: %s answered a malformed [avatarID, handle]", method)
	}
	return id, handle, nil
}

// checkLogin asks the upstream authd to check a user's login (this
// checker's service must be a proxy there).
func (c *Checker) checkLogin(ctx context.Context, creds cred.Credentials) (string, error) {
	var v any
	var err error
	switch cr := creds.(type) {
	case *cred.UsernameChallenge:
		v, err = c.call(ctx, "checkLogin", cr.Username, cr.Challenge, cr.Response)
	case *cred.UsernamePassword:
		v, err = c.call(ctx, "checkPassword", cr.Username, cr.Password)
	default:
		return "", &cred.UnhandledError{Kind: creds.Kind()}
	}
	if err != nil {
		return "", err
	}
	id, ok := text(v)
	if !ok {
		return "", fmt.Errorf("authd: checkLogin answered %T, not a user name", v)
	}
	return id, nil
}

// call calls method on the service's avatar at authd and sorts the
// failures: a refusal, authd unreachable, or something else.
func (c *Checker) call(ctx context.Context, method string, args ...any) (any, error) {
	a, err := c.avatar()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	v, err := a.CallRemote(ctx, method, args...)
	if err == nil {
		return v, nil
	}
	var re *pb.RemoteError
	switch {
	case errors.As(err, &re) && re.Check(pyUnauthorizedLogin):
		return nil, cred.ErrUnauthorizedLogin
	case errors.As(err, &re) && re.Check(PyUnavailable):
		return nil, &cred.UnavailableError{Store: "the authentication server", Err: err}
	case errors.As(err, &re):
		return nil, fmt.Errorf("authd: %s: %w", method, err)
	}
	// Lost connection, timeout: authd did not answer.
	return nil, &cred.UnavailableError{Store: "the authentication server", Err: err}
}

// looksLikeTicket reports whether p has a ticket's shape: TicketLen
// characters of unpadded base64url.
func looksLikeTicket(p []byte) bool {
	if len(p) != TicketLen {
		return false
	}
	for _, c := range p {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// track remembers the PB connection of the login ctx belongs to, so
// that a revocation closes it. A connection is remembered once, however
// many times it logs in, until it ends.
func (c *Checker) track(ctx context.Context, user, handle string) {
	b := pb.CallBroker(ctx)
	if b == nil {
		return
	}
	c.mu.Lock()
	if _, gone := c.revoked[handle]; gone {
		c.mu.Unlock()
		go b.Close()
		return
	}
	t := c.conns[b]
	if t == nil {
		t = &tracked{b: b, handles: map[string]string{}, users: map[string]bool{}}
		c.conns[b] = t
		context.AfterFunc(b.Context(), func() { c.untrack(t) })
	}
	t.handles[handle] = user
	t.users[user] = true
	add(c.byHandle, handle, t)
	add(c.byUser, user, t)
	c.mu.Unlock()
}

func (c *Checker) untrack(t *tracked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.conns, t.b)
	for h := range t.handles {
		remove(c.byHandle, h, t)
	}
	for u := range t.users {
		remove(c.byUser, u, t)
	}
}

func add(m map[string]map[*tracked]bool, k string, t *tracked) {
	s := m[k]
	if s == nil {
		s = map[*tracked]bool{}
		m[k] = s
	}
	s[t] = true
}

func remove(m map[string]map[*tracked]bool, k string, t *tracked) {
	delete(m[k], t)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// Sessions returns how many connections hold sessions opened with
// tickets.
func (c *Checker) Sessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// revoke ends the sessions of user opened with the handle's tickets (all
// of user's ticket sessions when handle is "") by closing their
// connections.
func (c *Checker) revoke(user, handle string) int {
	n, hook := c.closeSessions(user, handle)
	c.log.Info("authd: sessions revoked by the authentication server", "user", logName(user), "closed", n)
	if hook != nil {
		hook(user, handle)
	}
	return n
}

// revokeHandle ends the sessions of a handle whose login authd says
// has ended (reconciliation).
func (c *Checker) revokeHandle(handle string) int {
	c.mu.Lock()
	user := ""
	for t := range c.byHandle[handle] {
		user = t.handles[handle]
		break
	}
	c.mu.Unlock()
	n, hook := c.closeSessions(user, handle)
	if hook != nil {
		hook(user, handle)
	}
	return n
}

// closeSessions closes the connections revoke(user, handle) names, and
// remembers a revoked handle a while (a login redeemed with it just
// before is closed when it is tracked). It returns how many it closes,
// and the revocation hook.
func (c *Checker) closeSessions(user, handle string) (int, func(user, handle string)) {
	now := time.Now()
	var victims []*tracked
	c.mu.Lock()
	if handle != "" {
		if now.Sub(c.pruned) > time.Second {
			c.pruned = now
			for h, at := range c.revoked {
				if now.Sub(at) > 10*time.Minute {
					delete(c.revoked, h)
				}
			}
		}
		if len(c.revoked) < 100000 {
			c.revoked[handle] = now
		}
		for t := range c.byHandle[handle] {
			victims = append(victims, t)
		}
	} else {
		for t := range c.byUser[user] {
			victims = append(victims, t)
		}
	}
	hook := c.hook
	c.mu.Unlock()
	for _, t := range victims {
		go t.b.Close()
	}
	return len(victims), hook
}

func (c *Checker) setRevokeHook(f func(user, handle string)) {
	c.mu.Lock()
	c.hook = f
	c.mu.Unlock()
}

// checkerMind is the object authd calls back: revoke(user, handle).
type checkerMind struct {
	pb.Referenceable
	c *Checker
}

// RemoteRevoke ends the sessions authd names.
func (m *checkerMind) RemoteRevoke(user string, handle string) int {
	return m.c.revoke(user, handle)
}
