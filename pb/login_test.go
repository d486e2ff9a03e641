package pb_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

type avatar struct {
	pb.Avatar
	name string
}

func (a *avatar) PerspectiveWhoami() string { return a.name }

type logoutLog struct {
	mu  sync.Mutex
	ids []string
	ch  chan string
}

func (l *logoutLog) realm() cred.Realm {
	return cred.RealmFunc(func(_ context.Context, id string, _ any) (any, func(), error) {
		return &avatar{name: id}, func() {
			l.mu.Lock()
			l.ids = append(l.ids, id)
			l.mu.Unlock()
			l.ch <- id
		}, nil
	})
}

// hashedOnly is a checker like Django's: it needs the plaintext
// password and cannot check an MD5 challenge.
func hashedOnly() cred.Checker {
	return cred.CheckerFunc(func(_ context.Context, c cred.Credentials) (string, error) {
		up, ok := c.(*cred.UsernamePassword)
		if !ok || up.Username != "dj" || !up.CheckPassword([]byte("salted")) {
			return "", cred.ErrUnauthorizedLogin
		}
		return "dj", nil
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// userPortal is a portal with one in-memory user, user/pw, whose avatar
// has no logout.
func userPortal() *cred.Portal {
	realm := cred.RealmFunc(func(_ context.Context, id string, _ any) (any, func(), error) {
		return &avatar{name: id}, nil, nil
	})
	return cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"user": "pw"}))
}

func TestPasswordLoginChosenForHashedStore(t *testing.T) {
	ll := &logoutLog{ch: make(chan string, 10)}
	portal := cred.NewPortal(ll.realm())
	portal.Register(hashedOnly(), cred.KindPassword)
	var logs syncBuffer
	_, addr := serve(t, &pb.Config{Portal: portal, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := ctxT(t)

	b := dial(t, addr, nil)
	methods, err := b.Root().CallRemote(ctx, pb.MethodLoginMethods)
	if err != nil || len(methods.([]any)) != 1 || methods.([]any)[0] != "password" {
		t.Fatalf("loginMethods = %v, %v", methods, err)
	}
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: "dj", Password: []byte("salted")}, nil)
	if err != nil {
		t.Fatalf("password login: %v", err)
	}
	if who, err := a.CallRemote(ctx, "whoami"); err != nil || who != "dj" {
		t.Fatalf("whoami = %v, %v", who, err)
	}
	_, err = b.Login(ctx, &cred.UsernamePassword{Username: "dj", Password: []byte("wrong")}, nil)
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" {
		t.Fatalf("wrong password: %v", err)
	}
	// Told once, the client goes straight to the password login on this
	// connection: one refused challenge in the log for three logins.
	a2, err := b.Login(ctx, &cred.UsernamePassword{Username: "dj", Password: []byte("salted")}, nil)
	if err != nil {
		t.Fatalf("second password login: %v", err)
	}
	a2.Release()
	if id := <-ll.ch; id != "dj" {
		t.Fatalf("logout of %q", id)
	}
	if n := strings.Count(logs.String(), "holds only password hashes"); n != 1 {
		t.Fatalf("%d refused challenge logins for three logins, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "salted") || strings.Contains(logs.String(), "wrong") {
		t.Fatalf("a password reached the log:\n%s", logs.String())
	}

	// A challenge login (what a stock Twisted client does) cannot work
	// against hashes: refused, and the server says why.
	v, err := b.Root().CallRemote(ctx, "login", []byte("dj"))
	if err != nil {
		t.Fatal(err)
	}
	tup, ok := v.(jelly.Tuple)
	if !ok || len(tup) != 2 {
		t.Fatalf("login(dj) = %#v", v)
	}
	challenge, _ := tup[0].([]byte)
	challenger, _ := tup[1].(*pb.RemoteReference)
	if len(challenge) != 16 || challenger == nil {
		t.Fatalf("login(dj) = %#v", v)
	}
	_, err = challenger.CallRemote(ctx, "respond", cred.ChallengeResponse([]byte("salted"), challenge), nil)
	if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" {
		t.Fatalf("challenge login against hashes: %v", err)
	}
	// The Twisted-visible text is the documented one; Spread clients read
	// the typed code that travels with it.
	if re.Value != pb.NeedPasswordLogin || re.Code != pb.LoginCodeNeedPassword {
		t.Fatalf("challenge login against hashes: value %q, code %q", re.Value, re.Code)
	}
	if !strings.Contains(logs.String(), "holds only password hashes") {
		t.Fatalf("the server did not log why:\n%s", logs.String())
	}
	a.Release()
	if id := <-ll.ch; id != "dj" {
		t.Fatalf("logout of %q", id)
	}
}

// remoteConn makes a pipe look like a connection from a non-loopback
// address. No traffic leaves the process.
type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000}
}

func TestPasswordLoginRefusedWithoutTLSOrLoopback(t *testing.T) {
	ll := &logoutLog{ch: make(chan string, 10)}
	portal := cred.NewPortal(ll.realm(), checkers.NewInMemory(map[string]string{"dj": "salted"}))
	srv := pb.NewServer(&pb.Config{Portal: portal, Logger: discard()})
	t.Cleanup(func() { srv.Close() })
	sc, cc := net.Pipe()
	sb := srv.ServeConn(remoteConn{sc})
	if sb.Secure() {
		t.Fatal("a plain connection from 192.0.2.7 counts as secure")
	}
	ctx := ctxT(t)
	b, err := pb.NewClient(ctx, cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	methods, err := b.Root().CallRemote(ctx, pb.MethodLoginMethods)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range methods.([]any) {
		if m == "password" {
			t.Fatalf("password login offered on an insecure connection: %v", methods)
		}
	}
	_, err = b.Root().CallRemote(ctx, pb.MethodLoginPassword, []byte("dj"), []byte("salted"), nil)
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" {
		t.Fatalf("loginPassword on an insecure connection: %v", err)
	}
	// The Go client falls back to the challenge, which works here.
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: "dj", Password: []byte("salted")}, nil)
	if err != nil {
		t.Fatalf("challenge login: %v", err)
	}
	if who, _ := a.CallRemote(ctx, "whoami"); who != "dj" {
		t.Fatalf("whoami = %v", who)
	}
	b.Close()
	select {
	case id := <-ll.ch:
		if id != "dj" {
			t.Fatalf("logout of %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no logout after the connection closed")
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
