package djangostore

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/gospread/spread/cred/django"
)

// Config tunes a Store. The zero value, and a nil *Config, mean the
// defaults described on each field.
type Config struct {
	// UserTable is the table that holds the users. Default "auth_user",
	// Django's own. A custom user model works when its table has the
	// columns of auth_user (Django's AbstractUser does). Only ASCII
	// letters, digits and "_" are allowed, at most 63 of them, not
	// starting with a digit: the name is placed into SQL text.
	UserTable string

	// Iterations is the pbkdf2_sha256 iteration count Spread writes and
	// treats as current. Default django.DefaultIterations (260000, Django 3.2).
	// Set it to what the Django project's preferred hasher uses (Django
	// 6.0: django.Django60Iterations, 1,200,000), or Django and Spread will keep
	// re-hashing each other's passwords when both have Rehash on.
	Iterations int

	// Rehash makes a successful Check replace the stored hash with a new
	// pbkdf2_sha256 one at Iterations, wherever Django would (another
	// algorithm, another iteration count, a short salt). The new hash is
	// written before Check returns; last_login follows as after any
	// successful Check (see Store.Check). Default false: Spread then
	// leaves passwords as they are.
	Rehash bool

	// ReadOnly stops Check from writing anything: no last_login, no
	// re-hash. For a database user that may only SELECT. Default false.
	//
	// Without ReadOnly, a successful Check sets last_login to the time
	// of that login, but writes it after answering: a background writer
	// stores it, usually within milliseconds, together with other
	// logins' in one transaction. Store.Flush waits for these writes and
	// reports their errors; Store.Close flushes before closing.
	ReadOnly bool

	// QueryTimeout bounds each database round trip of a login check
	// (Check, CheckCredentials): finding the user, re-hashing. When the
	// database does not answer within it (stopped, frozen, unreachable),
	// the check returns a *cred.UnavailableError instead of waiting.
	// Default DefaultQueryTimeout (5 seconds).
	QueryTimeout time.Duration

	// Logger, when not nil, receives an Error record for every failed
	// background last_login write (with the number of users and the
	// error; never a password or hash). Those errors are also returned by
	// the next Store.Flush or Store.Close, logged or not.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var out Config
	if c != nil {
		out = *c
	}
	if out.UserTable == "" {
		out.UserTable = "auth_user"
	}
	if !identRE.MatchString(out.UserTable) {
		return out, fmt.Errorf("django: invalid UserTable %q: want [A-Za-z_][A-Za-z0-9_]{0,62}", out.UserTable)
	}
	if out.Iterations == 0 {
		out.Iterations = django.DefaultIterations
	}
	if out.QueryTimeout <= 0 {
		out.QueryTimeout = DefaultQueryTimeout
	}
	if out.Iterations < 1 || out.Iterations > django.MaxIterations {
		return out, fmt.Errorf("django: invalid Iterations %d", out.Iterations)
	}
	return out, nil
}

// DefaultQueryTimeout is Config.QueryTimeout's default.
const DefaultQueryTimeout = 5 * time.Second

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// Store is a Django user table reached through database/sql. It is safe
// for concurrent use. It is also a cred.KindsChecker for
// cred.KindPassword credentials; see CheckCredentials.
type Store struct {
	db      *sql.DB
	dialect dialect
	cfg     Config
	table   string // quoted

	mu sync.Mutex
	ll lastLogins // guarded by mu; see lastlogin.go
}

// Open connects to the database named by dsn:
//
//   - "sqlite:PATH" opens the SQLite file PATH with a pure-Go driver
//     (modernc.org/sqlite). PATH may carry that driver's query
//     parameters; without any, a 5 s busy timeout is set so that Spread
//     and a running Django can share the file.
//   - "postgres://..." or "postgresql://..." opens PostgreSQL with pgx;
//     the DSN is pgx's (libpq's) URL syntax.
//
// Open checks that the database answers; it does not look at or create
// the user table (see EnsureSchema). cfg may be nil.
func Open(ctx context.Context, dsn string, cfg *Config) (*Store, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var driver, source string
	var d dialect
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		driver, d = "sqlite", dialectSQLite
		source = strings.TrimPrefix(dsn, "sqlite:")
		if source == "" {
			return nil, errors.New("django: sqlite DSN has no path")
		}
		if !strings.Contains(source, "?") {
			source += "?_pragma=busy_timeout(5000)"
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		driver, source, d = "pgx", dsn, dialectPostgres
	default:
		return nil, errors.New(`django: DSN must start with "sqlite:", "postgres://" or "postgresql://"`)
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("django: open: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("django: connect: %w", err)
	}
	return &Store{db: db, dialect: d, cfg: c, table: quoteIdent(c.UserTable)}, nil
}

// Config returns the effective configuration, defaults filled in.
func (s *Store) Config() Config { return s.cfg }

func quoteIdent(name string) string { return `"` + name + `"` }

// q rewrites "?" placeholders for the dialect. The queries in this
// package contain no literal question marks.
func (s *Store) q(query string) string {
	if s.dialect != dialectPostgres {
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

// timeArg converts t to what Django stores for the dialect: on
// PostgreSQL a timestamp with time zone; on SQLite Django's text form of
// the UTC time, "YYYY-MM-DD HH:MM:SS[.ffffff]" (USE_TZ = True).
func (s *Store) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if s.dialect == dialectPostgres {
		return t
	}
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// parseTime reads a timestamp column: a time.Time from the driver, or
// the text SQLite holds (naive values are UTC, as Django writes them with
// USE_TZ = True).
func parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case []byte:
		return parseTime(string(x))
	case string:
		for _, layout := range []string{
			"2006-01-02 15:04:05.999999999Z07:00",
			"2006-01-02T15:04:05.999999999Z07:00",
			"2006-01-02 15:04:05.999999999",
			"2006-01-02T15:04:05.999999999",
		} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// tableExists reports whether a table named name (unquoted) exists.
func (s *Store) tableExists(ctx context.Context, q queryer, name string) (bool, error) {
	var n int
	var err error
	if s.dialect == dialectPostgres {
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
			AND n.nspname = ANY (current_schemas(false))`, name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx,
			`SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?`, name).Scan(&n)
	}
	return n > 0, err
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// EnsureSchema creates the user table when it is missing, as Django 3.2's
// migrations leave auth_user on this backend (same columns, types,
// constraints and, on PostgreSQL, the same extra LIKE index). It never
// alters a table that exists, whatever its shape. It reports whether it
// created the table.
//
// Only the user table is created: a database made this way serves
// Spread and Django's authenticate(), but a Django project that wants the
// rest of django.contrib.auth (groups, permissions) must run its own
// migrations on a database that has none of auth's tables yet.
func (s *Store) EnsureSchema(ctx context.Context) (created bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("django: schema: %w", err)
	}
	defer tx.Rollback()
	ok, err := s.tableExists(ctx, tx, s.cfg.UserTable)
	if err != nil {
		return false, fmt.Errorf("django: schema: %w", err)
	}
	if ok {
		return false, nil
	}
	for _, stmt := range s.schemaSQL() {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("django: schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("django: schema: %w", err)
	}
	return true, nil
}

// schemaSQL returns the statements that create the user table.
func (s *Store) schemaSQL() []string {
	t := s.table
	if s.dialect == dialectSQLite {
		// The column order is the one Django's SQLite migrations end with
		// (0012 rebuilt the table with first_name last).
		return []string{`CREATE TABLE ` + t + ` ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, ` +
			`"password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, ` +
			`"username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, ` +
			`"email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, ` +
			`"date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL)`}
	}
	return []string{
		`CREATE TABLE ` + t + ` ("id" serial NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL, ` +
			`"last_login" timestamp with time zone NULL, "is_superuser" boolean NOT NULL, ` +
			`"username" varchar(150) NOT NULL UNIQUE, "first_name" varchar(150) NOT NULL, ` +
			`"last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" boolean NOT NULL, ` +
			`"is_active" boolean NOT NULL, "date_joined" timestamp with time zone NOT NULL)`,
		`CREATE INDEX ` + quoteIdent(likeIndexName(s.cfg.UserTable, "username")) + ` ON ` + t +
			` ("username" varchar_pattern_ops)`,
	}
}

// likeIndexName names the varchar_pattern_ops index the way Django's
// PostgreSQL schema editor does: table_column_<8 hex of MD5>_like, with
// table and column cut to fit PostgreSQL's 63 bytes when too long.
func likeIndexName(table, column string) string {
	sum := md5.Sum([]byte(table + column))
	suffix := hex.EncodeToString(sum[:])[:8] + "_like"
	const maxLen = 63
	name := table + "_" + column + "_" + suffix
	if len(name) <= maxLen {
		return name
	}
	keep := (maxLen-len(suffix))/2 - 1
	name = table[:min(keep, len(table))] + "_" + column[:min(keep, len(column))] + "_" + suffix
	if name[0] == '_' || (name[0] >= '0' && name[0] <= '9') {
		name = "D" + name[:len(name)-1]
	}
	return name
}

// Errors of the user-management methods.
var (
	ErrUserExists  = errors.New("django: user already exists")
	ErrNoSuchUser  = errors.New("django: no such user")
	ErrBadUsername = errors.New("django: invalid username")
)

// ValidUsername reports whether name passes Django's default username
// rule: 1 to 150 characters, each a letter, a digit or one of "@.+-_".
// (Django also NFKC-normalizes names typed into its forms; Spread stores
// the name as given.)
func ValidUsername(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 150 {
		return false
	}
	for _, r := range name {
		if !(r == '@' || r == '.' || r == '+' || r == '-' || r == '_' || isWord(r)) {
			return false
		}
	}
	return true
}

// AddUser inserts an active user that is neither staff nor superuser,
// with empty names and email, date_joined now, and password encoded by
// MakePassword at Config.Iterations. A nil password stores an unusable
// one (the account cannot log in until SetPassword).
func (s *Store) AddUser(ctx context.Context, username string, password []byte) error {
	if !ValidUsername(username) {
		return fmt.Errorf("%w: %q", ErrBadUsername, username)
	}
	enc := s.encode(password)
	now := s.timeArg(time.Now())
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO `+s.table+
		` ("password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",`+
		` "is_staff", "is_active", "date_joined") VALUES (?, NULL, ?, ?, '', '', '', ?, ?, ?)`),
		enc, false, username, false, true, now)
	if err != nil {
		var n int
		if e := s.db.QueryRowContext(ctx, s.q(`SELECT count(*) FROM `+s.table+` WHERE "username" = ?`),
			username).Scan(&n); e == nil && n > 0 {
			return fmt.Errorf("%w: %q", ErrUserExists, username)
		}
		return fmt.Errorf("django: add user: %w", err)
	}
	return nil
}

func (s *Store) encode(password []byte) string {
	if password == nil {
		return django.UnusablePassword()
	}
	return django.MakePasswordIterations(password, s.cfg.Iterations)
}

// SetPassword replaces the user's password with a new pbkdf2_sha256 hash
// at Config.Iterations; a nil password makes it unusable.
func (s *Store) SetPassword(ctx context.Context, username string, password []byte) error {
	return s.updateOne(ctx, `UPDATE `+s.table+` SET "password" = ? WHERE "username" = ?`,
		username, s.encode(password), username)
}

// SetActive sets is_active. Inactive users never log in.
func (s *Store) SetActive(ctx context.Context, username string, active bool) error {
	return s.updateOne(ctx, `UPDATE `+s.table+` SET "is_active" = ? WHERE "username" = ?`,
		username, active, username)
}

func (s *Store) updateOne(ctx context.Context, query, username string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("django: update user: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %q", ErrNoSuchUser, username)
	}
	return nil
}

// DeleteUser removes the user together with the rows Django would
// cascade-delete in the tables named after the user table:
// <table>_groups and <table>_user_permissions, and django_admin_log
// entries, where those tables exist. Rows in other tables that point at
// the user make the deletion fail on databases that enforce foreign
// keys.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("django: delete user: %w", err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`SELECT "id" FROM `+s.table+` WHERE "username" = ?`), username).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %q", ErrNoSuchUser, username)
	}
	if err != nil {
		return fmt.Errorf("django: delete user: %w", err)
	}
	for _, dep := range []string{s.cfg.UserTable + "_groups", s.cfg.UserTable + "_user_permissions", "django_admin_log"} {
		if len(dep) > 63 {
			continue
		}
		ok, err := s.tableExists(ctx, tx, dep)
		if err != nil {
			return fmt.Errorf("django: delete user: %w", err)
		}
		if ok {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+quoteIdent(dep)+` WHERE "user_id" = ?`), id); err != nil {
				return fmt.Errorf("django: delete user: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+s.table+` WHERE "id" = ?`), id); err != nil {
		return fmt.Errorf("django: delete user: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("django: delete user: %w", err)
	}
	return nil
}

// User is one row as ListUsers reports it. It never carries the hash.
type User struct {
	Username  string
	Active    bool
	Staff     bool
	Superuser bool
	// LastLogin is nil when the user never logged in.
	LastLogin *time.Time
	// Algorithm is Identify of the stored password: "pbkdf2_sha256",
	// "unusable", ...
	Algorithm string
}

// ListUsers returns every user, ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT "username", "is_active", "is_staff", "is_superuser", "last_login", "password" FROM `+
		s.table+` ORDER BY "username"`)
	if err != nil {
		return nil, fmt.Errorf("django: list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var last any
		var pw string
		if err := rows.Scan(&u.Username, &u.Active, &u.Staff, &u.Superuser, &last, &pw); err != nil {
			return nil, fmt.Errorf("django: list users: %w", err)
		}
		if last != nil {
			t, ok := parseTime(last)
			if !ok {
				return nil, fmt.Errorf("django: list users: cannot read last_login %v of %q", last, u.Username)
			}
			t = t.UTC()
			u.LastLogin = &t
		}
		u.Algorithm = django.Identify(pw)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("django: list users: %w", err)
	}
	return out, nil
}
