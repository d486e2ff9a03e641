package djangotest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gospread/spread/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func exercise(t *testing.T, d *Django) {
	t.Helper()
	d.Migrate(t)
	for _, alg := range []string{"pbkdf2_sha256", "argon2", "bcrypt_sha256", "md5", "unsalted_md5"} {
		if !slices.Contains(d.Hashers, alg) {
			t.Errorf("hasher %s missing from %v", alg, d.Hashers)
		}
	}
	enc := d.CreateUsers(t,
		User{Username: "alice", Password: "pw-a"},
		User{Username: "bob", Password: "pw-b", Algorithm: "bcrypt_sha256", Params: map[string]any{"rounds": 4}},
		User{Username: "carol", Password: "pw-c", Inactive: true},
		User{Username: "dave", Unusable: true},
	)
	if got := enc["bob"]; !strings.HasPrefix(got, "bcrypt_sha256$$2b$") {
		t.Errorf("bob's hash %q", got)
	}
	if enc["dave"][0] != '!' {
		t.Errorf("dave's hash %q not unusable", enc["dave"])
	}
	got := d.Authenticate(t, Login{"alice", "pw-a"}, Login{"alice", "nope"}, Login{"bob", "pw-b"},
		Login{"carol", "pw-c"}, Login{"dave", ""}, Login{"nobody", "x"})
	want := []bool{true, false, true, false, false, false}
	if !slices.Equal(got, want) {
		t.Errorf("authenticate = %v, want %v", got, want)
	}
	if !d.CheckPassword(t, "pw-a", enc["alice"]) || d.CheckPassword(t, "pw-x", enc["alice"]) {
		t.Error("check_password wrong")
	}
	if h := d.MakePassword(t, "x", "pbkdf2_sha1", map[string]any{"iterations": 10}); !strings.HasPrefix(h, "pbkdf2_sha1$10$") {
		t.Errorf("MakePassword = %q", h)
	}
	if rows := d.Users(t); len(rows) != 4 || rows[2].IsActive {
		t.Errorf("users = %+v", rows)
	}
}

func TestSQLite(t *testing.T) {
	d := New(t, "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite3"), &Options{PBKDF2Iterations: 1000})
	t.Logf("Django %s, hashers %v", d.Version, d.Hashers)
	exercise(t, d)
}

func TestPostgres(t *testing.T) {
	d := New(t, pgtest.Start(t), &Options{PBKDF2Iterations: 1000})
	exercise(t, d)
}
