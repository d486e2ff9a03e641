package pb

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
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
	stats     serverStats // stats.go
}

// NewServer returns a server with the given configuration (nil means
// defaults, which serve a root without methods).
func NewServer(cfg *Config) *Server {
	return &Server{
		cfg:       resolve(cfg),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*Broker]struct{}),
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
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.ServeConn(conn)
	}
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
// returns its broker at once.
func (s *Server) ServeConn(conn net.Conn) *Broker {
	b := newBroker(conn, s.cfg, true, s)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		b.shutdown(ErrServerClosed)
		return b
	}
	s.conns[b] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	b.start()
	return b
}

func (s *Server) forget(b *Broker) {
	s.mu.Lock()
	if _, ok := s.conns[b]; ok {
		delete(s.conns, b)
		s.wg.Done()
	}
	s.mu.Unlock()
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
