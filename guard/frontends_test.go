package guard_test

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/guard"
)

// TestFrontEndsShareSQLSessions runs two guards on one SQLite session
// store: a login on one is a session on the other, a logout on either
// ends it for both, and each logs out its own avatar exactly once.
func TestFrontEndsShareSQLSessions(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sessions.sqlite3")
	realm, clock := newRealm(), newClock()
	front := func() *env {
		st, err := guard.OpenSQLStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e := &env{t: t, realm: realm, clock: clock}
		e.checker = &countingChecker{KindsChecker: memoryChecker()}
		e.cfg = &guard.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler), Store: st, SweepInterval: time.Hour}
		g, err := guard.New(cred.NewPortal(realm, e.checker), e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.g = g
		t.Cleanup(func() { g.Close() })
		return e
	}
	a, b := front(), front()
	sid := a.login("alice", alicePW)
	a.mustBeIn(sid, "alice")
	b.mustBeIn(sid, "alice")
	if av, _ := realm.counts("alice"); av != 2 {
		t.Fatalf("%d avatars, want one per front-end", av)
	}
	if b.checker.n.Load() != 0 {
		t.Fatal("front-end b checked a password")
	}
	b.do(withCookie(req("POST", "/logout", url.Values{}), sid))
	if _, lo := realm.counts("alice"); lo != 1 {
		t.Fatalf("%d logouts after b's logout", lo)
	}
	a.mustBeOut(sid)
	if _, lo := realm.counts("alice"); lo != 2 {
		t.Fatalf("%d logouts after a noticed, want 2", lo)
	}
	// Idle expiry is the store's: a session kept busy on a is alive on b
	// after b saw nothing of it for longer than the idle timeout.
	sid = a.login("bob", bobPW)
	b.mustBeIn(sid, "bob")
	for i := 0; i < 4; i++ {
		clock.Advance(10 * time.Minute)
		a.mustBeIn(sid, "bob")
	}
	b.g.Sweep(ctx) // logs out b's idle avatar, keeps the session
	if _, lo := realm.counts("bob"); lo != 1 {
		t.Fatalf("bob: %d logouts after b's sweep", lo)
	}
	b.mustBeIn(sid, "bob")
}
