package authd_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/internal/tcprelay"
	"github.com/gospread/spread/pb"
)

// logBuf collects a logger's lines, for tests that wait for an event
// the log reports.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// wait waits until a line containing all of parts was logged, and
// returns it.
func (l *logBuf) wait(t *testing.T, within time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v; the log:\n%s", parts, within, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDisconnected waits until the checker has noticed that its
// connection to authd is gone.
func waitDisconnected(t *testing.T, c *authd.Checker) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("the checker did not notice that its connection to authd was cut")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive fails unless the session on b still answers.
func alive(t *testing.T, ctx context.Context, b *pb.Broker, av *pb.RemoteReference, what string) {
	t.Helper()
	if b.Err() != nil {
		t.Fatalf("%s: the session was closed: %v", what, b.Err())
	}
	if _, err := av.CallRemote(ctx, "who"); err != nil {
		t.Fatalf("%s: the session does not answer: %v", what, err)
	}
}

const checkedMsg = "authd: checked the open ticket sessions with the authentication server"

// Two authd processes on one PostgreSQL database; a broker attached to
// A loses it while a user logs out at A, and connects to B, which did
// not hear of the logout (it started, replacing A, a while after it:
// the revocation is older than what B replays at its start). The
// broker asks B which of its sessions ended; B answers from the
// database, and the session closes. Another user's session stays.
func TestReconcileSQLFailover(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addrA, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})
	cutA := tcprelay.Start(t, "127.0.0.1:0", addrA)
	addrB := deadAddr(t) // B listens here later
	var lb logBuf
	br := startBrokerLog(t, cutA.Addr()+","+addrB, "a", secretA, lb.logger())

	alice := userLogin(t, ctx, addrA, "alice", alicePW)
	connAlice, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	bob := userLogin(t, ctx, addrA, "bob", "bob-pw")
	connBob, avBob, err := login(t, ctx, br.addr, "bob", ticket(t, ctx, bob, "a"))
	if err != nil {
		t.Fatal(err)
	}

	cutA.Cut() // the broker cannot reach A any more, nor B yet
	waitDisconnected(t, br.checker)
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connAlice.Done():
		t.Fatal("the session ended while its broker was away from authd: the test does not exercise the outage")
	default:
	}
	// B starts a minute after the logout: age the recorded revocation
	// accordingly, so that B's start-up replay does not reach it.
	db := pgConn(t, ctx, dsn)
	if tag, err := db.Exec(ctx, `UPDATE authd_revocations SET at = at - interval '2 minutes'`); err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("aging the revocation records: %v (%d rows)", err, tag.RowsAffected())
	}
	startAuthd(t, authdOpts{state: openState(t, ctx, dsn), addr: addrB})

	waitClosed(t, connAlice, 15*time.Second, "a logout at A while the broker was away, then the broker at B")
	if br.loggedOut("alice") != 1 {
		t.Errorf("alice's realm logout ran %d times, want 1", br.loggedOut("alice"))
	}
	lb.wait(t, 5*time.Second, checkedMsg, "addr="+addrB, "handles=2", "ended=1", "closed=1", "kept_unknown=0")
	alive(t, ctx, connBob, avBob, "bob's session, live at authd")
	if strings.Contains(lb.String(), "some ticket sessions were opened through") {
		t.Error("handles of the shared state were called unknown")
	}
}

// A service with two broker instances, one of them away from authd
// when a user logs out: the connected one closes the session at once,
// the other once it is back.
func TestReconcileTwoInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	br1 := startBroker(t, authdAddr, "a", secretA)
	cut := tcprelay.Start(t, "127.0.0.1:0", authdAddr)
	cutAddr := cut.Addr()
	br2 := startBroker(t, cutAddr, "a", secretA)

	alice := userLogin(t, ctx, authdAddr, "alice", alicePW)
	conn1, _, err := login(t, ctx, br1.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	conn2, _, err := login(t, ctx, br2.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	cut.Cut()
	waitDisconnected(t, br2.checker)
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn1, 2*time.Second, "logout, at the connected instance")
	select {
	case <-conn2.Done():
		t.Fatal("the away instance's session ended while it was away: the test does not exercise the outage")
	default:
	}
	tcprelay.Start(t, cutAddr, authdAddr)
	if err := br2.checker.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn2, 5*time.Second, "logout, at the instance that was away")
}

// An operator's revocation of a user while the broker is away from the
// (one, memory-state) authd closes the user's sessions when it is back,
// and no one else's.
func TestReconcileUserRevokedWhileAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, srv := startAuthd(t, authdOpts{})
	cut := tcprelay.Start(t, "127.0.0.1:0", authdAddr)
	cutAddr := cut.Addr()
	var lb logBuf
	br := startBrokerLog(t, cutAddr, "a", secretA, lb.logger())
	alice := userLogin(t, ctx, authdAddr, "alice", alicePW)
	connAlice, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	bob := userLogin(t, ctx, authdAddr, "bob", "bob-pw")
	connBob, avBob, err := login(t, ctx, br.addr, "bob", ticket(t, ctx, bob, "a"))
	if err != nil {
		t.Fatal(err)
	}
	cut.Cut()
	waitDisconnected(t, br.checker)
	if n := srv.RevokeUser("alice"); n != 1 {
		t.Errorf("RevokeUser ended %d sessions, want 1", n)
	}
	select {
	case <-connAlice.Done():
		t.Fatal("the session ended while its broker was away: the test does not exercise the outage")
	default:
	}
	tcprelay.Start(t, cutAddr, authdAddr)
	waitClosed(t, connAlice, 5*time.Second, "a user revoked while the broker was away")
	// authd's revocations kept for the service (delivered at its login)
	// and the broker's check race to close alice's session; either way
	// the check runs, and leaves bob's.
	lb.wait(t, 5*time.Second, checkedMsg, "kept_unknown=0")
	alive(t, ctx, connBob, avBob, "bob's session")
}

// Two authd processes with memory state do not share sessions: a
// broker that fails over from A to B keeps the sessions A admitted (B
// cannot judge them), and says so in its log.
func TestReconcileMemoryFailoverKeeps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrA, _ := startAuthd(t, authdOpts{})
	addrB, _ := startAuthd(t, authdOpts{})
	cutA := tcprelay.Start(t, "127.0.0.1:0", addrA)
	var lb logBuf
	br := startBrokerLog(t, cutA.Addr()+","+addrB, "a", secretA, lb.logger())
	alice := userLogin(t, ctx, addrA, "alice", alicePW)
	conn, av, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	cutA.Cut() // the broker moves to B at once
	lb.wait(t, 10*time.Second, checkedMsg, "addr="+addrB, "handles=1", "ended=0", "kept_unknown=1")
	lb.wait(t, time.Second, "some ticket sessions were opened through an authentication server whose state this one does not share", "sessions=1")
	alive(t, ctx, conn, av, "a session admitted through another memory-state authd")
	// B's own sessions are judged as usual.
	alice2 := userLogin(t, ctx, addrB, "alice", alicePW)
	conn2, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice2, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn2, 2*time.Second, "logout at B")
	alive(t, ctx, conn, av, "the session from A after a logout at B")
}

// ended() is bounded and checks what it gets; a service learns nothing
// of handles it was not given; a user cannot call it.
func TestEndedHostile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	svc := func(name string, secret []byte) (*pb.Broker, *pb.RemoteReference) {
		b, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		v, err := b.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+name, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b, v.(*pb.RemoteReference)
	}
	bA, a := svc("a", secretA)
	_, b := svc("b", secretB)
	alice := userLogin(t, ctx, authdAddr, "alice", alicePW)
	v, err := a.CallRemote(ctx, "redeemTicket", "alice", []byte(ticket(t, ctx, alice, "a")))
	if err != nil {
		t.Fatal(err)
	}
	handle := v.([]any)[1].(string)

	ended := func(ref *pb.RemoteReference, handles ...any) ([]any, []any, error) {
		t.Helper()
		v, err := ref.CallRemote(ctx, "ended", handles)
		if err != nil {
			return nil, nil, err
		}
		l, ok := v.([]any)
		if !ok || len(l) != 2 {
			t.Fatalf("ended answered %#v", v)
		}
		return l[0].([]any), l[1].([]any), nil
	}
	e, u, err := ended(a, handle, "0123456789abcdef0123456789abcdef", []byte("other.1234"))
	if err != nil || len(e) != 0 || len(u) != 2 || u[0] != "0123456789abcdef0123456789abcdef" || u[1] != "other.1234" {
		t.Fatalf("ended(live, foreign, foreign) = %v, %v, %v; want [], [both foreign]", e, u, err)
	}
	// Another service is not told that a's handle is live.
	if e, _, err := ended(b, handle); err != nil || len(e) != 1 || e[0] != handle {
		t.Errorf("b asking about a's handle: %v, %v; want it reported ended", e, err)
	}

	var re *pb.RemoteError
	big := make([]any, authd.MaxEndedHandles+1)
	for i := range big {
		big[i] = fmt.Sprintf("h%06d", i)
	}
	_, _, err = ended(a, big...)
	if !errors.As(err, &re) || !re.Check("builtins.ValueError") || !strings.Contains(err.Error(), fmt.Sprintf("authd: ended: at most %d handles per call, got %d", authd.MaxEndedHandles, len(big))) {
		t.Errorf("ended with %d handles: %v", len(big), err)
	}
	// A flood near PB's own message limit gets the same precise error.
	huge := make([]any, 60000)
	for i := range huge {
		huge[i] = "x"
	}
	if _, _, err = ended(a, huge...); err == nil || !strings.Contains(err.Error(), "at most 1000 handles per call, got 60000") {
		t.Errorf("ended with 60000 handles: %v", err)
	}
	for _, bad := range [][]any{{int64(3)}, {""}, {strings.Repeat("h", 129)}, {[]any{"nested"}}} {
		if _, _, err := ended(a, bad...); !errors.As(err, &re) || !strings.Contains(err.Error(), "authd: ended: handle 0 is not a str of 1 to 128 characters") {
			t.Errorf("ended(%v): %v", bad, err)
		}
	}
	if _, err := a.CallRemote(ctx, "ended", "not a list"); err == nil {
		t.Error("ended(str) accepted")
	}
	ua, err := alice.Broker().Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(alicePW)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ua.CallRemote(ctx, "ended", []any{handle}); err == nil {
		t.Error("a user called ended")
	}
	if bA.Err() != nil {
		t.Fatalf("hostile ended calls closed the connection: %v", bA.Err())
	}
	// After the login ends, its handle is reported ended.
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if e, _, err := ended(a, handle); err != nil || len(e) != 1 || e[0] != handle {
		t.Errorf("after logout: ended = %v, %v; want the handle", e, err)
	}
}

// Brokers behind a regional authd hold the central authd's handles:
// the regional answers ended() for them (asking the central while it
// has heard nothing), so that an instance away from the regional during
// a logout at the central closes the session when it is back.
func TestReconcileThroughRegional(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	centralAddr, _, regionalAddr := startChain(t, ctx)
	br1 := startBroker(t, regionalAddr, "a", secretA)
	cut := tcprelay.Start(t, "127.0.0.1:0", regionalAddr)
	cutAddr := cut.Addr()
	var lb logBuf
	br2 := startBrokerLog(t, cutAddr, "a", secretA, lb.logger())

	cc := userLogin(t, ctx, centralAddr, "alice", alicePW)
	conn1, _, err := login(t, ctx, br1.addr, "alice", ticket(t, ctx, cc, "a"))
	if err != nil {
		t.Fatal(err)
	}
	conn2, av2, err := login(t, ctx, br2.addr, "alice", ticket(t, ctx, cc, "a"))
	if err != nil {
		t.Fatal(err)
	}
	// While the login lasts, a reconnection keeps the session: the
	// regional asks the central, which says it is live.
	cut.Cut()
	waitDisconnected(t, br2.checker)
	cut = tcprelay.Start(t, cutAddr, regionalAddr)
	lb.wait(t, 5*time.Second, checkedMsg, "handles=1", "ended=0", "kept_unknown=0")
	alive(t, ctx, conn2, av2, "a live central login after a reconnection")

	cut.Cut()
	waitDisconnected(t, br2.checker)
	if err := cc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn1, 2*time.Second, "central logout, at the connected instance")
	select {
	case <-conn2.Done():
		t.Fatal("the away instance's session ended while it was away: the test does not exercise the outage")
	default:
	}
	tcprelay.Start(t, cutAddr, regionalAddr)
	waitClosed(t, conn2, 5*time.Second, "central logout, at the instance that was away from the regional authd")
	lb.wait(t, 5*time.Second, checkedMsg, "handles=1", "ended=1", "closed=1")
}

// A broker holding more handles than one ended() call carries asks in
// batches, and hears of every one.
func TestReconcileBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authdAddr, srv := startAuthd(t, authdOpts{})
	startBroker(t, authdAddr, "a", secretA) // a connected instance: no revocation waits for the service
	cut := tcprelay.Start(t, "127.0.0.1:0", authdAddr)
	cutAddr := cut.Addr()
	var lb logBuf
	br := startBrokerLog(t, cutAddr, "a", secretA, lb.logger())

	// 501 logins of alice at authd, each with a ticket redeemed on one
	// connection to the broker: 501 handles.
	const n = 501
	ub, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ub.Close()
	conn, err := pb.Dial(ctx, br.addr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range n {
		av, err := ub.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(alicePW)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := av.CallRemote(ctx, "ticket", "a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(tk.(string))}, nil); err != nil {
			t.Fatalf("login %d at the broker: %v", i, err)
		}
	}
	cut.Cut()
	waitDisconnected(t, br.checker)
	if got := srv.RevokeUser("alice"); got != n {
		t.Fatalf("RevokeUser ended %d sessions, want %d", got, n)
	}
	tcprelay.Start(t, cutAddr, authdAddr)
	waitClosed(t, conn, 10*time.Second, "501 logins ended while the broker was away")
	lb.wait(t, 5*time.Second, checkedMsg, fmt.Sprintf("handles=%d ended=%d", n, n))
}
