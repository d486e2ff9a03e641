package authd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// Defaults of Config.
const (
	DefaultTicketTTL  = 60 * time.Second
	DefaultSessionTTL = 12 * time.Hour
	// revokeTimeout bounds one revoke call to a broker's mind.
	revokeTimeout = 5 * time.Second
	// maxPending caps the revocations kept for services that are not
	// connected. Spread's checkers do not depend on them (they ask
	// ended() when they log in); brokers that only answer revoke(), the
	// Python example's, do.
	maxPending = 10000
)

// Config configures a Server. A nil *Config is not allowed: Services is
// required.
type Config struct {
	// Users checks the users' logins (a challenge or a password, as the
	// store allows). It may be nil when Upstream is set.
	Users cred.Checker
	// Services are the brokers (and downstream authds) that may redeem
	// tickets.
	Services *Services
	// TicketTTL is how long a ticket can be redeemed. Default
	// DefaultTicketTTL.
	TicketTTL time.Duration
	// SessionTTL is how long a login at authd lasts; when it ends, the
	// broker sessions opened with its tickets end too. Default
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// Upstream, when set, makes this authd a service of another one:
	// user logins and tickets it does not know are checked there. The
	// Checker's service account must have the proxy option upstream.
	// The Server sets the Checker's revocation hook.
	Upstream *Checker
	// State, when set, keeps the sessions and tickets in PostgreSQL
	// ([OpenSQLState]), so that several authd processes serve the same
	// users: a ticket minted at one is redeemed at another, once, and a
	// session ended at one is revoked at the services connected to any.
	// Nil keeps them in this process's memory. The Server does not close
	// it.
	State *SQLState
	// Logger receives the server's log; nil means slog.Default(). No
	// ticket, secret or handle is ever logged.
	Logger *slog.Logger
}

// Server is the central authentication server. Serve its Portal with a
// pb.Server: users log in and get tickets, services log in (as
// ServicePrefix+name, with Spread's password login) and redeem them.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  stateStore
	portal *cred.Portal
	stop   context.CancelFunc // the sweeper and the revocation listener

	issued, redeemed atomic.Uint64 // tickets, since the start

	mu      sync.Mutex
	minds   map[string]map[*pb.RemoteReference]bool // service -> connected minds
	pending map[string][]revocation                 // service -> revocations not yet delivered
	npend   int
	up      map[string]*upEntry // upstream handle -> the services that redeemed with it
	// proxyThrottle limits the user logins a proxy service checks.
	proxyThrottle *cred.Throttle
	// outageThrottle counts logins refused locally while the upstream
	// is unreachable (see countOutage).
	outageThrottle *cred.Throttle
	closed         bool

	timersMu sync.Mutex
	timers   map[any]*time.Timer // the expiry timers of the sessions begun here
}

// revocation is one revoke(user, handle) for a service's mind.
type revocation struct {
	user, handle string
	until        time.Time
}

// NewServer returns a Server for cfg.
func NewServer(cfg *Config) (*Server, error) {
	if cfg == nil || cfg.Services == nil {
		return nil, errors.New("authd: Config.Services is required")
	}
	if cfg.Users == nil && cfg.Upstream == nil {
		return nil, errors.New("authd: Config.Users or Config.Upstream is required")
	}
	s := &Server{cfg: *cfg, minds: map[string]map[*pb.RemoteReference]bool{},
		pending: map[string][]revocation{}, up: map[string]*upEntry{},
		proxyThrottle:  cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 10, AddressMaxFailures: 1000}),
		outageThrottle: cred.NewThrottle(nil)}
	if s.cfg.TicketTTL <= 0 {
		s.cfg.TicketTTL = DefaultTicketTTL
	}
	if s.cfg.SessionTTL <= 0 {
		s.cfg.SessionTTL = DefaultSessionTTL
	}
	s.log = s.cfg.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if s.cfg.State != nil {
		s.store = s.cfg.State
		s.cfg.State.subscribe(ctx, s.log, s.remoteRevocation)
	} else {
		s.store = newMemStore()
	}
	go s.sweeper(ctx, sweepInterval)
	kinds := []cred.Kind{cred.KindPassword}
	if kc, ok := s.cfg.Users.(cred.KindsChecker); ok {
		for _, k := range kc.Kinds() {
			if k == cred.KindChallenge {
				kinds = append(kinds, k)
			}
		}
	}
	if s.cfg.Upstream != nil {
		if len(kinds) == 1 {
			kinds = append(kinds, cred.KindChallenge)
		}
		s.cfg.Upstream.setRevokeHook(s.upstreamRevoked)
	}
	s.portal = cred.NewPortal(realm{s})
	s.portal.Register(loginChecker{s}, kinds...)
	return s, nil
}

// Portal is the portal to serve: pb.NewServer(&pb.Config{Portal: s.Portal()}).
func (s *Server) Portal() *cred.Portal { return s.portal }

// Counts returns the live sessions and unredeemed tickets (zeros when
// the state store cannot be asked).
func (s *Server) Counts() (sessions, tickets int) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	sessions, tickets, _ = s.store.counts(ctx)
	return sessions, tickets
}

// sweepInterval is how often expired tickets are purged and expired
// sessions ended.
var sweepInterval = 30 * time.Second

func (s *Server) sweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, stateTimeout)
		expired, err := s.store.sweep(sctx)
		cancel()
		if err != nil {
			s.log.Warn("authd: purging expired tickets failed", "err", err)
		}
		for _, sess := range expired {
			s.endSession(sess, "expired")
		}
	}
}

// Stats are a Server's counters, for metrics.
type Stats struct {
	Sessions int    // live authd sessions (user logins)
	Tickets  int    // tickets issued and not yet redeemed or expired
	Issued   uint64 // tickets issued since the start
	Redeemed uint64 // tickets redeemed at a broker since the start
}

// Stats returns the server's counters now.
func (s *Server) Stats() Stats {
	st := Stats{Issued: s.issued.Load(), Redeemed: s.redeemed.Load()}
	st.Sessions, st.Tickets = s.Counts()
	return st
}

// Close stops the sessions' timers. Serve no more after it.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	if ms, ok := s.store.(*memStore); ok {
		ms.close()
	}
	s.timersMu.Lock()
	for _, t := range s.timers {
		t.Stop()
	}
	s.timers = nil
	s.timersMu.Unlock()
}

// RevokeUser ends every session of user at this authd (each broker
// session opened with their tickets ends) and tells every connected
// service to end all of user's ticket sessions, including those from
// before a restart of this authd. It returns how many authd sessions
// ended.
func (s *Server) RevokeUser(user string) int {
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	sessions, err := s.store.userSessions(ctx, user)
	cancel()
	if err != nil {
		s.log.Error("authd: revoking a user: the state store cannot be read; telling the services", "user", logName(user), "err", err)
	}
	for _, sess := range sessions {
		if s.endSession(sess, "revoked") {
			n++
		}
	}
	s.mu.Lock()
	var names []string
	for name := range s.minds {
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, name := range names {
		s.notify(name, user, "", time.Now().Add(s.cfg.SessionTTL))
	}
	if s.cfg.State != nil {
		s.cfg.State.publish(s.log, revocationNote{User: user})
	}
	s.log.Info("authd: user revoked", "user", logName(user), "sessions", n)
	return n
}

// endSession ends sess and revokes its broker sessions. It reports
// whether sess was live.
func (s *Server) endSession(sess *session, why string) bool {
	s.timersMu.Lock()
	if t := s.timers[sess.key()]; t != nil {
		t.Stop()
		delete(s.timers, sess.key())
	}
	s.timersMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	notices, err := s.store.end(ctx, sess)
	cancel()
	if err != nil {
		s.log.Error("authd: ending a session: the state store cannot be written", "user", logName(sess.user), "reason", why, "err", err)
		return false
	}
	if notices == nil {
		return false
	}
	s.log.Info("authd: session ended", "user", logName(sess.user), "reason", why, "services", len(notices))
	for n := range notices {
		s.notify(n.caller, sess.user, n.handle, sess.expires)
		if s.cfg.State != nil {
			s.cfg.State.publish(s.log, revocationNote{User: sess.user, Handle: n.handle, Service: n.caller, Until: sess.expires.Unix()})
		}
	}
	return true
}

// remoteRevocation is a revocation another authd process published:
// it goes to the services connected here.
func (s *Server) remoteRevocation(n revocationNote) {
	if n.Handle == "" {
		s.mu.Lock()
		var names []string
		for name := range s.minds {
			names = append(names, name)
		}
		s.mu.Unlock()
		for _, name := range names {
			s.notify(name, n.User, "", time.Time{})
		}
		return
	}
	s.notify(n.Service, n.User, n.Handle, time.Unix(n.Until, 0))
}

// notify sends revoke(user, handle) to every connected mind of service,
// or keeps it (until until) for the service's next login.
func (s *Server) notify(service, user, handle string, until time.Time) {
	s.mu.Lock()
	var minds []*pb.RemoteReference
	for m := range s.minds[service] {
		minds = append(minds, m)
	}
	if len(minds) == 0 && handle != "" {
		if s.npend >= maxPending {
			s.prunePendingLocked(time.Now())
		}
		if s.npend < maxPending {
			s.pending[service] = append(s.pending[service], revocation{user, handle, until})
			s.npend++
		} else {
			s.log.Warn("authd: too many revocations waiting for their services; dropping one", "service", service)
		}
	}
	s.mu.Unlock()
	for _, m := range minds {
		go s.callRevoke(m, service, user, handle)
	}
}

// prunePendingLocked forgets the pending revocations whose session
// would have ended anyway. s.mu is held.
func (s *Server) prunePendingLocked(now time.Time) {
	for service, list := range s.pending {
		live := list[:0]
		for _, r := range list {
			if now.Before(r.until) {
				live = append(live, r)
			}
		}
		s.npend -= len(list) - len(live)
		if len(live) == 0 {
			delete(s.pending, service)
		} else {
			s.pending[service] = live
		}
	}
}

func (s *Server) callRevoke(m *pb.RemoteReference, service, user, handle string) {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	if _, err := m.CallRemote(ctx, "revoke", user, handle); err != nil {
		s.log.Warn("authd: a service did not take a revocation", "service", service, "user", logName(user), "err", err)
	}
}

// addMind registers a service's mind and delivers what was pending.
func (s *Server) addMind(service string, m *pb.RemoteReference) {
	now := time.Now()
	s.mu.Lock()
	ms := s.minds[service]
	if ms == nil {
		ms = map[*pb.RemoteReference]bool{}
		s.minds[service] = ms
	}
	ms[m] = true
	var due []revocation
	for _, r := range s.pending[service] {
		if now.Before(r.until) {
			due = append(due, r)
		}
	}
	s.npend -= len(s.pending[service])
	delete(s.pending, service)
	s.mu.Unlock()
	for _, r := range due {
		go s.callRevoke(m, service, r.user, r.handle)
	}
}

func (s *Server) dropMind(service string, m *pb.RemoteReference) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.minds[service], m)
	if len(s.minds[service]) == 0 {
		delete(s.minds, service)
	}
}

// upEntry remembers which services redeemed with an upstream handle,
// until a session lifetime has passed since the last redemption.
type upEntry struct {
	services map[string]bool
	until    time.Time
	ended    bool // the upstream revoked it: kept, so that ended() can say so
}

// maxUpstreamHandles bounds the upstream handles remembered; beyond it,
// those whose time has passed are forgotten.
const maxUpstreamHandles = 100000

// rememberUpstream notes that service redeemed a ticket with the
// upstream's handle.
func (s *Server) rememberUpstream(handle, service string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.up) >= maxUpstreamHandles {
		for h, e := range s.up {
			if now.After(e.until) {
				delete(s.up, h)
			}
		}
	}
	e := s.up[handle]
	if e == nil {
		e = &upEntry{services: map[string]bool{}}
		s.up[handle] = e
	}
	e.services[service] = true
	if !e.ended {
		e.until = now.Add(s.cfg.SessionTTL)
	}
}

// judgeUpstream sorts the handles (none issued by this authd's state)
// that caller asks ended() about: those an upstream issued and revoked
// are ended; those it issued and did not revoke here, the upstream is
// asked about (with this authd's service there, which it gave them
// to); the others are unknown.
func (s *Server) judgeUpstream(ctx context.Context, caller string, handles []string) (ended, unknown []string) {
	var ask []string
	s.mu.Lock()
	for _, h := range handles {
		e := s.up[h]
		switch {
		case e == nil || !e.services[caller]:
			unknown = append(unknown, h)
		case e.ended:
			ended = append(ended, h)
		default:
			ask = append(ask, h)
		}
	}
	s.mu.Unlock()
	if len(ask) == 0 {
		return ended, unknown
	}
	e, u, err := s.cfg.Upstream.askEnded(ctx, nil, ask)
	if err != nil {
		s.log.Warn("authd: could not ask the upstream authentication server which sessions ended; they are kept", "caller", caller, "err", err)
		return ended, append(unknown, ask...)
	}
	return append(ended, e...), append(unknown, u...)
}

// upstreamRevoked is the upstream's revoke(user, handle): a handle goes
// to the services that redeemed with it; no handle revokes the user
// here, which tells every service.
func (s *Server) upstreamRevoked(user, handle string) {
	if handle == "" {
		s.RevokeUser(user)
		return
	}
	s.mu.Lock()
	e := s.up[handle]
	if e == nil || e.ended {
		s.mu.Unlock()
		return
	}
	// Kept a session lifetime, so that a service that was away learns
	// from ended() that the handle's login is over.
	e.ended = true
	e.until = time.Now().Add(s.cfg.SessionTTL)
	services := make([]string, 0, len(e.services))
	for service := range e.services {
		services = append(services, service)
	}
	s.mu.Unlock()
	for _, service := range services {
		s.notify(service, user, handle, time.Now().Add(s.cfg.SessionTTL))
	}
}

// loginChecker checks logins at authd: services (by ServicePrefix, with
// their secret) and users (Config.Users, then the upstream).
type loginChecker struct{ s *Server }

// serviceID is the avatar id of a service's login.
func serviceID(name string) string { return ServicePrefix + name }

func (c loginChecker) CheckCredentials(ctx context.Context, creds cred.Credentials) (string, error) {
	s := c.s
	u, ok := creds.(cred.PasswordProver)
	if !ok {
		return "", &cred.UnhandledError{Kind: creds.Kind()}
	}
	if name, isService := strings.CutPrefix(u.User(), ServicePrefix); isService {
		pw, ok := creds.(*cred.UsernamePassword)
		if !ok {
			// A bcrypt hash cannot check a challenge.
			return "", cred.ErrUnauthorizedLogin
		}
		if _, err := s.cfg.Services.check(ctx, name, pw.Password); err != nil {
			return "", err
		}
		return serviceID(name), nil
	}
	var err error = cred.ErrUnauthorizedLogin
	if s.cfg.Users != nil {
		var id string
		id, err = s.cfg.Users.CheckCredentials(ctx, creds)
		if err == nil {
			if id == cred.AnonymousID || strings.HasPrefix(id, ServicePrefix) {
				return "", cred.ErrUnauthorizedLogin
			}
			return id, nil
		}
	}
	if s.cfg.Upstream != nil && (errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrUnhandledCredentials)) {
		localRefused := errors.Is(err, cred.ErrUnauthorizedLogin) && s.cfg.Users != nil
		id, err := s.cfg.Upstream.checkLogin(ctx, creds)
		if err != nil {
			if localRefused && errors.Is(err, cred.ErrUnavailable) && !s.countOutage(ctx, u.User()) {
				// The local store refused and the upstream cannot be
				// asked: counted, so that an outage upstream does not
				// open the local users to unthrottled guessing.
				return "", cred.ErrUnauthorizedLogin
			}
			return "", err
		}
		if id == cred.AnonymousID || strings.HasPrefix(id, ServicePrefix) {
			return "", cred.ErrUnauthorizedLogin
		}
		return upstreamMark + id, nil
	}
	return "", err
}

// countOutage counts a login the local store refused while the upstream
// could not check it; false once the user name at that address has
// failed so too often.
func (s *Server) countOutage(ctx context.Context, user string) bool {
	addr := ""
	if b := pb.CallBroker(ctx); b != nil {
		addr = b.RemoteAddr().String()
	}
	a, err := s.outageThrottle.Begin(user, addr)
	if err != nil {
		return false
	}
	a.Failure()
	return true
}

// upstreamMark prefixes, between the checker and the realm, the id of a
// user the upstream authenticated. User names cannot start with a NUL.
const upstreamMark = "\x00up:"

// realm makes the avatars: a service's or a user's.
type realm struct{ s *Server }

func (r realm) RequestAvatar(ctx context.Context, id string, mind any) (any, func(), error) {
	s := r.s
	m, _ := mind.(*pb.RemoteReference)
	if name, ok := strings.CutPrefix(id, ServicePrefix); ok {
		svc := s.cfg.Services.get(name)
		if svc == nil {
			return nil, nil, errors.New("authd: service vanished")
		}
		a := &serviceAvatar{s: s, svc: svc}
		if m != nil {
			s.addMind(name, m)
		} else {
			s.log.Warn("authd: a service logged in without a mind: its sessions cannot be revoked", "service", name)
		}
		s.log.Info("authd: service connected", "service", name)
		return a, func() {
			if m != nil {
				s.dropMind(name, m)
			}
			s.log.Info("authd: service disconnected", "service", name)
		}, nil
	}
	user, upstream := strings.CutPrefix(id, upstreamMark)
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	sess, err := s.store.addSession(sctx, user, s.cfg.SessionTTL)
	cancel()
	if err != nil {
		return nil, nil, &cred.UnavailableError{Store: "authd's state store", Err: err}
	}
	sess.upstream = upstream
	s.timersMu.Lock()
	if s.timers == nil {
		s.timers = map[any]*time.Timer{}
	}
	s.timers[sess.key()] = time.AfterFunc(s.cfg.SessionTTL, func() { s.endSession(sess, "expired") })
	s.timersMu.Unlock()
	return &userAvatar{s: s, sess: sess}, func() {
		dctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
		defer cancel()
		s.store.detach(dctx, sess)
	}, nil
}

// logName renders a user name for a log line: cut, with control
// characters quoted.
func logName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c >= 0x80 {
			q := []byte(strings.ToValidUTF8(s, "?"))
			for j, c := range q {
				if c < 0x20 || c == 0x7f {
					q[j] = '?'
				}
			}
			return string(q)
		}
	}
	return s
}

func hasServicePrefix(s string) bool { return strings.HasPrefix(s, ServicePrefix) }

func cutUpstream(id string) (string, bool) { return strings.CutPrefix(id, upstreamMark) }
