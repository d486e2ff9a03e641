package chat_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

// countingRealm wraps the chat realm and counts logouts per user.
type countingRealm struct {
	inner *chat.Server
	mu    sync.Mutex
	n     map[string]int
	ch    chan string
}

func (r *countingRealm) RequestAvatar(ctx context.Context, id string, mind any) (any, func(), error) {
	a, logout, err := r.inner.RequestAvatar(ctx, id, mind)
	if err != nil {
		return nil, nil, err
	}
	return a, func() {
		logout()
		r.mu.Lock()
		r.n[id]++
		r.mu.Unlock()
		r.ch <- id
	}, nil
}

func (r *countingRealm) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[id]
}

var users = map[string]string{"alice": "1234", "bob": "secret", "carol": "fido"}

func start(t *testing.T, throttle *cred.Throttle) (*chat.Server, *countingRealm, *pb.Server, string) {
	t.Helper()
	cs := chat.NewServer(nil)
	realm := &countingRealm{inner: cs, n: map[string]int{}, ch: make(chan string, 100)}
	portal := cred.NewPortal(realm, checkers.NewInMemory(users), checkers.NewAnonymous())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal, Throttle: throttle})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return cs, realm, srv, ln.Addr().String()
}

type mind struct {
	pb.Referenceable
	lines chan string
}

func (m *mind) RemotePrint(s string) { m.lines <- s }

func login(t *testing.T, ctx context.Context, addr, user string) (*pb.Broker, *pb.RemoteReference, *mind) {
	t.Helper()
	b, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &mind{lines: make(chan string, 100)}
	var creds cred.Credentials = &cred.UsernamePassword{Username: user, Password: []byte(users[user])}
	if user == "" {
		creds = cred.Anonymous{}
	}
	a, err := b.Login(ctx, creds, m)
	if err != nil {
		t.Fatalf("login %q: %v", user, err)
	}
	return b, a, m
}

func waitLogout(t *testing.T, r *countingRealm, id string) {
	t.Helper()
	select {
	case got := <-r.ch:
		if got != id {
			t.Fatalf("logout of %q, want %q", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no logout for %q", id)
	}
}

func TestLogoutExactlyOnceAndGroupsEmptied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, realm, srv, addr := start(t, nil)

	// alice disconnects abruptly.
	ba, aa, _ := login(t, ctx, addr, "alice")
	if _, err := aa.CallRemote(ctx, "joinGroup", "#g"); err != nil {
		t.Fatal(err)
	}
	// bob releases his avatar, then disconnects.
	bb, ab, _ := login(t, ctx, addr, "bob")
	if _, err := ab.CallRemote(ctx, "joinGroup", "#g"); err != nil {
		t.Fatal(err)
	}
	// carol stays until the server shuts down.
	_, ac, mc := login(t, ctx, addr, "carol")
	gv, err := ac.CallRemote(ctx, "joinGroup", "#g")
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.Group("#g").Members(); len(got) != 3 {
		t.Fatalf("members = %v", got)
	}

	ba.Close()
	waitLogout(t, realm, "alice")
	ab.Release()
	waitLogout(t, realm, "bob")
	bb.Close()
	if got := cs.Group("#g").Members(); len(got) != 1 || got[0] != "carol" {
		t.Fatalf("members after two logouts = %v", got)
	}
	// carol's messages reach only carol now.
	if _, err := gv.(*pb.RemoteReference).CallRemote(ctx, "send", "alone"); err != nil {
		t.Fatal(err)
	}
	if l := <-mc.lines; l != "<carol> says: alone" {
		t.Fatalf("carol heard %q", l)
	}
	srv.Close()
	waitLogout(t, realm, "carol")
	for _, u := range []string{"alice", "bob", "carol"} {
		if n := realm.count(u); n != 1 {
			t.Errorf("%s logged out %d times", u, n)
		}
	}
	select {
	case id := <-realm.ch:
		t.Errorf("extra logout of %q", id)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestMattressAndAnonymousNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, _, addr := start(t, nil)
	_, a, m := login(t, ctx, addr, "")
	gv, err := a.CallRemote(ctx, "joinGroup", "#clean", pb.Kw{"allowMattress": false})
	if err != nil {
		t.Fatal(err)
	}
	g := gv.(*pb.RemoteReference)
	_, err = g.CallRemote(ctx, "send", "a mattress")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "Don't say that word" {
		t.Fatalf("mattress = %v", err)
	}
	if _, err := g.CallRemote(ctx, "send", "clean"); err != nil {
		t.Fatal(err)
	}
	if l := <-m.lines; l != "<guest-1> says: clean" {
		t.Fatalf("anonymous heard %q", l)
	}
	_, err = a.CallRemote(ctx, "joinGroup")
	if !errors.As(err, &re) || re.Type != "builtins.TypeError" {
		t.Fatalf("joinGroup() = %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	th := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute, Now: clock})
	_, realm, _, addr := start(t, th)
	b, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bad := &cred.UsernamePassword{Username: "alice", Password: []byte("guess")}
	for i := 0; i < 3; i++ {
		if _, err := b.Login(ctx, bad, nil); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	good := &cred.UsernamePassword{Username: "alice", Password: []byte("1234")}
	_, err = b.Login(ctx, good, nil)
	var te *cred.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, cred.ErrThrottled) || te.RetryAfter != time.Minute {
		t.Fatalf("login while throttled: %v, want a 1m *cred.ThrottledError", err)
	}
	// The lockout is of alice at this address, not of the address: three
	// failures are far below the address's budget, so bob logs in.
	bobAvatar, err := b.Login(ctx, &cred.UsernamePassword{Username: "bob", Password: []byte("secret")}, nil)
	if err != nil {
		t.Fatalf("bob, at the same address: %v", err)
	}
	bobAvatar.Release()
	waitLogout(t, realm, "bob")
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	a, err := b.Login(ctx, good, nil)
	if err != nil {
		t.Fatalf("login after the lockout: %v", err)
	}
	a.Release()
	waitLogout(t, realm, "alice")
}
