package djangostore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred/django"
)

// newBackendStore opens an empty database of backend b with Django's
// user table and the given users (password "pw-"+name).
func newBackendStore(t *testing.T, b backend, cfg *Config, users ...string) (*Store, string) {
	t.Helper()
	ctx := context.Background()
	dsn := b.dsn(t)
	s := openStore(t, dsn, cfg)
	if _, err := s.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := s.AddUser(ctx, u, []byte("pw-"+u)); err != nil {
			t.Fatal(err)
		}
	}
	return s, dsn
}

func readLastLogins(t *testing.T, s *Store) map[string]*time.Time {
	t.Helper()
	list, err := s.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*time.Time{}
	for _, u := range list {
		out[u.Username] = u.LastLogin
	}
	return out
}

// waitIdle waits until no flusher goroutine runs.
func waitIdle(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		running := s.ll.running
		s.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("flusher still running with nothing pending")
		}
		time.Sleep(time.Millisecond)
	}
}

// Many concurrent logins of a few users: after Flush, each user's
// last_login is the time of its latest login (not older than the moment
// that login began, not newer than Flush's return).
func TestLastLoginConcurrent(t *testing.T) {
	users := []string{"a", "b", "c", "d"}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newBackendStore(t, b, &Config{Iterations: 100}, users...)
			var (
				mu     sync.Mutex
				latest = map[string]time.Time{} // start of each user's latest login
				wg     sync.WaitGroup
			)
			for round := 0; round < 5; round++ {
				for i := 0; i < 16; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						u := users[i%len(users)]
						start := time.Now()
						if err := s.Check(ctx, u, []byte("pw-"+u)); err != nil {
							t.Errorf("Check(%s): %v", u, err)
							return
						}
						mu.Lock()
						if start.After(latest[u]) {
							latest[u] = start
						}
						mu.Unlock()
					}(i)
				}
				// Let some batches land between rounds.
				if round%2 == 1 {
					wg.Wait()
				}
			}
			wg.Wait()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			end := time.Now()
			got := readLastLogins(t, s)
			for _, u := range users {
				ll := got[u]
				if ll == nil {
					t.Errorf("%s: last_login not set", u)
					continue
				}
				if lo := latest[u].Truncate(time.Microsecond); ll.Before(lo) || ll.After(end) {
					t.Errorf("%s: last_login %v, latest login began %v, Flush returned %v", u, ll, latest[u], end)
				}
			}
			waitIdle(t, s)
			s.mu.Lock()
			if len(s.ll.pending) != 0 || s.ll.written != s.ll.recorded || s.ll.recorded != 80 {
				t.Errorf("after Flush: %d pending, written %d of %d", len(s.ll.pending), s.ll.written, s.ll.recorded)
			}
			s.mu.Unlock()
		})
	}
}

// Close writes what is pending before it closes the database.
func TestCloseFlushes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, dsn := newBackendStore(t, b, &Config{Iterations: 100}, "x", "y")
			before := time.Now().Truncate(time.Microsecond)
			for _, u := range []string{"x", "y"} {
				if err := s.Check(ctx, u, []byte("pw-"+u)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Check(ctx, "x", []byte("pw-x")); err == nil {
				t.Error("Check after Close succeeded")
			}
			s2 := openStore(t, dsn, nil)
			for u, ll := range readLastLogins(t, s2) {
				if ll == nil || ll.Before(before) {
					t.Errorf("%s: last_login %v after Close, want >= %v", u, ll, before)
				}
			}
		})
	}
}

// freezeLastLogin makes every UPDATE of last_login fail.
func freezeLastLogin(t *testing.T, s *Store) {
	t.Helper()
	var stmts []string
	if s.dialect == dialectSQLite {
		stmts = []string{`CREATE TRIGGER freeze_last_login BEFORE UPDATE OF last_login ON auth_user BEGIN SELECT RAISE(ABORT, 'last_login is frozen'); END`}
	} else {
		stmts = []string{
			`CREATE FUNCTION freeze_last_login() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'last_login is frozen'; END $$`,
			`CREATE TRIGGER freeze_last_login BEFORE UPDATE OF last_login ON auth_user FOR EACH ROW EXECUTE FUNCTION freeze_last_login()`,
		}
	}
	for _, q := range stmts {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A failed background write is returned by the next Flush (once), by
// Close when no Flush took it, and logged.
func TestLastLoginWriteError(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			var logBuf syncBuffer
			logger := slog.New(slog.NewTextHandler(&logBuf, nil))
			s, _ := newBackendStore(t, b, &Config{Iterations: 100, Logger: logger}, "w")
			freezeLastLogin(t, s)
			if err := s.Check(ctx, "w", []byte("pw-w")); err != nil {
				t.Fatalf("Check = %v; the login itself must succeed", err)
			}
			err := s.Flush(ctx)
			if err == nil || !strings.Contains(err.Error(), "last_login is frozen") {
				t.Fatalf("Flush = %v, want the trigger's error", err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Errorf("second Flush = %v, want nil (the error was returned)", err)
			}
			if out := logBuf.String(); !strings.Contains(out, "last_login") || !strings.Contains(out, "frozen") ||
				strings.Contains(out, "pw-w") || strings.Contains(out, "pbkdf2") {
				t.Errorf("log: %q", out)
			}
			if ll := readLastLogins(t, s)["w"]; ll != nil {
				t.Errorf("last_login %v written through the trigger", ll)
			}

			// Not flushed: Close returns it.
			if err := s.Check(ctx, "w", []byte("pw-w")); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err == nil || !strings.Contains(err.Error(), "last_login is frozen") {
				t.Errorf("Close = %v, want the trigger's error", err)
			}
		})
	}
}

// A write error with the database closed under the Store: also reported.
func TestLastLoginDatabaseClosed(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: 100})
	// Record directly (Check's SELECT would fail first on a closed DB).
	s.db.Close()
	if err := s.recordLogin(ctx, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Flush = %v, want database closed", err)
	}
}

// The pending set is bounded: with the database locked by someone else,
// at most maxPending users wait; the next distinct user's Check waits
// (here until its ctx ends), while a user already pending is recorded
// at once. Everything lands once the lock goes.
func TestLastLoginBound(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s := openStore(t, "sqlite:"+path, nil)
	if _, err := s.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	var blockedAt int64
	for id := int64(1); id <= 2*maxPending+1; id++ {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := s.recordLogin(c, id, time.Now())
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("recordLogin(%d) = %v", id, err)
			}
			blockedAt = id
			break
		}
	}
	if blockedAt == 0 {
		t.Fatal("the pending set grew past maxPending")
	}
	// The first user to wait is the one past maxPending. Waiting cut the
	// writer's gathering short: it took the full set and is stuck on the
	// lock, so what is held is that batch plus what is pending since.
	if blockedAt != maxPending+1 {
		t.Errorf("the first Check to wait was user %d, want %d", blockedAt, maxPending+1)
	}
	s.mu.Lock()
	n := len(s.ll.pending)
	s.mu.Unlock()
	if n > maxPending {
		t.Errorf("%d pending, more than %d", n, maxPending)
	}
	// A pending user is not blocked.
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if err := s.recordLogin(c, blockedAt-1, time.Now()); err != nil {
		t.Errorf("recording a pending user: %v", err)
	}
	cancel()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
}

func TestLastLoginRehash(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, &Config{Iterations: testIterations, Rehash: true})
	if err := s.AddUser(ctx, "old", nil); err != nil {
		t.Fatal(err)
	}
	old := django.MakePasswordIterations([]byte("pw"), 10)
	if _, err := s.db.Exec(`UPDATE auth_user SET password = ? WHERE username = 'old'`, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx, "old", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	// The hash is replaced before Check returns.
	var pw string
	if err := s.db.QueryRow(`SELECT password FROM auth_user WHERE username = 'old'`).Scan(&pw); err != nil {
		t.Fatal(err)
	}
	if pw == old || django.MustUpdate(pw, testIterations) {
		t.Errorf("not re-hashed: %q", pw)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ll := readLastLogins(t, s)["old"]; ll == nil {
		t.Error("last_login not set")
	}
}

// Logins that find the writer idle are gathered: many logins within
// gatherDelay cost one transaction, and each user's time is the time
// of its own login, not of the write.
func TestLastLoginGathered(t *testing.T) {
	ctx := context.Background()
	users := []string{"a", "b", "c"}
	s, _ := newBackendStore(t, backends[0], &Config{Iterations: 100}, users...)
	start := time.Now()
	for i := 0; i < 30; i++ {
		if err := s.Check(ctx, users[i%3], []byte("pw-"+users[i%3])); err != nil {
			t.Fatal(err)
		}
	}
	loggedIn := time.Now()
	// Wait (bounded) for the writer to finish on its own, without Flush.
	for i := 0; ; i++ {
		s.mu.Lock()
		running, batches := s.ll.running, s.ll.batches
		s.mu.Unlock()
		if !running {
			if batches != 1 {
				t.Errorf("%d transactions for 30 logins within %v, want 1", batches, gatherDelay)
			}
			break
		}
		if i > 100 {
			t.Fatal("the writer did not finish within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := readLastLogins(t, s)
	for _, u := range users {
		ll := got[u]
		if ll == nil || ll.Before(start.Truncate(time.Microsecond)) || ll.After(loggedIn) {
			t.Errorf("%s: last_login %v, want within [%v, %v]", u, ll, start, loggedIn)
		}
	}
}
