package authd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/internal/tcprelay"
	"github.com/gospread/spread/pb"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Test secrets, never printed.
var (
	alicePW  = "alice-" + strings.Repeat("x", 8)
	secretA  = []byte("secret-of-broker-a")
	secretB  = []byte("secret-of-broker-b")
	secretRG = []byte("secret-of-regional")
	secretOp = []byte("secret-of-operator")
)

func service(t testing.TB, name string, secret []byte, opts ...string) *authd.Service {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword(secret, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return &authd.Service{Name: name, Hash: h, Options: opts}
}

func listen(t testing.TB, cfg *pb.Config) string {
	t.Helper()
	return listenOn(t, "127.0.0.1:0", cfg)
}

func listenOn(t testing.TB, addr string, cfg *pb.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(cfg)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type authdOpts struct {
	ticketTTL, sessionTTL time.Duration
	upstream              *authd.Checker
	users                 cred.Checker
	state                 *authd.SQLState
	addr                  string // where to listen; "" picks a port
}

// startAuthd serves an authd with alice and bob, and services a, b, the
// proxy regional and the admin operator.
func startAuthd(t testing.TB, o authdOpts) (string, *authd.Server) {
	t.Helper()
	users := o.users
	if users == nil && o.upstream == nil {
		users = checkers.NewInMemory(map[string]string{"alice": alicePW, "bob": "bob-pw"})
	}
	s, err := authd.NewServer(&authd.Config{
		Users: users,
		Services: authd.NewServices(service(t, "a", secretA), service(t, "b", secretB),
			service(t, "regional", secretRG, authd.OptProxy), service(t, "operator", secretOp, authd.OptAdmin)),
		TicketTTL:  o.ticketTTL,
		SessionTTL: o.sessionTTL,
		Upstream:   o.upstream,
		State:      o.state,
		Logger:     quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if o.addr != "" {
		return listenOn(t, o.addr, &pb.Config{Portal: s.Portal(), Logger: quiet}), s
	}
	return listen(t, &pb.Config{Portal: s.Portal(), Logger: quiet}), s
}

// broker is a test broker that delegates to authd.
type broker struct {
	addr    string
	checker *authd.Checker
	mu      sync.Mutex
	logouts map[string]int
}

type avatar struct {
	pb.Avatar
	id string
}

func (a *avatar) PerspectiveWho() string { return a.id }

func startBroker(t testing.TB, authdAddr, name string, secret []byte) *broker {
	t.Helper()
	return startBrokerLog(t, authdAddr, name, secret, quiet)
}

// startBrokerLog starts a test broker whose checker logs to log.
func startBrokerLog(t testing.TB, authdAddr, name string, secret []byte, log *slog.Logger) *broker {
	t.Helper()
	c, err := authd.NewChecker(&authd.CheckerConfig{Addr: authdAddr, Service: name, Secret: secret, Logger: log,
		MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := &broker{checker: c, logouts: map[string]int{}}
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return &avatar{id: id}, func() { br.mu.Lock(); br.logouts[id]++; br.mu.Unlock() }, nil
	})
	br.addr = listen(t, &pb.Config{Portal: cred.NewPortal(realm, c), Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatalf("broker %s did not connect to authd", name)
	}
	return br
}

// loggedOut returns how many times id's realm logout ran, waiting up to
// 2 s for the first (the client sees its connection close before the
// broker has run the logout).
func (br *broker) loggedOut(id string) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		br.mu.Lock()
		n := br.logouts[id]
		br.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// login logs in at the broker with user and ticket.
func login(t testing.TB, ctx context.Context, addr, user, ticket string) (*pb.Broker, *pb.RemoteReference, error) {
	t.Helper()
	b, err := pb.Dial(ctx, addr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: user, Password: []byte(ticket)}, nil)
	return b, a, err
}

func userLogin(t testing.TB, ctx context.Context, addr, user, pw string) *authd.Client {
	t.Helper()
	c, err := authd.Login(ctx, addr, &cred.UsernamePassword{Username: user, Password: []byte(pw)}, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatalf("login at authd as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ticket(t testing.TB, ctx context.Context, c *authd.Client, service string) string {
	t.Helper()
	tk, err := c.Ticket(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	if len(tk) != authd.TicketLen {
		t.Fatalf("ticket of %d characters, want %d", len(tk), authd.TicketLen)
	}
	return tk
}

func TestTicketRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{ticketTTL: 300 * time.Millisecond})
	a := startBroker(t, authdAddr, "a", secretA)
	b := startBroker(t, authdAddr, "b", secretB)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)

	tk := ticket(t, ctx, c, "a")
	_, av, err := login(t, ctx, a.addr, "alice", tk)
	if err != nil {
		t.Fatalf("ticket login: %v", err)
	}
	if who, err := av.CallRemote(ctx, "who"); err != nil || who != "alice" {
		t.Fatalf("who = %v, %v", who, err)
	}
	if _, _, err := login(t, ctx, a.addr, "alice", tk); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("the same ticket again: %v, want refused", err)
	}
	tk = ticket(t, ctx, c, "a")
	if _, _, err := login(t, ctx, b.addr, "alice", tk); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("a ticket for a at b: %v, want refused", err)
	}
	if _, _, err := login(t, ctx, a.addr, "bob", tk); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("alice's ticket as bob: %v, want refused", err)
	}
	// Refusals elsewhere did not consume it.
	if _, _, err := login(t, ctx, a.addr, "alice", tk); err != nil {
		t.Errorf("the ticket after refusals elsewhere: %v", err)
	}
	tk = ticket(t, ctx, c, "a")
	time.Sleep(400 * time.Millisecond)
	if _, _, err := login(t, ctx, a.addr, "alice", tk); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("an expired ticket: %v, want refused", err)
	}
	// Tickets for an unnamed service, a malformed one.
	if _, err := c.Ticket(ctx, "no/such"); err == nil {
		t.Error("a ticket for a malformed service name was issued")
	}
}

// A Spread client whose broker takes only the password login sends the
// ticket itself; it is redeemed whole.
func TestTicketPasswordLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	chk, err := authd.NewChecker(&authd.CheckerConfig{Addr: authdAddr, Service: "a", Secret: secretA, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer chk.Close()
	if err := chk.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	tk := ticket(t, ctx, c, "a")
	if _, err := chk.CheckCredentials(ctx, &cred.UsernamePassword{Username: "bob", Password: []byte(tk)}); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("wrong user: %v", err)
	}
	id, err := chk.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(tk)})
	if err != nil || id != "alice" {
		t.Fatalf("password login with a ticket: %q, %v", id, err)
	}
	if _, err := chk.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(tk)}); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("the ticket twice: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte(strings.Repeat("t", 300)), []byte(strings.Repeat("t", 100000)), {0, 0xff, '\n'}} {
		if _, err := chk.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: bad}); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Errorf("malformed ticket of %d bytes: %v", len(bad), err)
		}
	}
}

// waitClosed waits for b's connection to end.
func waitClosed(t testing.TB, b *pb.Broker, within time.Duration, what string) {
	t.Helper()
	select {
	case <-b.Done():
	case <-time.After(within):
		t.Fatalf("%s: the broker session is still open after %v", what, within)
	}
}

func TestRevocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, srv := startAuthd(t, authdOpts{sessionTTL: 1500 * time.Millisecond})
	a := startBroker(t, authdAddr, "a", secretA)
	b := startBroker(t, authdAddr, "b", secretB)

	// logout() ends both brokers' sessions, not another login's.
	c1 := userLogin(t, ctx, authdAddr, "alice", alicePW)
	c2 := userLogin(t, ctx, authdAddr, "bob", "bob-pw")
	ba, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, c1, "a"))
	if err != nil {
		t.Fatal(err)
	}
	bb, _, err := login(t, ctx, b.addr, "alice", ticket(t, ctx, c1, "b"))
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := login(t, ctx, a.addr, "bob", ticket(t, ctx, c2, "a"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c1.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ba, 2*time.Second, "logout at a")
	waitClosed(t, bb, 2*time.Second, "logout at b")
	t.Logf("logout closed both sessions in %v", time.Since(start))
	if a.loggedOut("alice") != 1 || b.loggedOut("alice") != 1 {
		t.Errorf("realm logouts: a %d, b %d", a.loggedOut("alice"), b.loggedOut("alice"))
	}
	if bob.Err() != nil {
		t.Fatalf("bob's session ended with alice's: %v", bob.Err())
	}
	if _, err := c1.Ticket(ctx, "a"); err == nil {
		t.Error("a ticket after logout")
	}

	// Operator revocation.
	c3 := userLogin(t, ctx, authdAddr, "alice", alicePW)
	ba, _, err = login(t, ctx, a.addr, "alice", ticket(t, ctx, c3, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.RevokeUser("alice"); n != 1 {
		t.Errorf("RevokeUser ended %d sessions, want 1", n)
	}
	waitClosed(t, ba, 2*time.Second, "operator revocation")
	if bob.Err() != nil {
		t.Fatalf("bob's session ended with alice's: %v", bob.Err())
	}

	// Expiry: bob's login (1.5 s) ends, and his session with it.
	waitClosed(t, bob, 3*time.Second, "session expiry")
	if _, err := c2.Ticket(ctx, "a"); err == nil {
		t.Error("a ticket after expiry")
	}
}

// The operator revokes through an admin service; other services and
// users may not.
func TestRevokeUserByAdminService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	a := startBroker(t, authdAddr, "a", secretA)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	ba, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, c, "a"))
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name string, secret []byte) *pb.RemoteReference {
		b, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		v, err := b.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+name, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.(*pb.RemoteReference)
	}
	if _, err := svc("b", secretB).CallRemote(ctx, "revokeUser", "alice"); err == nil {
		t.Error("a plain service revoked a user")
	}
	n, err := svc("operator", secretOp).CallRemote(ctx, "revokeUser", "alice")
	if err != nil || n != int64(1) {
		t.Fatalf("revokeUser: %v, %v", n, err)
	}
	waitClosed(t, ba, 2*time.Second, "revokeUser")
}

func TestAuthdOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// authd on a fixed port, so that it can come back there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	authdAddr := ln.Addr().String()
	users := checkers.NewInMemory(map[string]string{"alice": alicePW})
	newAuthd := func() *pb.Server {
		s, err := authd.NewServer(&authd.Config{Users: users, Services: authd.NewServices(service(t, "a", secretA)), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return pb.NewServer(&pb.Config{Portal: s.Portal(), Logger: quiet})
	}
	srv1 := newAuthd()
	go srv1.Serve(ln)
	a := startBroker(t, authdAddr, "a", secretA)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	open, av, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, c, "a"))
	if err != nil {
		t.Fatal(err)
	}
	spare := ticket(t, ctx, c, "a")
	srv1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for a.checker.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, _, err = login(t, ctx, a.addr, "alice", spare)
	if !errors.Is(err, cred.ErrUnavailable) {
		t.Fatalf("a ticket login with authd down: %v, want unavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the refusal took %v", d)
	}
	if _, err := av.CallRemote(ctx, "who"); err != nil || open.Err() != nil {
		t.Fatalf("the open session broke with authd: %v", err)
	}
	ln2, err := net.Listen("tcp", authdAddr)
	if err != nil {
		t.Fatal(err)
	}
	go newAuthd().Serve(ln2)
	if err := a.checker.WaitConnected(ctx); err != nil {
		t.Fatal("the checker did not reconnect")
	}
	c2 := userLogin(t, ctx, authdAddr, "alice", alicePW)
	if _, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, c2, "a")); err != nil {
		t.Fatalf("a ticket login after authd came back: %v", err)
	}
}

func TestHostile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)

	svcB, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svcB.Close()
	v, err := svcB.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+"b", secretB, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := v.(*pb.RemoteReference)

	// A service redeeming another's ticket, whole or by challenge.
	tk := ticket(t, ctx, c, "a")
	if _, err := b.CallRemote(ctx, "redeemTicket", "alice", []byte(tk)); err == nil {
		t.Error("b redeemed a ticket for a")
	}
	if _, err := b.CallRemote(ctx, "redeemTicket", "alice", []byte(tk), pb.Kw{"service": "a"}); err == nil {
		t.Error("b redeemed a ticket for a, naming a")
	}
	ch := []byte("0123456789abcdef")
	if _, err := b.CallRemote(ctx, "redeem", "alice", ch, cred.ChallengeResponse([]byte(tk), ch), pb.Kw{"service": "a"}); err == nil {
		t.Error("b redeemed a's ticket by challenge")
	}
	// Services mint no tickets and check no user logins.
	if _, err := b.CallRemote(ctx, "ticket", "b"); err == nil {
		t.Error("a service minted a ticket")
	}
	if _, err := b.CallRemote(ctx, "checkPassword", "alice", []byte(alicePW)); err == nil {
		t.Error("a service without proxy checked a password")
	}
	// A service cannot log in with the challenge login or a wrong secret.
	if _, err := svcB.Login(ctx, &cred.UsernamePassword{Username: authd.ServicePrefix + "a", Password: []byte("guess")}, nil); err == nil {
		t.Error("a wrong service secret logged in")
	}
	// Users call no service methods.
	tkB := ticket(t, ctx, c, "b")
	for _, m := range []string{"redeem", "redeemTicket", "checkLogin", "checkPassword", "revokeUser"} {
		if _, err := c.Broker().Root().CallRemote(ctx, m, "alice", []byte(tkB)); err == nil {
			t.Errorf("the login root answered %s", m)
		}
	}
	ua, err := c.Broker().Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(alicePW)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"redeem", "redeemTicket", "revokeUser"} {
		if _, err := ua.CallRemote(ctx, m, "alice", []byte(tkB)); err == nil {
			t.Errorf("a user called the service method %s", m)
		}
	}
	// A user name that looks like a service logs in as nothing.
	if _, err := authd.Login(ctx, authdAddr, &cred.UsernamePassword{Username: authd.ServicePrefix + "b", Password: []byte(alicePW)}, &pb.Config{Logger: quiet}); err == nil {
		t.Error("a user logged in under a service name")
	}

	// Replay of a captured challenge response: the first redemption
	// consumes the ticket.
	resp := cred.ChallengeResponse([]byte(tkB), ch)
	v, err = b.CallRemote(ctx, "redeem", "alice", ch, resp)
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	if l := v.([]any); l[0] != "alice" {
		t.Fatalf("redeem answered %v", l)
	}
	if _, err := b.CallRemote(ctx, "redeem", "alice", ch, resp); err == nil {
		t.Error("a replayed challenge response was accepted")
	}
	// Malformed arguments fail the call, not the connection.
	for _, args := range [][]any{
		{"alice", ch, []byte("short")},
		{"alice", make([]byte, 1<<16), resp},
		{strings.Repeat("u", 10000), ch, resp},
		{int64(3), ch, resp},
		{"alice"},
	} {
		if _, err := b.CallRemote(ctx, "redeem", args...); err == nil {
			t.Errorf("redeem%v accepted", args[:1])
		}
	}
	if _, err := b.CallRemote(ctx, "redeemTicket", "alice", make([]byte, 1<<16)); err == nil {
		t.Error("a 64 KiB ticket accepted")
	}
	if svcB.Err() != nil {
		t.Fatalf("hostile calls closed the connection: %v", svcB.Err())
	}
}

// Ticket guessing at a broker is throttled by the broker's login
// throttle like password guessing.
func TestTicketGuessingThrottled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	a := startBroker(t, authdAddr, "a", secretA)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	tk := ticket(t, ctx, c, "a")
	b, err := pb.Dial(ctx, a.addr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	throttled := false
	for i := range 10 {
		_, err := b.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(strings.Repeat("A", 42) + string(rune('a'+i)))}, nil)
		if errors.Is(err, cred.ErrThrottled) {
			throttled = true
			break
		}
		if !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if !throttled {
		t.Fatal("ten wrong tickets were not throttled")
	}
	// Even the right ticket waits now, from this address.
	if _, err := b.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(tk)}, nil); !errors.Is(err, cred.ErrThrottled) {
		t.Errorf("after the lockout: %v", err)
	}
}

// startChain starts a central authd and a regional one that passes
// its users' logins on to it as the proxy service "regional".
func startChain(t *testing.T, ctx context.Context) (centralAddr string, central *authd.Server, regionalAddr string) {
	t.Helper()
	centralAddr, central = startAuthd(t, authdOpts{})
	up, err := authd.NewChecker(&authd.CheckerConfig{Addr: centralAddr, Service: "regional", Secret: secretRG, Logger: quiet,
		MinDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	if err := up.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	regionalAddr, _ = startAuthd(t, authdOpts{upstream: up})
	return centralAddr, central, regionalAddr
}

// broker -> regional authd -> central authd.
func TestChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	centralAddr, central, regionalAddr := startChain(t, ctx)
	a := startBroker(t, regionalAddr, "a", secretA)

	// A user of the central authd logs in at the regional one.
	cr := userLogin(t, ctx, regionalAddr, "alice", alicePW)
	b1, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, cr, "a"))
	if err != nil {
		t.Fatalf("ticket from the regional authd: %v", err)
	}
	// A ticket from the central authd, for the regional's broker a.
	cc := userLogin(t, ctx, centralAddr, "alice", alicePW)
	b2, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, cc, "a"))
	if err != nil {
		t.Fatalf("ticket from the central authd through the regional: %v", err)
	}
	// Logout at the central authd reaches the broker through the chain.
	if err := cc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, b2, 2*time.Second, "central logout through the chain")
	if b1.Err() != nil {
		t.Fatal("the regional login's session ended too")
	}
	// Operator revocation at the central authd ends the regional login.
	central.RevokeUser("alice")
	waitClosed(t, b1, 2*time.Second, "central revocation through the chain")

	// A proxy guessing a password is throttled like a client.
	pb2, err := pb.Dial(ctx, centralAddr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer pb2.Close()
	v, err := pb2.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+"regional", secretRG, nil)
	if err != nil {
		t.Fatal(err)
	}
	proxy := v.(*pb.RemoteReference)
	if id, err := proxy.CallRemote(ctx, "checkPassword", "bob", []byte("bob-pw")); err != nil || id != "bob" {
		t.Fatalf("checkPassword: %v, %v", id, err)
	}
	for i := range 12 {
		proxy.CallRemote(ctx, "checkPassword", "bob", []byte(fmt.Sprint("guess-", i)))
	}
	if _, err := proxy.CallRemote(ctx, "checkPassword", "bob", []byte("bob-pw")); err == nil {
		t.Error("a proxy's password guessing was not throttled")
	}

	// A service that may not proxy cannot forward.
	notProxy, err := authd.NewChecker(&authd.CheckerConfig{Addr: centralAddr, Service: "b", Secret: secretB, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer notProxy.Close()
	if err := notProxy.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	regional2, _ := startAuthd(t, authdOpts{upstream: notProxy})
	if _, err := authd.Login(ctx, regional2, &cred.UsernamePassword{Username: "alice", Password: []byte(alicePW)}, &pb.Config{Logger: quiet}); err == nil {
		t.Error("a service without the proxy option forwarded a login")
	}
}

func TestServicesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services")
	if err := authd.AddService(path, "chat-a", secretA); err != nil {
		t.Fatal(err)
	}
	if err := authd.AddService(path, "regional", secretRG, authd.OptProxy); err != nil {
		t.Fatal(err)
	}
	if err := authd.AddService(path, "chat-a", secretB); err != nil { // replaced
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), string(secretA)) || strings.Count(string(data), "chat-a:") != 1 {
		t.Fatalf("services file:\n%s", data)
	}
	s, err := authd.LoadServices(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "chat-a,regional" {
		t.Errorf("names %s", got)
	}
	for _, bad := range []string{"x", "a:notbcrypt", "a b:$2a$04$abc", "a:$2a$04$" + strings.Repeat("a", 53) + ":wizard"} {
		os.WriteFile(path, []byte(bad+"\n"), 0o600)
		if _, err := authd.LoadServices(path); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
	if err := authd.AddService(path, "bad/name", secretA); err == nil {
		t.Error("a bad name added")
	}
}

// A connection that logs in many times with tickets is remembered once,
// and forgotten when it ends.
func TestTrackedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	a := startBroker(t, authdAddr, "a", secretA)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	b, err := pb.Dial(ctx, a.addr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		av, err := b.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(ticket(t, ctx, c, "a"))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		av.Release()
	}
	if n := a.checker.Sessions(); n != 1 {
		t.Errorf("%d connections remembered, want 1", n)
	}
	b.Close()
	deadline := time.Now().Add(2 * time.Second)
	for a.checker.Sessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := a.checker.Sessions(); n != 0 {
		t.Errorf("%d connections remembered after the connection ended", n)
	}
}

// A revocation for a broker that is not connected reaches it when it
// logs in at authd again.
func TestRevocationWhileBrokerAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	proxy := tcprelay.Start(t, "127.0.0.1:0", authdAddr)
	proxyAddr := proxy.Addr()
	a := startBroker(t, proxyAddr, "a", secretA)
	c := userLogin(t, ctx, authdAddr, "alice", alicePW)
	ba, _, err := login(t, ctx, a.addr, "alice", ticket(t, ctx, c, "a"))
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	deadline := time.Now().Add(5 * time.Second)
	for a.checker.Connected() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ba.Err() != nil {
		t.Fatal("the session ended while its broker was away from authd")
	}
	tcprelay.Start(t, proxyAddr, authdAddr)
	if err := a.checker.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ba, 2*time.Second, "a revocation delivered at the broker's return")
}

// authd keeps at most maxSessionsPerUser sessions of one user, however
// often the user logs in, redeems a ticket and disconnects.
func TestSessionsPerUserBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authdAddr, srv := startAuthd(t, authdOpts{})
	sb, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	v, err := sb.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+"a", secretA, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := v.(*pb.RemoteReference)
	b, err := pb.Dial(ctx, authdAddr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 300 {
		av, err := b.Login(ctx, &cred.UsernamePassword{Username: "bob", Password: []byte("bob-pw")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := av.CallRemote(ctx, "ticket", "a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CallRemote(ctx, "redeemTicket", "bob", []byte(tk.(string))); err != nil {
			t.Fatalf("login %d: redeem: %v", i, err)
		}
		av.Release() // the login's connection-side end: detached, kept
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, _ := srv.Counts()
		if n <= 256 {
			if n < 200 {
				t.Errorf("only %d sessions kept", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of one user kept", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A regional authd whose upstream is down does not let its own users'
// passwords be guessed without limit.
func TestUpstreamOutageThrottled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	up, err := authd.NewChecker(&authd.CheckerConfig{Addr: deadAddr, Service: "regional", Secret: secretRG, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	regional, _ := startAuthd(t, authdOpts{upstream: up, users: checkers.NewInMemory(map[string]string{"carol": "carol-pw"})})
	b, err := pb.Dial(ctx, regional, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unavailable, refused := 0, 0
	for i := range 12 {
		_, err := b.Login(ctx, &cred.UsernamePassword{Username: "carol", Password: []byte(fmt.Sprint("guess-", i))}, nil)
		switch {
		case errors.Is(err, cred.ErrUnavailable):
			unavailable++
		case err != nil:
			refused++
		default:
			t.Fatal("a wrong password logged in")
		}
	}
	if unavailable > 5 || refused == 0 {
		t.Errorf("%d guesses answered 'unavailable', %d refused", unavailable, refused)
	}
	// The right password of a local user works from another address.
	b2 := dialFrom(t, ctx, "127.0.0.2", regional)
	if _, err := b2.Login(ctx, &cred.UsernamePassword{Username: "carol", Password: []byte("carol-pw")}, nil); err != nil {
		t.Errorf("carol's right password during the outage: %v", err)
	}
}

func dialFrom(t *testing.T, ctx context.Context, ip, addr string) *pb.Broker {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pb.NewClient(ctx, conn, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// freezer forwards TCP connections to target; while frozen it forwards
// nothing, as a hung authd would answer nothing.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for f.frozen.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	t.Cleanup(func() { f.frozen.Store(false); ln.Close() })
	return f
}

// A hung authd is found by the checker's probe: ticket logins are then
// refused at once as unavailable, not after a timeout each.
func TestHungAuthd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authdAddr, _ := startAuthd(t, authdOpts{})
	fr := newFreezer(t, authdAddr)
	chk, err := authd.NewChecker(&authd.CheckerConfig{Addr: fr.ln.Addr().String(), Service: "a", Secret: secretA, Logger: quiet,
		ProbeInterval: 200 * time.Millisecond, MinDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer chk.Close()
	if err := chk.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	fr.frozen.Store(true)
	deadline := time.Now().Add(3 * time.Second)
	for chk.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("the checker did not notice a hung authd")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, err = chk.CheckCredentials(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(strings.Repeat("A", authd.TicketLen))})
	if !errors.Is(err, cred.ErrUnavailable) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("a check with authd hung: %v after %v", err, time.Since(start))
	}
	fr.frozen.Store(false)
	if err := chk.WaitConnected(ctx); err != nil {
		t.Fatal("the checker did not reconnect once authd answered again")
	}
}
