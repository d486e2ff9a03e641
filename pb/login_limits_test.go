package pb_test

import (
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// Issue 19: a 600 KiB user name is refused before it is stored, thrown
// or logged. Before the cap, one failed login with such a name wrote
// about 600 KiB of log and kept the name in the throttle.
func TestLoginLongNameRefused(t *testing.T) {
	var logs syncBuffer
	th := cred.NewThrottle(nil)
	_, addr := serve(t, &pb.Config{Portal: userPortal(), Throttle: th, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := ctxT(t)
	b := dial(t, addr, nil)
	long := strings.Repeat("n", 600<<10)

	check := func(what string, err error) {
		t.Helper()
		var re *pb.RemoteError
		if !errors.As(err, &re) || re.Type != "twisted.cred.error.UnauthorizedLogin" ||
			re.Code != pb.LoginCodeNameTooLong || re.Value != "user name longer than 256 bytes" {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := b.Root().CallRemote(ctx, "login", []byte(long))
	check("login", err)
	_, err = b.Root().CallRemote(ctx, pb.MethodLoginPassword, []byte(long), []byte("pw"), nil)
	check("loginPassword", err)
	for range 20 {
		_, err = b.Root().CallRemote(ctx, "login", []byte(long))
		check("login again", err)
	}
	// The Go client does not even send it.
	_, err = b.Login(ctx, &cred.UsernamePassword{Username: long, Password: []byte("pw")}, nil)
	var le *pb.LoginError
	if !errors.Is(err, cred.ErrUsernameTooLong) || !errors.As(err, &le) || le.Remote != nil {
		t.Fatalf("Login with a long name: %v", err)
	}
	// 256 bytes is still a name (refused as unknown, after the check).
	_, err = b.Login(ctx, &cred.UsernamePassword{Username: strings.Repeat("n", 256), Password: []byte("pw")}, nil)
	if !errors.Is(err, cred.ErrUnauthorizedLogin) || errors.Is(err, cred.ErrUsernameTooLong) {
		t.Fatalf("Login with a 256-byte name: %v", err)
	}
	// The connection still serves.
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: "user", Password: []byte("pw")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	n := len(logs.String())
	t.Logf("log output for 22 attempts with 600 KiB names and three logins: %d bytes", n)
	if n > 4096 {
		t.Fatalf("%d bytes of log:\n%.2000s", n, logs.String())
	}
	if strings.Contains(logs.String(), strings.Repeat("n", 65)) {
		t.Fatal("more than 64 bytes of a name in the log")
	}
}

// Issue 19: 1,024 pending challenges cannot be created on one
// connection; a challenge answered frees its place.
func TestLoginPendingChallengesCapped(t *testing.T) {
	var logs syncBuffer
	_, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := ctxT(t)
	b := dial(t, addr, nil)
	var first jelly.Tuple
	created, refused := 0, 0
	for i := range 1024 {
		v, err := b.Root().CallRemote(ctx, "login", []byte("user"))
		if err == nil {
			created++
			if i == 0 {
				first = v.(jelly.Tuple)
			}
			continue
		}
		var re *pb.RemoteError
		if !errors.As(err, &re) || re.Code != pb.LoginCodeChallenge || !strings.Contains(re.Value, "too many login challenges pending") {
			t.Fatalf("login %d: %v", i, err)
		}
		refused++
	}
	if created != 16 || refused != 1024-16 {
		t.Fatalf("%d challenges created, %d refused; want 16 and %d", created, refused, 1024-16)
	}
	if n := strings.Count(logs.String(), "too many pending challenges"); n != 1 {
		t.Fatalf("%d log lines for %d refused challenges, want 1", n, refused)
	}
	// Answer the first: its place is free again, and it cannot be reused.
	ch := first[1].(*pb.RemoteReference)
	resp := cred.ChallengeResponse([]byte("pw"), first[0].([]byte))
	a, err := ch.CallRemote(ctx, "respond", resp, nil)
	if err != nil {
		t.Fatalf("respond: %v", err)
	}
	a.(*pb.RemoteReference).Release()
	_, err = ch.CallRemote(ctx, "respond", resp, nil)
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Code != pb.LoginCodeChallenge {
		t.Fatalf("second respond: %v", err)
	}
	if _, err := b.Root().CallRemote(ctx, "login", []byte("user")); err != nil {
		t.Fatalf("login after one challenge was answered: %v", err)
	}
	if _, err := b.Root().CallRemote(ctx, "login", []byte("user")); err == nil {
		t.Fatal("17th pending challenge created")
	}
	// Another connection has its own allowance.
	if _, err := dial(t, addr, nil).Login(ctx, &cred.UsernamePassword{Username: "user", Password: []byte("pw")}, nil); err != nil {
		t.Fatalf("another connection: %v", err)
	}
}

// Issue 19: root.login(name) with 600 KiB names kept every name in a
// pending challenge (up to 1,024 per connection, +826 MiB). Now the
// names are refused and nothing stays: the heap after 100 such calls is
// measured.
func TestLoginLongNamesRetainNothing(t *testing.T) {
	_, addr := serve(t, &pb.Config{Portal: userPortal(), Logger: discard()})
	ctx := ctxT(t)
	b := dial(t, addr, nil)
	long := []byte(strings.Repeat("n", 600<<10))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := b.Root().CallRemote(ctx, "login", long); err == nil {
			t.Fatal("a 600 KiB name got a challenge")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth after 100 logins with 600 KiB names on one connection: %d bytes", grown)
	if grown > 8<<20 { // 100 kept names would be 60 MiB
		t.Fatalf("heap grew by %d bytes", grown)
	}
}
