package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/gospread/spread/cred/django/djangostore"
)

// dbFlags select a Django user database.
type dbFlags struct {
	dsn       string
	userTable string
	rehash    bool
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dsn, "db", "", "Django user database: sqlite:PATH or postgres://...")
	fs.StringVar(&d.userTable, "user-table", "", "user table of a custom user model with auth_user's columns (default auth_user)")
	fs.BoolVar(&d.rehash, "rehash", false, "re-hash passwords with the current default where Django would")
}

func (d *dbFlags) open(ctx context.Context, log *slog.Logger) (*djangostore.Store, error) {
	return djangostore.Open(ctx, d.dsn, &djangostore.Config{UserTable: d.userTable, Rehash: d.rehash, Logger: log})
}
