package pb

import (
	"context"
	"crypto/tls"
	"net"
)

// Dial connects to a PB server at addr ("host:port") over TCP, or over
// TLS when cfg.TLS is set, and negotiates the dialect. The returned
// broker's Root is the server's root object.
func Dial(ctx context.Context, addr string, cfg *Config) (*Broker, error) {
	s := resolve(cfg)
	d := net.Dialer{KeepAlive: s.KeepAlive} // 0: on, Go's default period
	var conn net.Conn
	var err error
	if s.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: s.TLS}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return newClient(ctx, conn, s)
}

// NewClient runs the client side of PB over an established connection.
// It returns once the dialect is negotiated.
func NewClient(ctx context.Context, conn net.Conn, cfg *Config) (*Broker, error) {
	return newClient(ctx, conn, resolve(cfg))
}

func newClient(ctx context.Context, conn net.Conn, s *settings) (*Broker, error) {
	b := newBroker(conn, s, false, nil)
	b.start()
	select {
	case <-b.ready:
	case <-ctx.Done():
		b.shutdown(ctx.Err())
		<-b.done
		return nil, ctx.Err()
	}
	if err := b.Err(); err != nil {
		<-b.done
		return nil, err
	}
	return b, nil
}
