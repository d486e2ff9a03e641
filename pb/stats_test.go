package pb_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

func TestServerStats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	th := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 2, Window: time.Minute, Lockout: time.Minute})
	srv := pb.NewServer(&pb.Config{Portal: userPortal(), Throttle: th, Logger: discard()})
	if st := srv.Stats(); st.Listeners != 0 {
		t.Fatalf("before Serve: %+v", st)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	b, err := pb.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := b.Login(ctx, &cred.UsernamePassword{Username: "user", Password: []byte("pw")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CallRemote(ctx, "whoami"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CallRemote(ctx, "nosuch"); err == nil {
		t.Fatal("nosuch answered")
	}
	bad := &cred.UsernamePassword{Username: "user", Password: []byte("wrong")}
	for range 2 {
		if _, err := b.Login(ctx, bad, nil); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("bad login: %v", err)
		}
	}
	if _, err := b.Login(ctx, bad, nil); !errors.Is(err, cred.ErrThrottled) {
		t.Fatalf("third bad login: %v", err)
	}
	st := srv.Stats()
	if st.Listeners != 1 || st.Open != 1 || st.LoggedIn != 1 || st.LoginsOK != 1 ||
		st.LoginsRefused != 2 || st.LoginsThrottled != 1 || st.CallFailures < 1 || st.Calls < 4 {
		t.Fatalf("stats: %+v", st)
	}
	a.Release()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().LoggedIn != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after logout: %+v", srv.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
