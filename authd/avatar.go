package authd

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// Limits on what a service sends.
const (
	maxChallengeLen = 64
	maxTicketLen    = 256
	// MaxEndedHandles is the most handles one ended() call may ask
	// about. A list of them (of at most 128 characters each) stays far
	// below PB's limits on a message.
	MaxEndedHandles = 1000
)

// userAvatar is a user's login at authd.
//
//	ticket(service) -> str      a ticket for the named service
//	logout()                    ends the login; every broker session
//	                            opened with its tickets ends
type userAvatar struct {
	pb.Avatar
	s    *Server
	sess *session
}

// PerspectiveTicket issues a ticket for service.
func (a *userAvatar) PerspectiveTicket(ctx context.Context, service string) (string, error) {
	if err := ValidServiceName(service); err != nil {
		return "", pb.ValueError(err.Error())
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	t, err := a.s.store.mint(sctx, a.sess, service, a.s.cfg.TicketTTL)
	if err != nil {
		var pe *pb.Error
		if errors.As(err, &pe) {
			return "", err
		}
		a.s.log.Error("authd: issuing a ticket: the state store is unavailable", "err", err)
		return "", errStateDown
	}
	a.s.issued.Add(1)
	a.s.log.Debug("authd: ticket issued", "user", logName(a.sess.user), "service", service)
	return t, nil
}

// PerspectiveLogout ends the login and revokes its broker sessions.
func (a *userAvatar) PerspectiveLogout(ctx context.Context) {
	a.s.endSession(a.sess, "logout")
}

// serviceAvatar is a service's login at authd.
//
//	redeem(user, challenge, response, service="") -> [avatarID, handle]
//	redeemTicket(user, ticket, service="")        -> [avatarID, handle]
//	checkLogin(user, challenge, response)         -> avatarID   (proxy)
//	checkPassword(user, password)                 -> avatarID   (proxy)
//	revokeUser(user)                              -> int        (admin)
//	ping()                                        -> None       (liveness)
//	ended(handles)                                -> [ended, unknown]
type serviceAvatar struct {
	pb.Avatar
	s   *Server
	svc *Service
}

// PerspectivePing answers a service's liveness probe.
func (a *serviceAvatar) PerspectivePing() {}

// RedeemArgs are redeem's parameters.
type RedeemArgs struct {
	User      string `pb:"user"`
	Challenge []byte `pb:"challenge"`
	Response  []byte `pb:"response"`
	Service   string `pb:"service,default="`
}

// RedeemTicketArgs are redeemTicket's parameters.
type RedeemTicketArgs struct {
	User    string `pb:"user"`
	Ticket  []byte `pb:"ticket"`
	Service string `pb:"service,default="`
}

// forService is the service a redemption is for: the caller's own, or,
// for a proxy, the one it names.
func (a *serviceAvatar) forService(named string) (string, error) {
	if named == "" || named == a.svc.Name {
		return a.svc.Name, nil
	}
	if !a.svc.Has(OptProxy) {
		return "", errNotProxy
	}
	if err := ValidServiceName(named); err != nil {
		return "", pb.ValueError(err.Error())
	}
	return named, nil
}

// PerspectiveRedeem redeems the ticket with which a Twisted client
// answered the broker's challenge.
func (a *serviceAvatar) PerspectiveRedeem(ctx context.Context, r RedeemArgs) ([]any, error) {
	service, err := a.forService(r.Service)
	if err != nil {
		return nil, err
	}
	if len(r.User) > cred.MaxUsernameLen || len(r.Challenge) > maxChallengeLen || len(r.Response) != md5.Size {
		return nil, a.refused(r.User, service, "malformed")
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	sess, err := a.s.store.redeemChallenge(sctx, r.User, service, r.Challenge, r.Response)
	if err != nil {
		return nil, a.stateDown(err)
	}
	if sess != nil {
		return a.redeemed(sctx, sess, service)
	}
	if up := a.s.cfg.Upstream; up != nil {
		creds := &cred.UsernameChallenge{Username: r.User, Challenge: r.Challenge, Response: r.Response}
		return a.upstream(ctx, up, creds, service)
	}
	return nil, a.refused(r.User, service, "no such ticket")
}

// PerspectiveRedeemTicket redeems a ticket a client sent whole (Spread's
// password login at the broker).
func (a *serviceAvatar) PerspectiveRedeemTicket(ctx context.Context, r RedeemTicketArgs) ([]any, error) {
	service, err := a.forService(r.Service)
	if err != nil {
		return nil, err
	}
	if len(r.User) > cred.MaxUsernameLen || len(r.Ticket) == 0 || len(r.Ticket) > maxTicketLen {
		return nil, a.refused(r.User, service, "malformed")
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	sess, err := a.s.store.redeemTicket(sctx, r.User, service, r.Ticket)
	if err != nil {
		return nil, a.stateDown(err)
	}
	if sess != nil {
		return a.redeemed(sctx, sess, service)
	}
	if up := a.s.cfg.Upstream; up != nil {
		creds := &cred.UsernamePassword{Username: r.User, Password: r.Ticket}
		return a.upstream(ctx, up, creds, service)
	}
	return nil, a.refused(r.User, service, "no such ticket")
}

// stateDown logs a state store failure and answers "cannot check now".
func (a *serviceAvatar) stateDown(err error) error {
	a.s.log.Error("authd: redeeming a ticket: the state store is unavailable", "caller", a.svc.Name, "err", err)
	return errStateDown
}

func (a *serviceAvatar) redeemed(ctx context.Context, sess *session, service string) ([]any, error) {
	a.s.redeemed.Add(1)
	h, err := a.s.store.handle(ctx, sess, service, a.svc.Name)
	if err != nil {
		// The ticket is consumed but the session's handle could not be
		// recorded: the login cannot be admitted revocably.
		return nil, a.stateDown(err)
	}
	if h == "" {
		return nil, a.refused(sess.user, service, "session ended")
	}
	via := ""
	if service != a.svc.Name {
		via = a.svc.Name
	}
	a.s.log.Info("authd: ticket redeemed", "user", logName(sess.user), "service", service, "via", via)
	return []any{sess.user, h}, nil
}

func (a *serviceAvatar) refused(user, service, why string) error {
	a.s.log.Info("authd: ticket refused", "user", logName(user), "service", service, "caller", a.svc.Name, "reason", why)
	return errTicketRefused
}

// upstream forwards a redemption this authd cannot answer.
func (a *serviceAvatar) upstream(ctx context.Context, up *Checker, creds cred.Credentials, service string) ([]any, error) {
	id, handle, err := up.redeem(ctx, creds, service)
	switch {
	case err == nil:
	case errors.Is(err, cred.ErrUnavailable):
		return nil, errUpstreamDown
	default:
		return nil, errTicketRefused
	}
	a.s.rememberUpstream(handle, service)
	a.s.log.Info("authd: ticket redeemed upstream", "user", logName(id), "service", service)
	return []any{id, handle}, nil
}

// CheckLoginArgs are checkLogin's parameters.
type CheckLoginArgs struct {
	User      string `pb:"user"`
	Challenge []byte `pb:"challenge"`
	Response  []byte `pb:"response"`
}

// PerspectiveCheckLogin checks a user's challenge login for a
// downstream authd (a proxy service).
func (a *serviceAvatar) PerspectiveCheckLogin(ctx context.Context, r CheckLoginArgs) (string, error) {
	if !a.svc.Has(OptProxy) {
		return "", errNotProxy
	}
	return a.checkUser(ctx, &cred.UsernameChallenge{Username: r.User, Challenge: r.Challenge, Response: r.Response})
}

// PerspectiveCheckPassword checks a user's password for a downstream
// authd (a proxy service).
func (a *serviceAvatar) PerspectiveCheckPassword(ctx context.Context, user string, password []byte) (string, error) {
	if !a.svc.Has(OptProxy) {
		return "", errNotProxy
	}
	return a.checkUser(ctx, &cred.UsernamePassword{Username: user, Password: password})
}

func (a *serviceAvatar) checkUser(ctx context.Context, creds cred.Credentials) (string, error) {
	if u, ok := creds.(cred.PasswordProver); ok {
		if len(u.User()) > cred.MaxUsernameLen || hasServicePrefix(u.User()) {
			return "", errLoginRefused
		}
	}
	user := ""
	if u, ok := creds.(cred.PasswordProver); ok {
		user = u.User()
	}
	// A proxy's users are throttled per user name at this proxy, as the
	// proxy cannot pass on its clients' addresses: a compromised proxy
	// cannot guess passwords any faster than a client could.
	attempt, err := a.s.proxyThrottle.Begin(user, "proxy/"+a.svc.Name)
	if err != nil {
		return "", errLoginRefused
	}
	id, err := loginChecker{a.s}.CheckCredentials(ctx, creds)
	switch {
	case err == nil:
		attempt.Success()
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		attempt.Failure()
	default:
		attempt.Cancel()
	}
	switch {
	case err == nil:
		if id2, up := cutUpstream(id); up {
			id = id2
		}
		a.s.log.Info("authd: login checked for a proxy", "user", logName(id), "caller", a.svc.Name)
		return id, nil
	case errors.Is(err, cred.ErrUnavailable):
		return "", errUpstreamDown
	case errors.Is(err, cred.ErrUnhandledCredentials):
		return "", errNeedPassword
	default:
		return "", errLoginRefused
	}
}

// PerspectiveRevokeUser revokes user everywhere (an admin service).
func (a *serviceAvatar) PerspectiveRevokeUser(ctx context.Context, user string) (int, error) {
	if !a.svc.Has(OptAdmin) {
		return 0, errNotAdmin
	}
	a.s.log.Info("authd: revocation requested", "user", logName(user), "by", a.svc.Name)
	return a.s.RevokeUser(user), nil
}

// PerspectiveEnded tells a service which of the revocation handles it
// holds belong to logins that have ended, so that a broker that was not
// connected when they ended (or connected to another authd process)
// closes their sessions when it (re)connects.
//
// It answers [ended, unknown]: the handles this authd's state issued
// whose login has ended (or that were never given to the caller), and
// the handles it did not issue and so cannot judge (another process's
// memory, an authd restarted with memory state, an upstream authd's).
// A broker closes the sessions of the ended ones and keeps the others.
// With the SQL state the answer comes from the database, so any
// process sharing it answers alike. At most MaxEndedHandles per call.
func (a *serviceAvatar) PerspectiveEnded(ctx context.Context, handles []any) ([]any, error) {
	if len(handles) > MaxEndedHandles {
		return nil, pb.ValueError(fmt.Sprintf("authd: ended: at most %d handles per call, got %d", MaxEndedHandles, len(handles)))
	}
	prefix := handlePrefix(a.s.store.id())
	var mine []string
	unknown := []any{}
	for i, v := range handles {
		h, ok := text(v)
		if !ok || h == "" || len(h) > maxHandleLen {
			return nil, pb.ValueError(fmt.Sprintf("authd: ended: handle %d is not a str of 1 to %d characters", i, maxHandleLen))
		}
		if strings.HasPrefix(h, prefix) {
			mine = append(mine, h)
		} else {
			unknown = append(unknown, h) // a string
		}
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	live, err := a.s.store.liveHandles(sctx, a.svc.Name, mine)
	if err != nil {
		a.s.log.Error("authd: checking a service's sessions: the state store is unavailable", "caller", a.svc.Name, "err", err)
		return nil, errStateDown
	}
	ended := []any{}
	for _, h := range mine {
		if !live[h] {
			ended = append(ended, h)
		}
	}
	if a.s.cfg.Upstream != nil && len(unknown) > 0 {
		// Handles an upstream authd issued, passed on by this one.
		others := make([]string, len(unknown))
		for i, h := range unknown {
			others[i] = h.(string)
		}
		e, u := a.s.judgeUpstream(ctx, a.svc.Name, others)
		unknown = unknown[:0]
		for _, h := range e {
			ended = append(ended, h)
		}
		for _, h := range u {
			unknown = append(unknown, h)
		}
	}
	a.s.log.Info("authd: a service checked its sessions", "caller", a.svc.Name,
		"asked", len(handles), "ended", len(ended), "unknown", len(unknown))
	return []any{ended, unknown}, nil
}
