package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/pb"
)

// The throttle scenarios of issues 16 and 19, with distinct source
// addresses on the loopback range (127.0.0.2, 127.0.0.3, ... are local
// on Linux).

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// throttleServer serves a login portal over checker with a logout-counting
// realm whose avatar has foo (as login_server.py's), logging into a buffer.
func throttleServer(t *testing.T, checker cred.Checker, th *cred.Throttle) (string, *logBuffer, *logouts) {
	t.Helper()
	lo := newLogouts()
	portal := cred.NewPortal(lo.realm(), checker)
	logs := &logBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal, Throttle: th, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), logs, lo
}

// dialFrom connects to addr from the local address ip.
func dialFrom(t *testing.T, ctx context.Context, ip, addr string) *pb.Broker {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	b, err := pb.NewClient(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func loginFrom(ctx context.Context, b *pb.Broker, user, pass string) error {
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: user, Password: []byte(pass)}, nil)
	if err == nil {
		a.Release()
	}
	return err
}

// twistedLogin runs login_client.py from bind and returns its result.
func twistedLogin(t *testing.T, addr, bind, user, pass string, extra ...string) pypeer.LoginResult {
	t.Helper()
	args := append([]string{addr, user, pass, "--bind", bind}, extra...)
	out, stderr, _ := pypeer.RunClient(t, 30*time.Second, "login_client.py", args...)
	res, err := pypeer.ParseLoginResult(out)
	if err != nil {
		t.Fatalf("login_client.py: %v\n%s\n%s", err, out, stderr)
	}
	return res
}

var throttleUsers = map[string]string{
	"alice": "wonderland", "bob": "builder", "carol": "singer", "dave": "diver", "erin": "runner", "frank": "tank",
}

// Issue 16, 2 and 4: the attacker at 127.0.0.2 is locked out of alice,
// alice logs in from 127.0.0.3; the throttled message, with its retry
// time, reaches Twisted and Go clients; the lockout is logged once.
func TestThrottleLocksThePairNotTheUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, logs, lo := throttleServer(t, checkers.NewInMemory(throttleUsers), nil) // default policy
	attacker := dialFrom(t, ctx, "127.0.0.2", addr)
	for i := range cred.DefaultThrottleMaxFailures {
		err := loginFrom(ctx, attacker, "alice", fmt.Sprint("guess", i))
		if !errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrThrottled) {
			t.Fatalf("guess %d: %v, want a plain refusal", i, err)
		}
	}
	// Even the right password is refused to the attacker now.
	for range 3 {
		err := loginFrom(ctx, attacker, "alice", throttleUsers["alice"])
		var te *cred.ThrottledError
		if !errors.As(err, &te) || !errors.Is(err, cred.ErrThrottled) || te.RetryAfter <= 55*time.Second || te.RetryAfter > time.Minute {
			t.Fatalf("attacker with the right password: %v, want a *cred.ThrottledError of about 60 s", err)
		}
		var re *pb.RemoteError
		if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" || !strings.Contains(re.Value, "too many failed login attempts; try again in ") {
			t.Fatalf("remote error %+v", re)
		}
	}
	// A Twisted client at the attacker's address is told so, with seconds.
	res := twistedLogin(t, addr, "127.0.0.2", "alice", throttleUsers["alice"])
	if res.OK || res.Type != "twisted.cred.error.UnauthorizedLogin" ||
		!strings.HasPrefix(res.Value, "too many failed login attempts; try again in ") || !strings.HasSuffix(res.Value, " seconds") {
		t.Fatalf("Twisted client at the locked address: %+v", res)
	}
	var secs int
	if _, err := fmt.Sscanf(strings.TrimPrefix(res.Value, "too many failed login attempts; try again in "), "%d", &secs); err != nil || secs < 50 || secs > 60 {
		t.Fatalf("retry seconds in %q", res.Value)
	}
	// The victim, elsewhere, logs in: Go client and Twisted client.
	victim := dialFrom(t, ctx, "127.0.0.3", addr)
	if err := loginFrom(ctx, victim, "alice", throttleUsers["alice"]); err != nil {
		t.Fatalf("victim at 127.0.0.3: %v", err)
	}
	lo.wait(t, "alice")
	if res := twistedLogin(t, addr, "127.0.0.3", "alice", throttleUsers["alice"]); !res.OK {
		t.Fatalf("Twisted victim at 127.0.0.3: %+v", res)
	}
	// The attacker's address is not locked for other users.
	if err := loginFrom(ctx, attacker, "bob", throttleUsers["bob"]); err != nil {
		t.Fatalf("bob at the attacker's address: %v", err)
	}
	// One lockout, one log line, however many refused attempts.
	if n := strings.Count(logs.String(), "too many failed logins: locked out"); n != 1 {
		t.Fatalf("%d lockout log lines, want 1:\n%s", n, logs)
	}
}

// Issue 16, 3: five users behind one address each mistype once; the
// sixth, and the five with their right passwords, log in.
func TestThrottleFiveTyposDoNotLockTheOffice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, _, _ := throttleServer(t, checkers.NewInMemory(throttleUsers), nil)
	office := dialFrom(t, ctx, "127.0.0.4", addr)
	five := []string{"alice", "bob", "carol", "dave", "erin"}
	for _, u := range five {
		if err := loginFrom(ctx, office, u, "typo"); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("%s's typo: %v", u, err)
		}
	}
	if err := loginFrom(ctx, office, "frank", throttleUsers["frank"]); err != nil {
		t.Fatalf("the sixth user: %v", err)
	}
	if res := twistedLogin(t, addr, "127.0.0.4", "frank", throttleUsers["frank"]); !res.OK {
		t.Fatalf("the sixth user from Twisted: %+v", res)
	}
	for _, u := range five {
		if err := loginFrom(ctx, office, u, throttleUsers[u]); err != nil {
			t.Fatalf("%s after a typo: %v", u, err)
		}
	}
}

// Issue 19: 100 concurrent wrong guesses from one address for one user
// are checked as the limit (5), and the right password among them does
// not get in.
func TestThrottleConcurrentGuesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mem := checkers.NewInMemory(throttleUsers)
	var checked, inCheck atomic.Int64
	release := make(chan struct{})
	slow := cred.CheckerFunc(func(ctx context.Context, c cred.Credentials) (string, error) {
		checked.Add(1)
		inCheck.Add(1)
		defer inCheck.Add(-1)
		<-release // hold every check until all guesses were sent
		return mem.CheckCredentials(ctx, c)
	})
	var checker cred.Checker = slow
	addr, _, _ := throttleServer(t, kindsChecker{checker, mem.Kinds()}, nil)

	const guesses = 100
	conns := make([]*pb.Broker, 10)
	for i := range conns {
		conns[i] = dialFrom(t, ctx, "127.0.0.5", addr)
	}
	errs := make(chan error, guesses)
	var wg sync.WaitGroup
	for i := range guesses - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loginFrom(ctx, conns[i%len(conns)], "alice", fmt.Sprint("guess", i))
		}()
	}
	// Wait until the throttle has let the limit through to the checker
	// and refused the rest, then send the right password as guess 100.
	deadline := time.Now().Add(30 * time.Second)
	for len(errs) < guesses-1-cred.DefaultThrottleMaxFailures || inCheck.Load() < cred.DefaultThrottleMaxFailures {
		if time.Now().After(deadline) {
			t.Fatalf("guesses did not settle: %d answered, %d in check", len(errs), inCheck.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	right := loginFrom(ctx, conns[0], "alice", throttleUsers["alice"])
	close(release)
	wg.Wait()
	close(errs)
	var refused, throttled int
	for err := range errs {
		switch {
		case errors.Is(err, cred.ErrThrottled):
			throttled++
		case errors.Is(err, cred.ErrUnauthorizedLogin):
			refused++
		default:
			t.Errorf("guess: %v", err)
		}
	}
	if n := checked.Load(); n != cred.DefaultThrottleMaxFailures {
		t.Fatalf("%d of %d concurrent guesses reached the checker, want %d", n, guesses, cred.DefaultThrottleMaxFailures)
	}
	if refused != cred.DefaultThrottleMaxFailures || throttled != guesses-1-cred.DefaultThrottleMaxFailures {
		t.Fatalf("%d refused by the checker, %d throttled", refused, throttled)
	}
	if !errors.Is(right, cred.ErrThrottled) {
		t.Fatalf("the right password at guess 100: %v, want throttled", right)
	}
	if err := loginFrom(ctx, conns[1], "alice", throttleUsers["alice"]); !errors.Is(err, cred.ErrThrottled) {
		t.Fatalf("the right password after the guesses: %v, want throttled (locked)", err)
	}
	if n := checked.Load(); n != cred.DefaultThrottleMaxFailures {
		t.Fatalf("%d checks in all, want %d", n, cred.DefaultThrottleMaxFailures)
	}
}

// kindsChecker gives a CheckerFunc the kinds of the checker it wraps.
type kindsChecker struct {
	cred.Checker
	kinds []cred.Kind
}

func (k kindsChecker) Kinds() []cred.Kind { return k.kinds }

// A throttled `spread chat join` says so, with the retry time.
func TestThrottledChatJoinSaysSo(t *testing.T) {
	srv := startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--login-failures", "2")
	join := func(pass string) (string, int) {
		_, stderr, code := runSpread(t, "hello\n", []string{"SPREAD_PASSWORD=" + pass}, "chat", "join",
			"--server", srv.Addr, "--user", "alice", "--group", "#g")
		return stderr, code
	}
	for range 2 {
		if stderr, code := join("wrong"); code == 0 || !strings.Contains(stderr, "wrong user name or password") {
			t.Fatalf("wrong password: %d %s", code, stderr)
		}
	}
	stderr, code := join("1234")
	if code == 0 || !strings.Contains(stderr, "login failed: twisted.cred.error.UnauthorizedLogin: too many failed login attempts; try again in ") {
		t.Fatalf("throttled join: %d %s", code, stderr)
	}
	if strings.Contains(stderr, "wrong user name or password") {
		t.Fatalf("throttled join blames the password: %s", stderr)
	}
}

// Issue 16: a user name failing from many addresses gets growing delays
// on its failed attempts, never a refusal of its correct password; an
// address over its failure budget is locked for every user, and other
// addresses are not.
func TestThrottleUserDelayAndAddressBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const delay = 300 * time.Millisecond
	th := cred.NewThrottle(&cred.ThrottleConfig{UserDelayAfter: 3, UserDelay: delay, AddressMaxFailures: 8})
	addr, logs, _ := throttleServer(t, checkers.NewInMemory(throttleUsers), th)

	// carol fails once from each of five addresses: the fourth and fifth
	// failures are answered late, 300 ms then 600 ms at least.
	for i := range 5 {
		b := dialFrom(t, ctx, fmt.Sprint("127.0.0.", 10+i), addr)
		start := time.Now()
		err := loginFrom(ctx, b, "carol", "guess")
		took := time.Since(start)
		if !errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrThrottled) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		if i >= 3 {
			if want := delay << (i - 3); took < want {
				t.Fatalf("failure %d answered after %v, want at least %v", i+1, took, want)
			}
		}
	}
	// Her correct password, from her address, works at once (no lockout).
	if err := loginFrom(ctx, dialFrom(t, ctx, "127.0.0.20", addr), "carol", throttleUsers["carol"]); err != nil {
		t.Fatalf("carol's own login: %v", err)
	}
	if n := strings.Count(logs.String(), "failed logins are answered late"); n != 1 {
		t.Fatalf("slowdown logged %d times, want 1:\n%s", n, logs)
	}

	// 8 failures for different users from one address lock that address.
	shared := dialFrom(t, ctx, "127.0.0.21", addr)
	for i := range 8 {
		if err := loginFrom(ctx, shared, fmt.Sprint("nobody", i), "x"); !errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrThrottled) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if err := loginFrom(ctx, shared, "dave", throttleUsers["dave"]); !errors.Is(err, cred.ErrThrottled) {
		t.Fatalf("dave at the locked address: %v", err)
	}
	if res := twistedLogin(t, addr, "127.0.0.21", "dave", throttleUsers["dave"]); res.OK || !strings.Contains(res.Value, "too many failed login attempts") {
		t.Fatalf("Twisted client at the locked address: %+v", res)
	}
	if err := loginFrom(ctx, dialFrom(t, ctx, "127.0.0.22", addr), "dave", throttleUsers["dave"]); err != nil {
		t.Fatalf("dave elsewhere: %v", err)
	}
	if !strings.Contains(logs.String(), "scope=address") {
		t.Fatalf("the address lockout is not logged:\n%s", logs)
	}
}
