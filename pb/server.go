package pb

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("pb: server closed")

// Server accepts PB connections. Each connection gets its own broker and
// its own root object (Config.Root, or the login root for
// Config.Portal).
type Server struct {
	cfg *settings

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Broker]struct{}
	closed    bool
	wg        sync.WaitGroup

	// connection counts for Limits, under mu
	unauth int                     // connections not logged in (Portal servers)
	perIP  map[netip.Addr]*ipConns // by remote address

	refused atomic.Int64 // connections closed at once for a cap
	logMu   sync.Mutex
	logLims map[string]*lineLimiter // logConnKind, by kind

	stats serverStats // stats.go
}

// ipConns counts one remote address's connections.
type ipConns struct{ open, unauth int }

// NewServer returns a server with the given configuration (nil means
// defaults, which serve a root without methods).
func NewServer(cfg *Config) *Server {
	return &Server{
		cfg:       resolve(cfg),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*Broker]struct{}),
		perIP:     make(map[netip.Addr]*ipConns),
	}
}

// Serve accepts connections on ln until the server is closed. It always
// returns a non-nil error; after Close or Shutdown, ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			if !temporaryAcceptErr(err) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logConn("pb: accept failed; retrying", nil, "err", err.Error(), "retry_in", delay.String())
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.serveConn(conn)
	}
}

// temporaryAcceptErr reports whether Serve should retry after an accept
// error: running out of files or memory, a connection aborted before it
// was accepted, a timeout. Such errors come and go with the peers; the
// server must not end because of them.
func temporaryAcceptErr(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED,
		syscall.ECONNRESET, syscall.ENOBUFS, syscall.ENOMEM, syscall.EAGAIN, syscall.EINTR,
		syscall.EPROTO, syscall.EPERM, syscall.ETIMEDOUT, syscall.ENETDOWN, syscall.EHOSTUNREACH} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ListenAndServe listens on the TCP address addr (with Config.TLS when
// set) and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	return s.Serve(ln)
}

// ServeConn serves one connection that was accepted elsewhere and
// returns its broker at once. A connection over one of the caps of
// Limits is closed at once; its broker has ended with a *ConnLimitError.
func (s *Server) ServeConn(conn net.Conn) *Broker {
	b, what := s.serveConn(conn)
	if b == nil {
		b = newBroker(conn, s.cfg, true, nil)
		b.shutdown(&ConnLimitError{Cap: what})
	}
	return b
}

// serveConn serves conn, or closes it and returns nil and the name of
// the cap of Limits it would pass.
func (s *Server) serveConn(conn net.Conn) (*Broker, string) {
	ip := remoteIP(conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		b := newBroker(conn, s.cfg, true, nil)
		b.shutdown(ErrServerClosed)
		return b, ""
	}
	c, what := s.capLocked(ip)
	if what != "" {
		s.mu.Unlock()
		s.refused.Add(1)
		conn.Close()
		s.logConn("pb: connection refused", conn.RemoteAddr(), "cap", what)
		return nil, what
	}
	b := newBroker(conn, s.cfg, true, s)
	b.ip = ip
	c.open++
	if s.cfg.Portal != nil {
		c.unauth++
		s.unauth++
		b.unauthCount = true
	}
	s.conns[b] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	b.startTimers()
	b.start()
	return b, ""
}

// capLocked returns the counts of address ip, or the name of the cap of
// Limits that one more connection from ip would pass. Call with s.mu
// held.
func (s *Server) capLocked(ip netip.Addr) (*ipConns, string) {
	lim := &s.cfg.lim
	c := s.perIP[ip]
	open, unauth := 0, 0
	if c != nil {
		open, unauth = c.open, c.unauth
	}
	portal := s.cfg.Portal != nil
	perIP := ip.IsValid() // not for Unix sockets and the like
	switch {
	case over(len(s.conns)+1, lim.MaxConns):
		return nil, "MaxConns"
	case perIP && over(open+1, lim.MaxConnsPerIP):
		return nil, "MaxConnsPerIP"
	case portal && over(s.unauth+1, lim.MaxUnauthConns):
		return nil, "MaxUnauthConns"
	case portal && perIP && over(unauth+1, lim.MaxUnauthConnsPerIP):
		return nil, "MaxUnauthConnsPerIP"
	}
	if c == nil {
		c = &ipConns{}
		s.perIP[ip] = c
	}
	return c, ""
}

// loggedIn moves b out of the count of connections not logged in.
func (s *Server) loggedIn(b *Broker) {
	s.mu.Lock()
	s.uncountUnauthLocked(b)
	s.mu.Unlock()
}

func (s *Server) uncountUnauthLocked(b *Broker) {
	if !b.unauthCount {
		return
	}
	b.unauthCount = false
	s.unauth--
	if c := s.perIP[b.ip]; c != nil {
		c.unauth--
	}
}

func (s *Server) forget(b *Broker) {
	s.mu.Lock()
	if _, ok := s.conns[b]; ok {
		delete(s.conns, b)
		s.uncountUnauthLocked(b)
		if c := s.perIP[b.ip]; c != nil {
			if c.open--; c.open <= 0 {
				delete(s.perIP, b.ip)
			}
		}
		s.wg.Done()
	}
	s.mu.Unlock()
}

// remoteIP returns the peer's IP address (the zero Addr for other kinds
// of connection).
func remoteIP(conn net.Conn) netip.Addr {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// Close stops accepting and closes every connection; logouts run before
// it returns.
func (s *Server) Close() error {
	return s.Shutdown(context.Background())
}

// Shutdown stops accepting, closes every connection, and waits until
// each has finished its cleanup (logouts) or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*Broker, 0, len(s.conns))
	for b := range s.conns {
		conns = append(conns, b)
	}
	s.mu.Unlock()
	for _, b := range conns {
		go b.shutdown(ErrServerClosed)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
