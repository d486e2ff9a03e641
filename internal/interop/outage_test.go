package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/pb"
)

const unavailableText = "the login cannot be checked right now"

// Issue 16, 5 and issue 19: PostgreSQL stopped during logins, then
// started again; then frozen (SIGSTOP) and continued. Clients are told
// that the login cannot be checked now, no attempt counts against the
// throttle, the outage is logged once, and afterwards every user's
// correct password works.
func TestPostgresOutageDuringLogins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pg, err := pgtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	dsn, err := pg.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const queryTimeout = time.Second
	store, err := djangostore.Open(ctx, dsn, &djangostore.Config{Iterations: 1000, QueryTimeout: queryTimeout, ReadOnly: false})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	users := map[string]string{}
	for i := range 4 {
		u, p := fmt.Sprint("user", i), fmt.Sprint("pass-", i)
		users[u] = p
		if err := store.AddUser(ctx, u, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	addr, logs, _ := throttleServer(t, store, nil)
	b := dialFrom(t, ctx, "127.0.0.6", addr)
	allLogIn := func(when string) {
		t.Helper()
		for u, p := range users {
			if err := loginFrom(ctx, b, u, p); err != nil {
				t.Fatalf("%s: %s: %v", when, u, err)
			}
		}
		if res := twistedLogin(t, addr, "127.0.0.6", "user0", users["user0"], "--password-login"); !res.OK {
			t.Fatalf("%s: Twisted user0: %+v", when, res)
		}
	}
	// waitBack polls until the store answers again.
	waitBack := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := loginFrom(ctx, b, "user0", users["user0"])
			if err == nil {
				return
			}
			if !errors.Is(err, cred.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("after the outage: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	unavailable := func(u, p string) time.Duration {
		t.Helper()
		start := time.Now()
		err := loginFrom(ctx, b, u, p)
		took := time.Since(start)
		var re *pb.RemoteError
		if !errors.Is(err, cred.ErrUnavailable) || errors.Is(err, cred.ErrUnauthorizedLogin) ||
			!errors.As(err, &re) || !strings.Contains(re.Value, unavailableText) {
			t.Fatalf("%s during the outage: %v", u, err)
		}
		return took
	}
	allLogIn("before the outage")

	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	// More attempts than the throttle allows failures, right and wrong.
	for range cred.DefaultThrottleMaxFailures + 2 {
		for u, p := range users {
			unavailable(u, p)
		}
		unavailable("user1", "wrong")
	}
	res := twistedLogin(t, addr, "127.0.0.6", "user0", users["user0"], "--password-login")
	if res.OK || res.Type != "twisted.cred.error.UnauthorizedLogin" || !strings.Contains(res.Value, unavailableText) {
		t.Fatalf("Twisted client during the outage: %+v", res)
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	waitBack()
	allLogIn("after the restart")

	// Frozen: answered within the query timeout, not hung.
	if _, err := pg.Freeze(); err != nil {
		t.Fatal(err)
	}
	for u, p := range users {
		if took := unavailable(u, p); took > 10*time.Second {
			pg.Thaw()
			t.Fatalf("frozen store answered after %v; QueryTimeout is %v", took, queryTimeout)
		} else if u == "user0" {
			t.Logf("frozen store: unavailable after %v", took.Round(time.Millisecond))
		}
	}
	if err := pg.Thaw(); err != nil {
		t.Fatal(err)
	}
	waitBack()
	allLogIn("after the freeze")

	log := logs.String()
	if n := strings.Count(log, "credential store is unavailable"); n != 2 {
		t.Errorf("outage logged %d times for two outages, want 2:\n%s", n, log)
	}
	if n := strings.Count(log, "logins can be checked again"); n != 2 {
		t.Errorf("recovery logged %d times, want 2:\n%s", n, log)
	}
}
