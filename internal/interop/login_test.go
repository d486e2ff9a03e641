package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// loginAvatar mirrors login_server.py's avatar.
type loginAvatar struct {
	pb.Avatar
	id   string
	mind *pb.RemoteReference
}

func (a *loginAvatar) PerspectiveFoo(arg any) jelly.Tuple {
	return jelly.Tuple{"foo", a.id, arg}
}

func (a *loginAvatar) PerspectiveCallMind(ctx context.Context, x any) (any, error) {
	if a.mind == nil {
		return nil, nil
	}
	return a.mind.CallRemote(ctx, "print", x)
}

// logouts counts realm logouts per avatar id.
type logouts struct {
	mu sync.Mutex
	n  map[string]int
	ch chan string
}

func newLogouts() *logouts { return &logouts{n: map[string]int{}, ch: make(chan string, 64)} }

func (l *logouts) realm() cred.Realm {
	return cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		m, _ := mind.(*pb.RemoteReference)
		return &loginAvatar{id: id, mind: m}, func() {
			l.mu.Lock()
			l.n[id]++
			l.mu.Unlock()
			l.ch <- id
		}, nil
	})
}

func (l *logouts) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[id]
}

func (l *logouts) wait(t *testing.T, id string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-l.ch:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("no logout for %q", id)
		}
	}
}

func loginServer(t *testing.T, anonymous bool) (*pb.Server, string, *logouts) {
	lo := newLogouts()
	portal := cred.NewPortal(lo.realm(), checkers.NewInMemory(map[string]string{"user1": "pass1", "user2": "pass2"}))
	if anonymous {
		portal.Register(checkers.NewAnonymous())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String(), lo
}

func TestPythonLoginClientAgainstGoServer(t *testing.T) {
	_, addr, lo := loginServer(t, true)

	out, stderr, err := pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, "user1", "pass1")
	res, perr := pypeer.ParseLoginResult(out)
	if err != nil || perr != nil || !res.OK {
		t.Fatalf("user1 login: %v %v %+v\n%s\n%s", err, perr, res, out, stderr)
	}
	if !strings.Contains(res.Repr, "'foo'") || !strings.Contains(res.Repr, "user1") || !strings.Contains(res.Repr, "13") {
		t.Errorf("foo(13) = %s", res.Repr)
	}
	lo.wait(t, "user1")

	out, _, _ = pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, "user2", "pass2", "--call-mind", "hello")
	res, _ = pypeer.ParseLoginResult(out)
	if !res.OK || !strings.Contains(res.MindRepr, "printed:hello") {
		t.Errorf("user2 with mind: %+v\n%s", res, out)
	}
	lo.wait(t, "user2")

	for _, c := range [][]string{{"user1", "wrong"}, {"nobody", "pass1"}} {
		out, _, err = pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, c[0], c[1])
		res, _ = pypeer.ParseLoginResult(out)
		if err == nil || res.OK || res.Type != "twisted.cred.error.UnauthorizedLogin" || res.Value != "" {
			t.Errorf("login %s/%s: %+v", c[0], c[1], res)
		}
	}

	out, _, err = pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, "--anonymous")
	res, _ = pypeer.ParseLoginResult(out)
	if err != nil || !res.OK || !strings.Contains(res.Repr, "13") {
		t.Errorf("anonymous login: %v %+v\n%s", err, res, out)
	}
	lo.wait(t, cred.AnonymousID)
	if n := lo.count("user1"); n != 1 {
		t.Errorf("user1 logged out %d times, want 1", n)
	}
}

func TestPythonAnonymousWithoutCheckerIsUnhandled(t *testing.T) {
	_, addr, _ := loginServer(t, false)
	out, _, _ := pypeer.RunClient(t, 30*time.Second, "login_client.py", addr, "--anonymous")
	res, _ := pypeer.ParseLoginResult(out)
	if res.OK || res.Type != "twisted.cred.error.UnhandledCredentials" {
		t.Errorf("anonymous without checker: %+v\n%s", res, out)
	}
}

type printMind struct {
	pb.Referenceable
	mu   sync.Mutex
	seen []string
}

func (m *printMind) RemotePrint(x string) string {
	m.mu.Lock()
	m.seen = append(m.seen, x)
	m.mu.Unlock()
	return "go printed:" + x
}

func TestGoClientLoginAgainstPythonServer(t *testing.T) {
	p := pypeer.StartServer(t, "login_server.py", "0", "--anonymous")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	b, err := pb.Dial(ctx, p.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mind := &printMind{}
	avatar, err := b.Login(ctx, &cred.UsernamePassword{Username: "user1", Password: []byte("pass1")}, mind)
	if err != nil {
		t.Fatalf("login user1: %v", err)
	}
	v, err := avatar.CallRemote(ctx, "foo", int64(13))
	if err != nil || fmt.Sprint(v) != "[foo user1 13]" {
		t.Fatalf("foo(13) = %#v, %v", v, err)
	}
	v, err = avatar.CallRemote(ctx, "callMind", "hey")
	if err != nil || v != "go printed:hey" {
		t.Fatalf("callMind = %#v, %v", v, err)
	}
	// Releasing the avatar logs out on the Python side.
	if err := avatar.Release(); err != nil {
		t.Fatal(err)
	}
	if got := p.WaitLines(10*time.Second, "LOGOUT user1", 1); len(got) != 1 {
		t.Fatalf("no LOGOUT user1 after release; stdout:\n%s", p.Stdout())
	}

	_, err = b.Login(ctx, &cred.UsernamePassword{Username: "user1", Password: []byte("wrong")}, nil)
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" || !re.Check("twisted.cred.error.LoginFailed") {
		t.Fatalf("wrong password: %v", err)
	}
	anon, err := b.Login(ctx, cred.Anonymous{}, nil)
	if err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	if v, err := anon.CallRemote(ctx, "foo", int64(13)); err != nil || fmt.Sprint(v) != "[foo  13]" {
		t.Fatalf("anonymous foo(13) = %#v, %v", v, err)
	}
	// Closing the connection logs the anonymous user out too.
	b.Close()
	if got := p.WaitLines(10*time.Second, "LOGOUT", 2); len(got) != 2 {
		t.Fatalf("logouts after close: %q", got)
	}
}
