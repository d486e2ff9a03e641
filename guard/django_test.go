package guard_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/guard"
	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const djangoIterations = 1000

type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite3") }},
	{"postgres", func(t *testing.T) string { return pgtest.Start(t) }},
}

var (
	spreadOnce sync.Once
	spreadPath string
	spreadErr  error
)

// spreadBin builds cmd/spread once per test binary.
func spreadBin(t *testing.T) string {
	t.Helper()
	spreadOnce.Do(func() {
		dir, err := os.MkdirTemp("", "guard-spread-")
		if err != nil {
			spreadErr = err
			return
		}
		spreadPath = filepath.Join(dir, "spread")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", spreadPath, "./cmd/spread")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			spreadErr = err
			spreadPath = string(out)
		}
	})
	if spreadErr != nil {
		t.Fatalf("building spread: %v\n%s", spreadErr, spreadPath)
	}
	return spreadPath
}

// djangoEnv is a guard over a Django database that real Django filled,
// with its sessions in the same database.
type djangoEnv struct {
	*env
	dsn   string
	users *djangostore.Store
	store *guard.SQLStore
}

func openDjangoGuard(t *testing.T, dsn string, realm *webRealm, clock *fakeClock) *djangoEnv {
	t.Helper()
	ctx := context.Background()
	users, err := djangostore.Open(ctx, dsn, &djangostore.Config{Iterations: djangoIterations})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	store, err := guard.OpenSQLStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, realm: realm, clock: clock}
	e.checker = &countingChecker{KindsChecker: users}
	e.cfg = &guard.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler), Store: store, Stamper: users, SweepInterval: time.Hour}
	g, err := guard.New(cred.NewPortal(realm, e.checker), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	t.Cleanup(func() { g.Close() })
	return &djangoEnv{env: e, dsn: dsn, users: users, store: store}
}

// TestDjangoWebLogins logs in through the guard against users that
// Django created (SQLite and PostgreSQL), keeps sessions in the same
// database across a restart, and ends them when `spread users passwd`
// changes a password or Django deactivates a user.
func TestDjangoWebLogins(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			dj := djangotest.New(t, dsn, &djangotest.Options{PBKDF2Iterations: djangoIterations})
			dj.Migrate(t)
			carolPW, davePW := "carol's django pw", "dave pw \u00e9"
			dj.CreateUsers(t,
				djangotest.User{Username: "carol", Password: carolPW},
				djangotest.User{Username: "dave", Password: davePW, Algorithm: "argon2",
					Params: map[string]any{"time_cost": 1, "memory_cost": 1024, "parallelism": 1}},
				djangotest.User{Username: "erin", Password: "erin pw", Inactive: true},
			)
			realm, clock := newRealm(), newClock()
			e := openDjangoGuard(t, dsn, realm, clock)

			carol := e.login("carol", carolPW)
			dave := e.login("dave", davePW)
			e.mustBeIn(carol, "carol")
			e.mustBeIn(dave, "dave")
			for _, bad := range [][2]string{{"carol", "wrong"}, {"nobody", carolPW}, {"erin", "erin pw"}} {
				w := e.do(req("POST", "/login", loginForm(bad[0], bad[1], "")))
				if w.Code != 200 || sessionCookie(w) != nil {
					t.Fatalf("login %s: %d %v", bad[0], w.Code, sessionCookie(w))
				}
			}
			checks := e.checker.n.Load()
			for i := 0; i < 10; i++ {
				e.mustBeIn(carol, "carol")
			}
			if e.checker.n.Load() != checks {
				t.Fatal("requests in a session checked passwords")
			}

			// Restart: a new guard and store on the same database.
			e.g.Close()
			if _, lo := realm.counts("carol"); lo != 1 {
				t.Fatalf("carol: %d logouts at shutdown", lo)
			}
			e.store.Close()
			e = openDjangoGuard(t, dsn, realm, clock)
			clock.Advance(time.Minute)
			e.mustBeIn(carol, "carol")
			e.mustBeIn(dave, "dave")
			if av, _ := realm.counts("carol"); av != 2 {
				t.Fatalf("carol: %d avatars after the restart, want 2", av)
			}
			if e.checker.n.Load() != 0 {
				t.Fatal("the restarted guard checked a password")
			}

			// spread users passwd ends carol's sessions, not dave's.
			cmd := exec.Command(spreadBin(t), "users", "passwd", "--db", dsn, "carol")
			cmd.Env = append(os.Environ(), "SPREAD_PASSWORD=carol's new pw")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("spread users passwd: %v\n%s", err, out)
			}
			e.mustBeOut(carol)
			if _, lo := realm.counts("carol"); lo != 2 {
				t.Fatalf("carol: %d logouts after passwd, want 2", lo)
			}
			e.mustBeIn(dave, "dave")
			if n, err := e.store.Len(context.Background()); err != nil || n != 1 {
				t.Fatalf("sessions left: %d %v", n, err)
			}
			carol = e.login("carol", "carol's new pw")
			e.mustBeIn(carol, "carol")

			// Django deactivates dave: his session ends.
			dj.Exec(t, "from django.contrib.auth.models import User\n"+
				"User.objects.filter(username='dave').update(is_active=False)\nresult = None", nil, nil)
			e.mustBeOut(dave)
			e.mustBeIn(carol, "carol")

			// Django's own set_password ends carol's session too.
			dj.Exec(t, "from django.contrib.auth.models import User\n"+
				"u = User.objects.get(username='carol')\nu.set_password(arg)\nu.save()\nresult = None", "third pw", nil)
			e.mustBeOut(carol)
		})
	}
}

// TestSQLStore checks the SQL store's operations and purge on both
// databases.
func TestSQLStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			st, err := guard.OpenSQLStore(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			testStore(t, st)
			k1, err := st.Secret(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st2, err := guard.OpenSQLStore(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			if k2, err := st2.Secret(ctx); err != nil || string(k1) != string(k2) || len(k1) != 32 {
				t.Fatalf("secret differs between openings: %v", err)
			}
		})
	}
	if _, err := guard.OpenSQLStore(context.Background(), "mysql://x"); err == nil {
		t.Fatal("bad DSN accepted")
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, guard.NewMemoryStore()) }

func testStore(t *testing.T, st guard.Store) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 123456789)
	var h1, h2, h3 guard.Hash
	h1[0], h2[0], h3[0] = 1, 2, 3
	if _, err := st.Get(ctx, h1); err != guard.ErrNoSession {
		t.Fatalf("Get of nothing: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Create(ctx, h1, guard.Session{AvatarID: "alice", Created: t0, LastSeen: t0, Stamp: []byte{9, 8}}))
	must(st.Create(ctx, h2, guard.Session{AvatarID: "bob", Created: t0, LastSeen: t0}))
	must(st.Create(ctx, h3, guard.Session{AvatarID: "carol", Created: t0.Add(-13 * time.Hour), LastSeen: t0}))
	s, err := st.Get(ctx, h1)
	if err != nil || s.AvatarID != "alice" || !s.Created.Equal(t0) || string(s.Stamp) != "\x09\x08" {
		t.Fatalf("Get: %+v %v", s, err)
	}
	must(st.Touch(ctx, h1, t0.Add(20*time.Minute)))
	must(st.Touch(ctx, h1, t0.Add(10*time.Minute))) // never backwards
	if s, _ := st.Get(ctx, h1); !s.LastSeen.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("LastSeen %v", s.LastSeen)
	}
	// At t0+31m: bob is idle, carol too old; alice stays.
	now := t0.Add(31 * time.Minute)
	n, err := st.Purge(ctx, now.Add(-30*time.Minute), now.Add(-12*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Purge: %d %v", n, err)
	}
	if _, err := st.Get(ctx, h2); err != guard.ErrNoSession {
		t.Fatalf("bob after purge: %v", err)
	}
	must(st.Delete(ctx, h1))
	must(st.Delete(ctx, h1))
	if _, err := st.Get(ctx, h1); err != guard.ErrNoSession {
		t.Fatalf("after Delete: %v", err)
	}
}
