package guard

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// SQLStore keeps sessions in SQLite or PostgreSQL, in two tables it
// creates when missing: spread_guard_session (one row per session, keyed
// by the hex SHA-256 of its id; times in Unix nanoseconds) and
// spread_guard_secret (the random key of Store.Secret, made once). The
// database may be the Django database the users live in. It is safe for
// concurrent use, also by several processes.
type SQLStore struct {
	db       *sql.DB
	postgres bool
}

// OpenSQLStore connects to dsn, in the forms of spread's --db flag:
// "sqlite:PATH" (modernc.org/sqlite; without query parameters a 5 s busy
// timeout is set) or a "postgres://" / "postgresql://" URL (pgx). It
// creates the tables when they are missing.
func OpenSQLStore(ctx context.Context, dsn string) (*SQLStore, error) {
	var driver, source string
	s := &SQLStore{}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		driver, source = "sqlite", strings.TrimPrefix(dsn, "sqlite:")
		if source == "" {
			return nil, &ConfigError{Field: "Store", Reason: "sqlite DSN has no path"}
		}
		if !strings.Contains(source, "?") {
			source += "?_pragma=busy_timeout(5000)"
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		driver, source, s.postgres = "pgx", dsn, true
	default:
		return nil, &ConfigError{Field: "Store", Reason: `DSN must start with "sqlite:", "postgres://" or "postgresql://"`}
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, &StoreError{Op: "open", Err: err}
	}
	s.db = db
	if err := s.createTables(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *SQLStore) createTables(ctx context.Context) error {
	blob := "BLOB"
	if s.postgres {
		blob = "bytea"
	}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS spread_guard_session (
			hash varchar(64) NOT NULL PRIMARY KEY,
			avatar_id text NOT NULL,
			stamp ` + blob + ` NULL,
			created bigint NOT NULL,
			last_seen bigint NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS spread_guard_session_last_seen ON spread_guard_session (last_seen)`,
		`CREATE TABLE IF NOT EXISTS spread_guard_secret (id integer NOT NULL PRIMARY KEY, secret ` + blob + ` NOT NULL)`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return &StoreError{Op: "create tables", Err: err}
		}
	}
	return nil
}

// q rewrites "?" placeholders as PostgreSQL's $n.
func (s *SQLStore) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hashKey(h Hash) string { return hex.EncodeToString(h[:]) }

// Create stores a session.
func (s *SQLStore) Create(ctx context.Context, h Hash, ss Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO spread_guard_session (hash, avatar_id, stamp, created, last_seen) VALUES (?, ?, ?, ?, ?)`),
		hashKey(h), ss.AvatarID, ss.Stamp, ss.Created.UnixNano(), ss.LastSeen.UnixNano())
	if err != nil {
		return &StoreError{Op: "create", Err: err}
	}
	return nil
}

// Get reads a session.
func (s *SQLStore) Get(ctx context.Context, h Hash) (Session, error) {
	var (
		ss                Session
		created, lastSeen int64
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT avatar_id, stamp, created, last_seen FROM spread_guard_session WHERE hash = ?`),
		hashKey(h)).Scan(&ss.AvatarID, &ss.Stamp, &created, &lastSeen)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, &StoreError{Op: "get", Err: err}
	}
	ss.Created, ss.LastSeen = time.Unix(0, created), time.Unix(0, lastSeen)
	return ss, nil
}

// Touch sets last_seen, never backwards.
func (s *SQLStore) Touch(ctx context.Context, h Hash, t time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE spread_guard_session SET last_seen = ? WHERE hash = ? AND last_seen < ?`),
		t.UnixNano(), hashKey(h), t.UnixNano())
	if err != nil {
		return &StoreError{Op: "touch", Err: err}
	}
	return nil
}

// Delete removes a session.
func (s *SQLStore) Delete(ctx context.Context, h Hash) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM spread_guard_session WHERE hash = ?`), hashKey(h)); err != nil {
		return &StoreError{Op: "delete", Err: err}
	}
	return nil
}

// Purge removes expired sessions.
func (s *SQLStore) Purge(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM spread_guard_session WHERE last_seen < ? OR created < ?`),
		idleBefore.UnixNano(), createdBefore.UnixNano())
	if err != nil {
		return 0, &StoreError{Op: "purge", Err: err}
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Secret returns the key kept in spread_guard_secret, making it on first
// use. Every front-end on the database reads the same key.
func (s *SQLStore) Secret(ctx context.Context) ([]byte, error) {
	k := make([]byte, 32)
	rand.Read(k)
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO spread_guard_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`), k); err != nil {
		return nil, &StoreError{Op: "secret", Err: err}
	}
	var got []byte
	if err := s.db.QueryRowContext(ctx, `SELECT secret FROM spread_guard_secret WHERE id = 1`).Scan(&got); err != nil {
		return nil, &StoreError{Op: "secret", Err: err}
	}
	if len(got) < 32 {
		return nil, &StoreError{Op: "secret", Err: errors.New("stored secret is shorter than 32 bytes")}
	}
	return got, nil
}

// Len reports how many sessions the table holds, expired ones included.
func (s *SQLStore) Len(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM spread_guard_session`).Scan(&n); err != nil {
		return 0, &StoreError{Op: "count", Err: err}
	}
	return n, nil
}

// Close closes the database.
func (s *SQLStore) Close() error { return s.db.Close() }
