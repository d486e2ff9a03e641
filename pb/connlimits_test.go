package pb_test

// Connection caps, login and idle timeouts (Limits), against raw PB
// peers, while a logged-in user keeps calling.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/pb"
)

// userPassword is the password of userPortal's user.
var userPassword = []byte("pw")

// loginFrom dials addr (from local address src, when set) and logs in
// as userPortal's user.
func loginFrom(ctx context.Context, src, addr string) (*pb.Broker, *pb.RemoteReference, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	b, err := pb.NewClient(ctx, conn, &pb.Config{Logger: discard()})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: "user", Password: userPassword}, nil)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, a, nil
}

// keepCalling calls whoami on a until the test ends, counting successes
// and failures; check reports a failure.
func keepCalling(t *testing.T, a *pb.RemoteReference) (check func()) {
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			v, err := a.CallRemote(ctx, "whoami")
			cancel()
			if err != nil || v != "user" {
				failed.Add(1)
				lastErr.Store(fmt.Sprintf("whoami = %v, %v", v, err))
			} else {
				ok.Add(1)
			}
		}
	}()
	var stopped atomic.Bool
	t.Cleanup(func() {
		if stopped.CompareAndSwap(false, true) {
			close(stop)
			<-done
		}
	})
	return func() {
		t.Helper()
		if n := failed.Load(); n != 0 {
			t.Fatalf("the logged-in user failed %d calls: %v", n, lastErr.Load())
		}
		before := ok.Load()
		deadline := time.Now().Add(10 * time.Second)
		for ok.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("the logged-in user's calls stopped")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// dialRawFrom is dialRaw from local address src.
func dialRawFrom(t testing.TB, src, addr string) *rawPeer {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, rd: newExprReader(conn, banana.DialectPB), enc: banana.Encoder{Dialect: banana.DialectNone}}
}

// expectRefused asserts that the server closed p's connection without
// sending anything (not even the dialect offer).
func (p *rawPeer) expectRefused() {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var buf [64]byte
	n, err := p.conn.Read(buf[:])
	if n != 0 || err == nil || !isClosedErr(err) {
		p.t.Fatalf("expected the server to refuse the connection, read %d bytes, %v", n, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestUnauthenticatedConnectionsBeyondTheCapAreRefused(t *testing.T) {
	rec := &logRecorder{}
	srv, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: newLogger(rec),
		Limits: &pb.Limits{MaxUnauthConns: 4, LoginTimeout: -1}})
	ctx := ctxT(t)
	b, a, err := loginFrom(ctx, "", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check := keepCalling(t, a)

	var peers []*rawPeer
	for i := 0; i < 4; i++ {
		p := dialRaw(t, addr, 0)
		p.negotiate()
		peers = append(peers, p)
	}
	for i := 0; i < 3; i++ {
		dialRaw(t, addr, 0).expectRefused()
	}
	// A login needs a connection, which is not logged in at first: it
	// is refused too while the cap is full.
	if _, _, err := loginFrom(ctx, "", addr); err == nil {
		t.Fatal("a login got through while the cap on connections not logged in was full")
	}
	st := srv.Stats()
	if st.Refused != 4 || st.NotLoggedIn != 4 || st.Open != 5 {
		t.Fatalf("stats %+v, want 4 refused, 4 not logged in, 5 open", st)
	}
	waitFor(t, "4 refusals logged", func() bool { return rec.count("pb: connection refused") == 4 })
	check()

	// One leaves: a login gets its place and then no longer counts.
	peers[0].conn.Close()
	waitFor(t, "the closed connection to be forgotten", func() bool { return srv.Stats().NotLoggedIn == 3 })
	b2, a2, err := loginFrom(ctx, "", addr)
	if err != nil {
		t.Fatalf("a login within the caps: %v", err)
	}
	defer b2.Close()
	if v, err := a2.CallRemote(ctx, "whoami"); err != nil || v != "user" {
		t.Fatalf("whoami on the new login: %v, %v", v, err)
	}
	if st := srv.Stats(); st.NotLoggedIn != 3 || st.Open != 5 {
		t.Fatalf("after the login: %+v, want 3 not logged in of 5", st)
	}
	p := dialRaw(t, addr, 0) // the place the login freed
	p.negotiate()
	dialRaw(t, addr, 0).expectRefused()
	check()
}

func TestConnectionCapsPerAddress(t *testing.T) {
	srv, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: discard(),
		Limits: &pb.Limits{MaxUnauthConnsPerIP: 2, MaxConnsPerIP: 3, LoginTimeout: -1}})
	ctx := ctxT(t)
	_, port, _ := net.SplitHostPort(addr)
	addr = net.JoinHostPort("127.0.0.1", port)

	// 127.0.0.2 fills its caps: two not logged in, then one login.
	for i := 0; i < 2; i++ {
		dialRawFrom(t, "127.0.0.2", addr).negotiate()
	}
	dialRawFrom(t, "127.0.0.2", addr).expectRefused()
	if _, _, err := loginFrom(ctx, "127.0.0.2", addr); err == nil {
		t.Fatal("127.0.0.2 logged in past its cap on connections not logged in")
	}
	// Another address is not affected.
	b3, a3, err := loginFrom(ctx, "127.0.0.3", addr)
	if err != nil {
		t.Fatalf("login from 127.0.0.3: %v", err)
	}
	defer b3.Close()
	check := keepCalling(t, a3)
	for i := 0; i < 2; i++ {
		dialRawFrom(t, "127.0.0.3", addr).negotiate()
	}
	dialRawFrom(t, "127.0.0.3", addr).expectRefused()
	check()

	// 127.0.0.3 has 3 open connections: its MaxConnsPerIP.
	if st := srv.Stats(); st.Open != 5 || st.NotLoggedIn != 4 {
		t.Fatalf("stats %+v, want 5 open, 4 not logged in", st)
	}
	if _, _, err := loginFrom(ctx, "127.0.0.3", addr); err == nil {
		t.Fatal("127.0.0.3 opened a fourth connection past MaxConnsPerIP")
	}
	check()
}

func TestLoginTimeoutClosesANegotiatedIdleConnection(t *testing.T) {
	rec := &logRecorder{}
	const timeout = 300 * time.Millisecond
	srv, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: newLogger(rec),
		Limits: &pb.Limits{LoginTimeout: timeout}})
	ctx := ctxT(t)
	b, a, err := loginFrom(ctx, "", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	p := dialRaw(t, addr, 0)
	p.negotiate()
	start := time.Now()
	p.expectClosed()
	if took := time.Since(start); took < timeout-50*time.Millisecond {
		t.Fatalf("closed after %v, before the login timeout of %v", took, timeout)
	}
	waitFor(t, "the timeout to be logged", func() bool { return rec.count("no login within") == 1 })

	// The logged-in connection outlives the timeout; it was parked (idle)
	// for most of it.
	time.Sleep(2 * timeout)
	if v, err := a.CallRemote(ctx, "whoami"); err != nil || v != "user" {
		t.Fatalf("the logged-in connection after the login timeout: %v, %v", v, err)
	}
	if st := srv.Stats(); st.Open != 1 || st.NotLoggedIn != 0 {
		t.Fatalf("stats %+v, want the logged-in connection alone", st)
	}
}

func TestIdleTimeoutClosesALoggedInConnection(t *testing.T) {
	const idle = 800 * time.Millisecond
	_, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: discard(),
		Limits: &pb.Limits{IdleTimeout: idle}})
	ctx := ctxT(t)
	b, a, err := loginFrom(ctx, "", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Calls more often than the timeout keep it open.
	for i := 0; i < 5; i++ {
		time.Sleep(idle / 4)
		if _, err := a.CallRemote(ctx, "whoami"); err != nil {
			t.Fatalf("call %d on a connection in use: %v", i, err)
		}
	}
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	if _, err := a.CallRemote(ctx, "whoami"); !errors.Is(err, pb.ErrConnectionLost) {
		t.Fatalf("call after the idle timeout: %v", err)
	}
}

func newLogger(h slog.Handler) *slog.Logger { return slog.New(h) }

// fooAvatar answers login_client.py's foo(n) as Twisted's test server
// does: ("foo", name, n).
type fooAvatar struct {
	pb.Avatar
	name string
}

func (a *fooAvatar) PerspectiveFoo(n any) []any { return []any{"foo", a.name, n} }

func TestTwistedClientLogsInOnceTheCapHasRoom(t *testing.T) {
	realm := cred.RealmFunc(func(_ context.Context, id string, _ any) (any, func(), error) {
		return &fooAvatar{name: id}, nil, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"user": string(userPassword)}))
	srv, addr := serve(t, &pb.Config{Portal: portal, Logger: discard(),
		Limits: &pb.Limits{MaxUnauthConns: 2, LoginTimeout: -1}})
	var peers []*rawPeer
	for i := 0; i < 2; i++ {
		p := dialRaw(t, addr, 0)
		p.negotiate()
		peers = append(peers, p)
	}
	twisted := func() pypeer.LoginResult {
		t.Helper()
		out, stderr, _ := pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, "user", string(userPassword), "--arg", "7")
		r, err := pypeer.ParseLoginResult(out)
		if err != nil {
			t.Fatalf("%v (stderr %s)", err, stderr)
		}
		return r
	}
	if r := twisted(); r.OK {
		t.Fatalf("a Twisted client logged in past the cap: %+v", r)
	} else if r.Stage != "connect" && r.Stage != "login" {
		t.Fatalf("refused Twisted client failed at %q: %+v", r.Stage, r)
	}
	if st := srv.Stats(); st.Refused != 1 {
		t.Fatalf("stats %+v, want 1 refused", st)
	}
	peers[0].conn.Close()
	waitFor(t, "the closed connection to be forgotten", func() bool { return srv.Stats().NotLoggedIn == 1 })
	if r := twisted(); !r.OK || r.Repr != "['foo', 'user', 7]" {
		t.Fatalf("Twisted login within the caps: %+v", r)
	}
}
