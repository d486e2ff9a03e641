package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
)

// dbFlags select a Django user database.
type dbFlags struct {
	dsn       string
	userTable string
	rehash    bool

	store *djangostore.Store // once attached
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dsn, "db", "", "Django user database: sqlite:PATH or postgres://...")
	fs.StringVar(&d.userTable, "user-table", "", "user table of a custom user model with auth_user's columns (default auth_user)")
	fs.BoolVar(&d.rehash, "rehash", false, "re-hash passwords with the current default where Django would")
}

func (d *dbFlags) open(ctx context.Context, log *slog.Logger) (*djangostore.Store, error) {
	return djangostore.Open(ctx, d.dsn, &djangostore.Config{UserTable: d.userTable, Rehash: d.rehash, Logger: log})
}

// attach opens the database, creating Django's schema if the table is
// missing, and registers it as the password checker of portal.
func (d *dbFlags) attach(ctx context.Context, portal *cred.Portal, log *slog.Logger) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := d.open(ctx, log)
	if err != nil {
		return nil, err
	}
	created, err := st.EnsureSchema(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	portal.Register(st)
	d.store = st
	log.Info("chat: users from the Django database", "table", st.Config().UserTable, "created_schema", created,
		"login", "password login over TLS or loopback; Twisted's challenge login cannot check Django hashes")
	return func() {
		// Close writes the last_login values still pending.
		if err := st.Close(); err != nil {
			log.Error("chat: closing the user database", "err", err)
		}
	}, nil
}
