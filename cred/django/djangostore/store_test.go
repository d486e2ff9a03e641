package djangostore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/pgtest"

	"github.com/gospread/spread/cred/django"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testIterations keeps pbkdf2 cheap where the test is not about the
// default count. Django's preferred hasher is set to the same count.
const testIterations = 1000

type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite3") }},
	{"postgres", func(t *testing.T) string { return pgtest.Start(t) }},
}

func openStore(t *testing.T, dsn string, cfg *Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cheap lists one Django user per hasher, at low cost.
var cheap = []djangotest.User{
	{Username: "u_pbkdf2_sha256", Password: "pw pbkdf2 256"},
	{Username: "u_pbkdf2_sha1", Password: "pw pbkdf2 1", Algorithm: "pbkdf2_sha1", Params: map[string]any{"iterations": 1000}},
	{Username: "u_argon2", Password: "pw argon2 \u00e9", Algorithm: "argon2", Params: map[string]any{"time_cost": 1, "memory_cost": 1024, "parallelism": 2}},
	{Username: "u_bcrypt_sha256", Password: "pw bcrypt sha", Algorithm: "bcrypt_sha256", Params: map[string]any{"rounds": 4}},
	{Username: "u_bcrypt", Password: "pw bcrypt", Algorithm: "bcrypt", Params: map[string]any{"rounds": 4}},
	{Username: "u_sha1", Password: "pw sha1", Algorithm: "sha1"},
	{Username: "u_md5", Password: "pw md5", Algorithm: "md5"},
	{Username: "u_unsalted_sha1", Password: "pw unsalted sha1", Algorithm: "unsalted_sha1"},
	{Username: "u_unsalted_md5", Password: "pw unsalted md5", Algorithm: "unsalted_md5"},
}

func TestWithDjango(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			want := testWithDjango(t, b.dsn(t))
			testSpreadSchema(t, b, want)
		})
	}
}

// testWithDjango runs Spread and Django on one database that Django
// migrated, and returns the description of Django's user table.
func testWithDjango(t *testing.T, dsn string) (djangoTable []string) {
	ctx := context.Background()
	dj := djangotest.New(t, dsn, &djangotest.Options{PBKDF2Iterations: testIterations})
	dj.Migrate(t)

	users := slices.Clone(cheap)
	users = append(users,
		djangotest.User{Username: "inactive", Password: "pw inactive", Inactive: true},
		djangotest.User{Username: "inactive_md5", Password: "pw inactive", Algorithm: "md5", Inactive: true},
		djangotest.User{Username: "unusable", Unusable: true},
		djangotest.User{Username: "old_pbkdf2", Password: "pw old", Params: map[string]any{"iterations": 500}},
		djangotest.User{Username: "Cased", Password: "pw cased"},
	)
	if slices.Contains(dj.Hashers, "scrypt") {
		users = append(users, djangotest.User{Username: "u_scrypt", Password: "pw scrypt", Algorithm: "scrypt", Params: map[string]any{"work_factor": 1024}})
	}
	stored := dj.CreateUsers(t, users...)

	s := openStore(t, dsn, &Config{Iterations: testIterations})
	djangoTable = describeTable(t, s)
	if created, err := s.EnsureSchema(ctx); err != nil || created {
		t.Fatalf("EnsureSchema on Django's table = %v, %v; want false, nil", created, err)
	}

	good := map[string]bool{}
	for _, u := range users {
		err := s.Check(ctx, u.Username, []byte(u.Password))
		shouldPass := !u.Inactive && !u.Unusable
		if shouldPass && err != nil {
			t.Errorf("Check(%s, right password) = %v (hash %s)", u.Username, err, stored[u.Username])
		}
		if !shouldPass && !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Errorf("Check(%s) = %v, want refusal", u.Username, err)
		}
		if shouldPass {
			good[u.Username] = true
		}
		if err := s.Check(ctx, u.Username, []byte(u.Password+"x")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Errorf("Check(%s, wrong password) = %v", u.Username, err)
		}
	}
	for _, name := range []string{"nobody", "cased", "CASED", "u_md5 ", "", "bad\xff", "nul\x00"} {
		if err := s.Check(ctx, name, []byte("pw cased")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Errorf("Check(%q) = %v, want refusal", name, err)
		}
	}
	for _, pw := range []string{"", "!"} {
		if err := s.Check(ctx, "unusable", []byte(pw)); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Errorf("Check(unusable, %q) = %v", pw, err)
		}
	}

	// last_login: set exactly for the successful logins, readable by
	// Spread and by Django.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(users) {
		t.Fatalf("ListUsers: %d users, want %d", len(list), len(users))
	}
	for _, u := range list {
		if (u.LastLogin != nil) != good[u.Username] {
			t.Errorf("%s: last_login %v, logged in %v", u.Username, u.LastLogin, good[u.Username])
		}
		if u.LastLogin != nil && time.Since(*u.LastLogin).Abs() > time.Minute {
			t.Errorf("%s: last_login %v is not now", u.Username, u.LastLogin)
		}
		if want := django.Identify(stored[u.Username]); u.Algorithm != want {
			t.Errorf("%s: algorithm %q, want %q", u.Username, u.Algorithm, want)
		}
		if u.Active == (u.Username == "inactive" || u.Username == "inactive_md5") {
			t.Errorf("%s: active %v", u.Username, u.Active)
		}
	}
	spreadLogins := map[string]time.Time{}
	for _, u := range list {
		if u.LastLogin != nil {
			spreadLogins[u.Username] = *u.LastLogin
		}
	}
	for _, row := range dj.Users(t) {
		if row.Password != stored[row.Username] {
			t.Errorf("%s: hash changed without Rehash: %q -> %q", row.Username, stored[row.Username], row.Password)
		}
		want, ok := spreadLogins[row.Username]
		if (row.LastLogin != nil) != ok {
			t.Errorf("%s: Django sees last_login %v, Spread wrote %v", row.Username, row.LastLogin, ok)
			continue
		}
		if ok {
			got, err := time.Parse(time.RFC3339Nano, *row.LastLogin)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s: Django reads last_login %q (%v), Spread wrote %v", row.Username, *row.LastLogin, err, want)
			}
		}
	}

	// Users written by Spread log in to Django.
	if err := s.AddUser(ctx, "spready", []byte("from spread \u2603")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "spready", []byte("again")); !errors.Is(err, ErrUserExists) {
		t.Errorf("AddUser twice = %v, want ErrUserExists", err)
	}
	if err := s.AddUser(ctx, "no_password", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "changed", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "changed", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "ghost", []byte("x")); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("SetPassword(ghost) = %v", err)
	}
	if err := s.AddUser(ctx, "gone", []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "gone"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("DeleteUser twice = %v", err)
	}
	if err := s.AddUser(ctx, "bad name!", []byte("x")); !errors.Is(err, ErrBadUsername) {
		t.Errorf("AddUser(bad name!) = %v", err)
	}
	got := dj.Authenticate(t,
		djangotest.Login{Username: "spready", Password: "from spread \u2603"},
		djangotest.Login{Username: "spready", Password: "from spread"},
		djangotest.Login{Username: "no_password", Password: ""},
		djangotest.Login{Username: "changed", Password: "second"},
		djangotest.Login{Username: "changed", Password: "first"},
		djangotest.Login{Username: "gone", Password: "bye"},
	)
	if want := []bool{true, false, false, true, false, false}; !slices.Equal(got, want) {
		t.Errorf("Django authenticate on Spread's users = %v, want %v", got, want)
	}
	if err := s.Check(ctx, "spready", []byte("from spread \u2603")); err != nil {
		t.Errorf("Spread refuses its own user: %v", err)
	}

	// Rehash: old hashes become pbkdf2_sha256 at the current count, in
	// a form Django accepts and would not re-hash again.
	rs := openStore(t, dsn, &Config{Iterations: testIterations, Rehash: true})
	for _, name := range []string{"old_pbkdf2", "u_sha1", "u_unsalted_md5", "u_argon2", "u_pbkdf2_sha256"} {
		var pw string
		for _, u := range users {
			if u.Username == name {
				pw = u.Password
			}
		}
		if err := rs.Check(ctx, name, []byte(pw+"-wrong")); err == nil {
			t.Fatalf("%s: wrong password accepted", name)
		}
		if err := rs.Check(ctx, name, []byte(pw)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// An inactive user with an old hash is not re-hashed.
	if err := rs.Check(ctx, "inactive_md5", []byte("pw inactive")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("inactive_md5: %v", err)
	}
	if err := rs.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after := map[string]string{}
	for _, row := range dj.Users(t) {
		after[row.Username] = row.Password
	}
	for _, name := range []string{"old_pbkdf2", "u_sha1", "u_unsalted_md5", "u_argon2"} {
		if !strings.HasPrefix(after[name], "pbkdf2_sha256$1000$") || django.MustUpdate(after[name], testIterations) {
			t.Errorf("%s not re-hashed: %q", name, after[name])
		}
	}
	for _, name := range []string{"u_pbkdf2_sha256", "inactive_md5"} {
		if after[name] != stored[name] {
			t.Errorf("%s re-hashed needlessly: %q -> %q", name, stored[name], after[name])
		}
	}
	logins := []djangotest.Login{
		{Username: "old_pbkdf2", Password: "pw old"},
		{Username: "u_sha1", Password: "pw sha1"},
		{Username: "u_unsalted_md5", Password: "pw unsalted md5"},
		{Username: "u_argon2", Password: "pw argon2 \u00e9"},
	}
	if got := dj.Authenticate(t, logins...); !slices.Equal(got, []bool{true, true, true, true}) {
		t.Errorf("Django authenticate after Spread's re-hash = %v", got)
	}
	for _, row := range dj.Users(t) {
		if after[row.Username] != row.Password && row.Username != "gone" {
			t.Errorf("Django re-hashed %s again: %q -> %q", row.Username, after[row.Username], row.Password)
		}
	}
	return djangoTable
}

// testSpreadSchema checks that EnsureSchema on an empty database makes
// the table Django's migrations make (want), and that Django uses it.
func testSpreadSchema(t *testing.T, b backend, want []string) {
	ctx := context.Background()
	if len(want) == 0 {
		t.Fatal("no description of Django's table")
	}
	dsn := b.dsn(t)
	s := openStore(t, dsn, &Config{Iterations: testIterations})
	created, err := s.EnsureSchema(ctx)
	if err != nil || !created {
		t.Fatalf("EnsureSchema = %v, %v", created, err)
	}
	if created, err := s.EnsureSchema(ctx); err != nil || created {
		t.Fatalf("second EnsureSchema = %v, %v", created, err)
	}
	if got := describeTable(t, s); !slices.Equal(got, want) {
		t.Errorf("Spread's table:\n%s\nDjango's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Django uses the table Spread made, without migrating.
	if err := s.AddUser(ctx, "made_by_spread", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	d2 := djangotest.New(t, dsn, &djangotest.Options{PBKDF2Iterations: testIterations})
	d2.CreateUsers(t, djangotest.User{Username: "made_by_django", Password: "pw2"})
	if got := d2.Authenticate(t, djangotest.Login{Username: "made_by_spread", Password: "pw"},
		djangotest.Login{Username: "made_by_django", Password: "pw2"}); !slices.Equal(got, []bool{true, true}) {
		t.Errorf("Django authenticate on Spread's schema = %v", got)
	}
	if err := s.Check(ctx, "made_by_django", []byte("pw2")); err != nil {
		t.Errorf("Check(made_by_django) = %v", err)
	}
}

// describeTable lists the user table's columns and indexes in a form
// that two databases of the same backend can be compared by.
func describeTable(t *testing.T, s *Store) []string {
	t.Helper()
	var q string
	if s.dialect == dialectSQLite {
		q = `SELECT sql FROM sqlite_master WHERE tbl_name = 'auth_user' AND sql IS NOT NULL ORDER BY name`
	} else {
		q = `SELECT column_name || ' ' || data_type || ' ' || coalesce(character_maximum_length::text, '-') || ' ' ||
				is_nullable || ' ' || coalesce(column_default, '-') FROM information_schema.columns
				WHERE table_name = 'auth_user' ORDER BY ordinal_position`
	}
	rows, err := s.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	out := scanStrings(t, rows)
	if s.dialect == dialectPostgres {
		rows, err := s.db.Query(`SELECT indexdef FROM pg_indexes WHERE tablename = 'auth_user' ORDER BY indexname`)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, scanStrings(t, rows)...)
		rows, err = s.db.Query(`SELECT conname || ' ' || contype::text FROM pg_constraint WHERE conrelid = 'auth_user'::regclass ORDER BY conname`)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, scanStrings(t, rows)...)
	}
	return out
}

func scanStrings(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		// Django creates through a table rebuild: normalize its IF NOT EXISTS.
		out = append(out, strings.Replace(s, "CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// An existing table is never altered, whatever its shape.
func TestEnsureSchemaLeavesExistingTable(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.dsn(t), &Config{UserTable: "custom_users"})
			const ddl = `CREATE TABLE custom_users (id integer PRIMARY KEY, username varchar(10), extra text)`
			if _, err := s.db.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			before := columns(t, s, "custom_users")
			created, err := s.EnsureSchema(ctx)
			if err != nil || created {
				t.Fatalf("EnsureSchema = %v, %v", created, err)
			}
			if after := columns(t, s, "custom_users"); !slices.Equal(before, after) {
				t.Errorf("table altered: %v -> %v", before, after)
			}
		})
	}
}

func columns(t *testing.T, s *Store, table string) []string {
	t.Helper()
	var rows *sql.Rows
	var err error
	if s.dialect == dialectSQLite {
		rows, err = s.db.Query(`SELECT name || ' ' || type FROM pragma_table_info(?) ORDER BY cid`, table)
	} else {
		rows, err = s.db.Query(`SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, table)
	}
	if err != nil {
		t.Fatal(err)
	}
	return scanStrings(t, rows)
}

func TestCustomUserTable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "db"), &Config{UserTable: "accounts_user", Iterations: testIterations})
	if created, err := s.EnsureSchema(ctx); err != nil || !created {
		t.Fatalf("EnsureSchema = %v, %v", created, err)
	}
	if err := s.AddUser(ctx, "ann", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx, "ann", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM accounts_user WHERE last_login IS NOT NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("accounts_user rows with last_login: %d, %v", n, err)
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "db")
	for _, name := range []string{`auth_user"; DROP TABLE x; --`, "a b", "1abc", "auth.user", strings.Repeat("a", 64), "ü"} {
		if _, err := Open(ctx, dsn, &Config{UserTable: name}); err == nil {
			t.Errorf("UserTable %q accepted", name)
		}
	}
	for _, n := range []int{-1, django.MaxIterations + 1} {
		if _, err := Open(ctx, dsn, &Config{Iterations: n}); err == nil {
			t.Errorf("Iterations %d accepted", n)
		}
	}
	for _, bad := range []string{"mysql://x", "sqlite:", "/tmp/x.db", ""} {
		if _, err := Open(ctx, bad, nil); err == nil {
			t.Errorf("DSN %q accepted", bad)
		}
	}
	s := openStore(t, dsn, nil)
	if c := s.Config(); c.UserTable != "auth_user" || c.Iterations != django.DefaultIterations || c.Rehash || c.ReadOnly {
		t.Errorf("defaults: %+v", c)
	}
}

func TestLikeIndexName(t *testing.T) {
	// Names computed by Django 3.2's schema editor for PostgreSQL.
	for table, want := range map[string]string{
		"auth_user":             "auth_user_username_6821ab7c_like",
		"accounts_user":         "accounts_user_username_6088629e_like",
		strings.Repeat("a", 60): "aaaaaaaaaaaaaaaaaaaaaaaa_username_828b7c7f_like",
	} {
		if got := likeIndexName(table, "username"); got != want {
			t.Errorf("likeIndexName(%s) = %s, want %s", table, got, want)
		}
	}
}
