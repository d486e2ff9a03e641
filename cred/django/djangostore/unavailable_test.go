package djangostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/pgtest"
)

// outageServer starts a PostgreSQL server of the test's own (it is
// stopped and frozen below) with a store over it and one user.
func outageServer(t *testing.T, timeout time.Duration) (*pgtest.Server, *Store, []byte) {
	t.Helper()
	srv, err := pgtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dsn, &Config{QueryTimeout: timeout, Iterations: 1000})
	if _, err := s.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	pw := []byte("correct horse")
	if err := s.AddUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx, "alice", pw); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	return srv, s, pw
}

// checkUnavailable asserts that a check is answered "unavailable", not
// "refused", and returns how long the answer took.
func checkUnavailable(t *testing.T, s *Store, user string, pw []byte) time.Duration {
	t.Helper()
	start := time.Now()
	_, err := s.CheckCredentials(context.Background(), &cred.UsernamePassword{Username: user, Password: pw})
	took := time.Since(start)
	var ue *cred.UnavailableError
	if !errors.Is(err, cred.ErrUnavailable) || !errors.As(err, &ue) || ue.Err == nil {
		t.Fatalf("check during the outage: %v (%T), want a *cred.UnavailableError with a cause", err, err)
	}
	if errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Fatalf("an unavailable store's error matches ErrUnauthorizedLogin: %v", err)
	}
	return took
}

// waitChecks polls until the right password is accepted again.
func waitChecks(t *testing.T, s *Store, user string, pw []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Check(context.Background(), user, pw)
		if err == nil {
			return
		}
		if errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("after the outage the right password is refused: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still unavailable 30 s after the outage: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Issue 16: a stopped PostgreSQL makes checks "unavailable", and the
// store serves again once it is back.
func TestCheckPostgresStopped(t *testing.T) {
	srv, s, pw := outageServer(t, 2*time.Second)
	if err := srv.Halt(); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "nobody"} {
		checkUnavailable(t, s, user, pw)
		checkUnavailable(t, s, user, []byte("wrong"))
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	waitChecks(t, s, "alice", pw)
	if err := s.Check(context.Background(), "alice", []byte("wrong")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Fatalf("wrong password after the outage: %v", err)
	}
}

// Issue 19: a frozen PostgreSQL (SIGSTOP) is answered "unavailable"
// within Config.QueryTimeout instead of hanging.
func TestCheckPostgresFrozen(t *testing.T) {
	const timeout = time.Second
	srv, s, pw := outageServer(t, timeout)
	n, err := srv.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("froze %d processes, want the postmaster and its backends", n)
	}
	thawed := false
	defer func() {
		if !thawed {
			srv.Thaw()
		}
	}()
	for i := 0; i < 3; i++ {
		// Bounded by the timeout plus one slow hash; 10 s leaves room for
		// a loaded machine without allowing a hang.
		if took := checkUnavailable(t, s, "alice", pw); took > 10*time.Second {
			t.Fatalf("unavailable answered after %v, want about %v", took, timeout)
		} else {
			t.Logf("frozen store answered unavailable after %v", took.Round(time.Millisecond))
		}
	}
	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	waitChecks(t, s, "alice", pw)
}

func TestQueryTimeoutDefault(t *testing.T) {
	c, err := (*Config)(nil).withDefaults()
	if err != nil || c.QueryTimeout != DefaultQueryTimeout || DefaultQueryTimeout != 5*time.Second {
		t.Fatalf("QueryTimeout default %v, %v", c.QueryTimeout, err)
	}
}
