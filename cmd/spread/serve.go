package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gospread/spread/pb"
)

// shutdownGrace bounds a graceful shutdown: connections still open then
// are abandoned and the command fails.
const shutdownGrace = 10 * time.Second

// serveOptions are the options of long-running servers: the listen
// address and TLS.
type serveOptions struct {
	listen string
	tls    tlsServerFlags
	limits pb.Limits
}

func (o *serveOptions) register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&o.listen, "listen", defaultAddr, "listen address, HOST:PORT")
	o.tls.register(fs)
	l := &o.limits
	fs.IntVar(&l.MaxConns, "max-conns", 0, "most open connections (0: the file limit less 10%, -1: no cap)")
	fs.IntVar(&l.MaxConnsPerIP, "max-conns-per-ip", 0, "most open connections from one IP address (0: max-conns)")
	fs.IntVar(&l.MaxUnauthConns, "max-unauth-conns", 0, "most connections not logged in (0: max-conns/4)")
	fs.IntVar(&l.MaxUnauthConnsPerIP, "max-unauth-conns-per-ip", 0, "most connections not logged in from one IP address (0: 256)")
	fs.DurationVar(&l.LoginTimeout, "login-timeout", 0, "close connections not logged in after this long (0: 30s, negative: never)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", 0, "close logged-in connections silent for this long (0: never)")
	fs.DurationVar(&l.MessageTimeout, "message-timeout", 0, "close connections that do not finish a started message within this time (0: 30s)")
}

// pbLimits returns the connection caps and timeouts the flags set, for
// a pb.Config (a copy: the Config owns it).
func (o *serveOptions) pbLimits() *pb.Limits {
	l := o.limits
	return &l
}

// endpoint is one server that serve runs on its own listener: a PB
// server today, an HTTP server beside it later.
type endpoint struct {
	kind     string // "pb", "http"
	addr     string
	tls      *tls.Config
	serve    func(net.Listener) error
	closed   error // what serve returns once shutdown has begun
	shutdown func(context.Context) error
}

// pbEndpoint serves PB with srv on the options' address and TLS.
func (o *serveOptions) pbEndpoint(srv *pb.Server, t *tls.Config) endpoint {
	return endpoint{kind: "pb", addr: o.listen, tls: t, serve: srv.Serve, closed: pb.ErrServerClosed, shutdown: srv.Shutdown}
}

// httpEndpoint serves HTTP with srv on addr (with TLS when t is set),
// beside a PB endpoint; Shutdown lets requests in flight finish.
func httpEndpoint(srv *http.Server, addr string, t *tls.Config) endpoint {
	return endpoint{kind: "http", addr: addr, tls: t, serve: srv.Serve, closed: http.ErrServerClosed, shutdown: srv.Shutdown}
}

// serve listens on every endpoint's address and serves until ctx ends
// (SIGINT or SIGTERM) or a server fails; then it shuts every server
// down gracefully (each PB user logs out) within shutdownGrace. It
// returns the exit status: 0 after a clean shutdown on ctx, else 1.
func serve(ctx context.Context, log *slog.Logger, what string, eps ...endpoint) int {
	lns := make([]net.Listener, 0, len(eps))
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, ep := range eps {
		ln, err := net.Listen("tcp", ep.addr)
		if err != nil {
			log.Error(what+": listen", "kind", ep.kind, "err", err)
			return 1
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(eps))
	for i, ep := range eps {
		msg := what + ": serving"
		if ep.kind != "pb" {
			msg += " " + ep.kind
		}
		log.Info(msg, "addr", lns[i].Addr().String(), "tls", ep.tls != nil)
		go func(ep endpoint, ln net.Listener) {
			err := ep.serve(tlsListener(ln, ep.tls))
			if errors.Is(err, ep.closed) {
				err = nil
			}
			errc <- err
		}(ep, lns[i])
	}

	status := 0
	select {
	case <-ctx.Done():
		log.Info(what + ": shutting down")
	case err := <-errc:
		// A server stopped on its own: stop the others too.
		log.Error(what+": serve", "err", err)
		status = 1
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ep.shutdown(sctx); err != nil {
				log.Error(what+": shutdown", "kind", ep.kind, "err", err)
				mu.Lock()
				status = 1
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if status == 0 {
		log.Info(what + ": stopped")
	}
	return status
}
