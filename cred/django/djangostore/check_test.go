package djangostore

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"

	"github.com/gospread/spread/cred/django"
)

func newSQLiteStore(t testing.TB, cfg *Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite3"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var _ cred.KindsChecker = (*Store)(nil)

func TestCheckCredentials(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: testIterations})
	if err := s.AddUser(ctx, "alice", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if k := s.Kinds(); len(k) != 1 || k[0] != cred.KindPassword {
		t.Errorf("Kinds = %v", k)
	}
	id, err := s.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("secret")})
	if err != nil || id != "alice" {
		t.Errorf("CheckCredentials = %q, %v", id, err)
	}
	_, err = s.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("Secret")})
	if !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("wrong password: %v", err)
	}
	for _, c := range []cred.Credentials{
		&cred.UsernameChallenge{Username: "alice", Challenge: []byte("c"), Response: []byte("r")},
		cred.Anonymous{},
		nil,
	} {
		if _, err := s.CheckCredentials(ctx, c); !errors.Is(err, cred.ErrUnhandledCredentials) {
			t.Errorf("CheckCredentials(%T) = %v, want ErrUnhandledCredentials", c, err)
		}
	}
	// Through a Portal.
	p := cred.NewPortal(cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return "avatar:" + id, nil, nil
	}), s)
	if _, av, _, err := p.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("secret")}, nil); err != nil || av != "avatar:alice" {
		t.Errorf("Portal.Login = %v, %v", av, err)
	}
}

func TestCheckRules(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: testIterations})
	for _, u := range []string{"active", "inactive", "Mixed"} {
		if err := s.AddUser(ctx, u, []byte("pw")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetActive(ctx, "inactive", false); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "nopass", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
		VALUES ('pbkdf2_sha512$10$salt$hash', 0, 'strange', '', '', '', 0, 1, '2020-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"active", "pw", true},
		{"active", "PW", false},
		{"ACTIVE", "pw", false},
		{"Mixed", "pw", true},
		{"mixed", "pw", false},
		{"inactive", "pw", false},
		{"nopass", "", false},
		{"strange", "pw", false},
		{"absent", "pw", false},
	} {
		err := s.Check(ctx, c.user, []byte(c.pw))
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, cred.ErrUnauthorizedLogin)) {
			t.Errorf("Check(%q, %q) = %v, want ok=%v", c.user, c.pw, err, c.ok)
		}
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: testIterations})
	if err := s.AddUser(ctx, "ro", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	old := "sha1$$" + "b7a875fc1ea228b9061041b7cec4bd3c52ab3ce3" // sha1("letmein")
	if _, err := s.db.Exec(`UPDATE auth_user SET password = ? WHERE username = 'ro'`, old); err != nil {
		t.Fatal(err)
	}
	r := &Store{db: s.db, dialect: s.dialect, cfg: s.cfg, table: s.table}
	r.cfg.ReadOnly, r.cfg.Rehash = true, true
	if err := r.Check(ctx, "ro", []byte("letmein")); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	recorded, running := r.ll.recorded, r.ll.running
	r.mu.Unlock()
	if recorded != 0 || running {
		t.Errorf("ReadOnly recorded %d logins (flusher running %v)", recorded, running)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	users, _ := s.ListUsers(ctx)
	if users[0].LastLogin != nil || users[0].Algorithm != django.AlgUnsaltedSHA1 {
		t.Errorf("ReadOnly wrote: %+v", users[0])
	}
	// The same with writes allowed: re-hashed and logged in.
	r.cfg.ReadOnly = false
	if err := r.Check(ctx, "ro", []byte("letmein")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	users, _ = s.ListUsers(ctx)
	if users[0].LastLogin == nil || users[0].Algorithm != django.AlgPBKDF2SHA256 {
		t.Errorf("not written: %+v", users[0])
	}
}

// An unknown user, an unusable password and an old cheap hash cost about
// what a wrong password costs. The bounds are loose (timing on a shared
// machine is noisy); without the dummy work the ratio would be ~1000.
func TestRefusalTiming(t *testing.T) {
	ctx := context.Background()
	const n = 40000
	s := newSQLiteStore(t, &Config{Iterations: n})
	if err := s.AddUser(ctx, "user", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "nopass", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "cheap", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE auth_user SET password = ? WHERE username = 'cheap'`, django.MakePasswordIterations([]byte("pw"), 1)); err != nil {
		t.Fatal(err)
	}
	// Rounds interleave the users, so that a busy moment of the machine
	// slows all of them alike; each user's best round counts.
	users := []string{"user", "absent", "nopass", "cheap"}
	best := map[string]time.Duration{}
	for range 5 {
		for _, u := range users {
			start := time.Now()
			if err := s.Check(ctx, u, []byte("wrong")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
				t.Fatalf("Check(%s) = %v", u, err)
			}
			if d := time.Since(start); best[u] == 0 || d < best[u] {
				best[u] = d
			}
		}
	}
	wrong := best["user"]
	for _, u := range users[1:] {
		if d := best[u]; d < wrong/4 {
			t.Errorf("refusing %s took %v, a wrong password %v", u, d, wrong)
		}
	}
}

func TestConcurrentChecks(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: 100})
	for _, u := range []string{"a", "b", "c"} {
		if err := s.AddUser(ctx, u, []byte("pw-"+u)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := []string{"a", "b", "c"}[i%3]
			if err := s.Check(ctx, u, []byte("pw-"+u)); err != nil {
				t.Errorf("Check(%s): %v", u, err)
			}
		}(i)
	}
	wg.Wait()
}
