package pb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gospread/spread/cred"
)

// SessionConfig configures a [Session]. A nil *SessionConfig means no
// login and all defaults.
type SessionConfig struct {
	// Config is used for every connection (TLS, limits, KeepAlive, ...).
	Config *Config

	// Credentials, when set, log in on every new connection with
	// Broker.Login, with Mind. Nil means no login: the session's avatar
	// is the server's root.
	Credentials cred.Credentials
	// Mind is handed to the realm at every login (a Referenceable, or
	// nil). The same object serves every connection.
	Mind any

	// OnConnect runs after every successful connection and login,
	// before Session.Avatar returns it: re-register with the server
	// here. Its ctx ends when that connection ends, or when Run's ctx
	// does; it may be kept for work tied to the connection. An error closes the
	// connection and the session tries again after a delay (or gives
	// up, if the error is an UnauthorizedLogin).
	OnConnect func(ctx context.Context, b *Broker, avatar *RemoteReference) error

	// MinDelay and MaxDelay bound the wait between attempts. The wait
	// starts at MinDelay after a connection is lost, doubles after each
	// failed attempt up to MaxDelay, and is jittered to between half and
	// all of that, so that many clients of a restarted server do not
	// come back at the same instant. Defaults 500ms and 30s.
	MinDelay, MaxDelay time.Duration

	// DialTimeout bounds one attempt to connect and log in. Default 30s.
	DialTimeout time.Duration

	// Probe, when set, runs a liveness probe on every connection
	// (Broker.StartProbe); Probe.Target nil means the avatar.
	Probe *Probe
}

// Session keeps a client connected to a server across restarts and
// network failures, as Twisted's ClientService or
// ReconnectingClientFactory do: it connects, logs in with the same
// credentials and mind, runs OnConnect, and when the connection ends
// does it all again, with exponential backoff and jitter. It gives up
// only when its context ends or the server refuses the credentials
// (UnauthorizedLogin).
//
// References belong to one connection: after a reconnect, objects
// obtained on the old connection are dead (calls fail with
// ErrConnectionLost). Get references again in OnConnect or through
// Avatar.
type Session struct {
	addr string
	cfg  SessionConfig
	log  *slog.Logger

	mu       sync.Mutex
	b        *Broker
	avatar   *RemoteReference
	changed  chan struct{} // closed and replaced when b changes
	connects int
}

// NewSession returns a session to addr ("host:port"). Run starts it;
// run it once.
func NewSession(addr string, cfg *SessionConfig) *Session {
	s := &Session{addr: addr, changed: make(chan struct{})}
	if cfg != nil {
		s.cfg = *cfg
	}
	if s.cfg.MinDelay <= 0 {
		s.cfg.MinDelay = 500 * time.Millisecond
	}
	switch {
	case s.cfg.MaxDelay <= 0:
		s.cfg.MaxDelay = max(30*time.Second, s.cfg.MinDelay)
	case s.cfg.MaxDelay < s.cfg.MinDelay:
		s.cfg.MinDelay = s.cfg.MaxDelay
	}
	if s.cfg.DialTimeout <= 0 {
		s.cfg.DialTimeout = 30 * time.Second
	}
	s.log = slog.Default()
	if s.cfg.Config != nil && s.cfg.Config.Logger != nil {
		s.log = s.cfg.Config.Logger
	}
	return s
}

// Run keeps the session connected until ctx ends, and then closes the
// connection and returns ctx's error; or until the server refuses the
// login, and then returns an error that matches
// errors.Is(err, cred.ErrUnauthorizedLogin).
func (s *Session) Run(ctx context.Context) error {
	delay := s.cfg.MinDelay
	for {
		b, avatar, err := s.connect(ctx)
		if err == nil {
			// b.Context() ends with ctx too (connect), so OnConnect and
			// whatever it started stop when the session does.
			delay = s.cfg.MinDelay
			s.publish(b, avatar)
			select {
			case <-b.Done():
				s.log.Info("pb: session lost its connection; reconnecting", "addr", s.addr, "err", b.Err())
			case <-ctx.Done():
			}
			s.publish(nil, nil)
			b.Close()
		} else {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if unauthorized(err) {
				s.log.Warn("pb: session login refused; giving up", "addr", s.addr, "err", err)
				return fmt.Errorf("pb: session to %s: %w: %w", s.addr, cred.ErrUnauthorizedLogin, err)
			}
			s.log.Info("pb: session could not connect", "addr", s.addr, "err", err, "retry", delay)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(jitter(delay))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		if err != nil {
			delay = nextDelay(delay, s.cfg.MaxDelay)
		}
	}
}

// connect makes one attempt: dial, log in, OnConnect.
func (s *Session) connect(ctx context.Context) (*Broker, *RemoteReference, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	b, err := Dial(dctx, s.addr, s.cfg.Config)
	if err != nil {
		return nil, nil, err
	}
	// The connection ends when the session's ctx does; the hook goes
	// with the connection, so that a long session keeps no dead brokers.
	stop := context.AfterFunc(ctx, func() { b.shutdown(ErrClosed) })
	go func() { <-b.Done(); stop() }()
	avatar := b.Root()
	if s.cfg.Credentials != nil {
		avatar, err = b.Login(dctx, s.cfg.Credentials, s.cfg.Mind)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
	}
	if s.cfg.Probe != nil {
		p := *s.cfg.Probe
		if p.Target == nil {
			p.Target = avatar
		}
		b.StartProbe(&p)
	}
	if s.cfg.OnConnect != nil {
		if err := s.cfg.OnConnect(b.Context(), b, avatar); err != nil {
			b.Close()
			return nil, nil, fmt.Errorf("pb: session OnConnect: %w", err)
		}
	}
	s.log.Info("pb: session connected", "addr", s.addr)
	return b, avatar, nil
}

func (s *Session) publish(b *Broker, avatar *RemoteReference) {
	s.mu.Lock()
	s.b, s.avatar = b, avatar
	if b != nil {
		s.connects++
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Avatar returns the current connection and its avatar (the server's
// root without Credentials), waiting until the session is connected or
// ctx ends.
func (s *Session) Avatar(ctx context.Context) (*Broker, *RemoteReference, error) {
	for {
		s.mu.Lock()
		b, a, ch := s.b, s.avatar, s.changed
		s.mu.Unlock()
		if b != nil && b.Err() == nil {
			return b, a, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Connects returns how many times the session has connected.
func (s *Session) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// unauthorized reports whether err is the server refusing the
// credentials.
func unauthorized(err error) bool {
	if errors.Is(err, cred.ErrUnauthorizedLogin) {
		return true
	}
	var re *RemoteError
	return errors.As(err, &re) && re.Check(pyUnauthorizedLogin)
}

// jitter returns a wait between half and all of delay ("equal jitter").
func jitter(delay time.Duration) time.Duration {
	return delay/2 + rand.N(delay/2+1)
}

// nextDelay doubles delay, up to most.
func nextDelay(delay, most time.Duration) time.Duration {
	if delay > most/2 {
		return most
	}
	return delay * 2
}
