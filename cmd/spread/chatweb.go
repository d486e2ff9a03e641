package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/chat/web"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/guard"
)

// chatWebFlags are chat serve's options for the chat in a browser.
type chatWebFlags struct {
	addr             string
	insecureLoopback bool
	sessions         string

	chat *web.Chat // once realm made it
}

func (f *chatWebFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "http", "", "also serve the chat in a browser on this address, HOST:PORT (HTTPS with --tls-cert/--tls-key)")
	fs.BoolVar(&f.insecureLoopback, "http-insecure-loopback", false, "serve --http as plain HTTP, for development: only on a loopback address, and only to loopback clients")
	fs.StringVar(&f.sessions, "sessions", "", "keep web sessions in SQL: sqlite:PATH or postgres://... (default: in memory)")
}

// check validates the flags against the TLS configuration; its errors
// are bad usage.
func (f *chatWebFlags) check(t *tls.Config) error {
	if f.addr == "" {
		if f.insecureLoopback || f.sessions != "" {
			return errors.New("--http-insecure-loopback and --sessions go with --http")
		}
		return nil
	}
	switch {
	case t != nil && f.insecureLoopback:
		return errors.New("--http-insecure-loopback is for plain HTTP; --tls-cert serves HTTPS")
	case t == nil && !f.insecureLoopback:
		return errors.New("--http needs --tls-cert and --tls-key (passwords travel), or --http-insecure-loopback for plain HTTP on a loopback address")
	case t == nil && !loopbackAddr(f.addr):
		return errors.New("--http-insecure-loopback serves only a loopback address (127.0.0.1, [::1], localhost), not " + f.addr)
	}
	return nil
}

// loopbackAddr reports whether addr's host is a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// realm returns the chat's realm: PB avatars, and web avatars when
// --http is given.
func (f *chatWebFlags) realm(server *chat.Server, log *slog.Logger) (*chat.Realm, error) {
	r := &chat.Realm{Server: server}
	if f.addr == "" {
		return r, nil
	}
	w, err := web.New(server, &web.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	r.Web = w
	f.chat = w
	return r, nil
}

// endpoint returns the browser chat's HTTP endpoint behind a guard on
// portal, and what closes it after serving.
// A Django user store, when given, is the guard's Stamper: a changed
// password or a deactivated user ends that user's web sessions.
func (f *chatWebFlags) endpoint(ctx context.Context, portal *cred.Portal, throttle *cred.Throttle, users *djangostore.Store, t *tls.Config, log *slog.Logger) (endpoint, func(), error) {
	cfg := &guard.Config{Throttle: throttle, InsecureLoopbackHTTP: f.insecureLoopback, Logger: log}
	if users != nil {
		cfg.Stamper = users
	}
	var store *guard.SQLStore
	if f.sessions != "" {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := guard.OpenSQLStore(octx, f.sessions)
		cancel()
		if err != nil {
			return endpoint{}, nil, err
		}
		store = s
		cfg.Store = s
		log.Info("chat: web sessions in SQL")
	}
	if f.insecureLoopback {
		log.Warn("chat: the web chat is served over plain HTTP, to loopback clients only: for development")
	}
	g, err := guard.New(portal, cfg)
	if err != nil {
		if store != nil {
			store.Close()
		}
		return endpoint{}, nil, err
	}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown does not wait for WebSockets (hijacked connections): the
	// guard's Close logs every web avatar out, which closes them.
	srv.RegisterOnShutdown(func() { g.Close() })
	closeAll := func() {
		g.Close()
		// The sockets are closing; let browsers hear why.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := f.chat.Wait(wctx); err != nil {
			log.Warn("chat: web sockets still closing at exit", "err", err)
		}
		cancel()
		if store != nil {
			if err := store.Close(); err != nil {
				log.Error("chat: closing the session store", "err", err)
			}
		}
	}
	return httpEndpoint(srv, f.addr, t), closeAll, nil
}
