package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/pb"
)

type sessionMind struct {
	pb.Referenceable
	printed chan string
}

func (m *sessionMind) RemotePrint(x any) string {
	s := fmt.Sprint(x)
	m.printed <- s
	return "printed " + s
}

// TestSessionRidesOutTwistedRestarts: a Go Session logged in to a Twisted
// server (login_server.py) with a mind survives three restarts of the
// server on the same port: it logs in again each time with the same
// credentials and mind and re-runs its OnConnect, which calls the
// avatar, which calls the mind.
func TestSessionRidesOutTwistedRestarts(t *testing.T) {
	py := pypeer.StartServer(t, "login_server.py", "0")
	port := py.Addr[strings.LastIndexByte(py.Addr, ':')+1:]
	mind := &sessionMind{printed: make(chan string, 8)}
	connected := make(chan string, 8)
	n := 0
	password := []byte("pass1")
	s := pb.NewSession(py.Addr, &pb.SessionConfig{
		Credentials: &cred.UsernamePassword{Username: "user1", Password: password},
		Mind:        mind,
		MinDelay:    50 * time.Millisecond,
		MaxDelay:    500 * time.Millisecond,
		OnConnect: func(ctx context.Context, b *pb.Broker, avatar *pb.RemoteReference) error {
			n++ // OnConnect calls never overlap
			v, err := avatar.CallRemote(ctx, "callMind", n)
			if err != nil {
				return err
			}
			connected <- fmt.Sprint(v)
			return nil
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := 1; i <= 4; i++ {
		select {
		case got := <-connected:
			if want := fmt.Sprintf("printed %d", i); got != want {
				t.Fatalf("connection %d: OnConnect got %q, want %q", i, got, want)
			}
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("connection %d never came", i)
		}
		if got := <-mind.printed; got != fmt.Sprint(i) {
			t.Fatalf("mind printed %q", got)
		}
		_, av, err := s.Avatar(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := av.CallRemote(ctx, "foo", "x"); err != nil || fmt.Sprint(v) != "[foo user1 x]" {
			t.Fatalf("avatar call after connection %d: %v %v", i, v, err)
		}
		if i == 4 {
			break
		}
		if err := py.Stop(); err != nil {
			t.Fatalf("stopping the server: %v", err)
		}
		py = pypeer.StartServer(t, "login_server.py", port)
	}
	if c := s.Connects(); c != 4 {
		t.Errorf("Connects = %d, want 4", c)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}

	// Twisted refusing the password ends the session.
	bad := pb.NewSession(py.Addr, &pb.SessionConfig{
		Credentials: &cred.UsernamePassword{Username: "user1", Password: []byte("not" + string(password))},
		MinDelay:    10 * time.Millisecond,
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := bad.Run(ctx2); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("Run with a wrong password = %v, want UnauthorizedLogin", err)
	}
}

// TestProbeAgainstTwisted: a Twisted server's failure answer to an
// unknown probe method keeps the connection; the same server frozen
// (SIGSTOP) stops answering, and the probe closes the connection.
func TestProbeAgainstTwisted(t *testing.T) {
	py := pypeer.StartServer(t, "echo_server.py", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := pb.Dial(ctx, py.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.StartProbe(&pb.Probe{Interval: 30 * time.Millisecond, Timeout: 2 * time.Second, Method: "noSuchProbeMethod"})
	// Several probes answered with failures: still connected.
	for i := 0; i < 5; i++ {
		if _, err := b.Root().CallRemote(ctx, "echo", i); err != nil {
			t.Fatalf("echo: %v", err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err := b.Err(); err != nil {
		t.Fatalf("the probe closed a live Twisted connection: %v", err)
	}
	if err := py.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer py.Cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("the probe did not close the connection to a frozen server")
	}
	if !errors.Is(b.Err(), pb.ErrPeerSilent) {
		t.Errorf("Err = %v, want ErrPeerSilent", b.Err())
	}
}
