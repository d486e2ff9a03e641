package interop

import (
	"context"
	"crypto/md5"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/pb"
)

// Issue 14: two spread authd processes on one PostgreSQL (--state)
// serve the same users; brokers take both addresses and fail over.
// Stock Twisted 22.4 clients log in.
func TestAuthdTwoProcesses(t *testing.T) {
	_, services, users := authdSetup(t)
	dsn := pgtest.Start(t)
	authdArgs := func() []string {
		return []string{"authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:" + users, "--state", dsn}
	}
	adA := startSpreadServer(t, nil, authdArgs()...)
	adB := startSpreadServer(t, nil, authdArgs()...)
	// x delegates to B only; y to A, then B.
	x := startChatBroker(t, adB.Addr, "chat")
	y := startChatBroker(t, adA.Addr+","+adB.Addr, "chat-b")
	if !strings.Contains(y.Log(), "addr="+adA.Addr) {
		t.Fatalf("y did not connect to A first:\n%s", y.Log())
	}

	d := startDriver(t)
	d.must("authd login at A", "authd", adA.Addr, "alice", authdAlicePW)

	// A ticket minted at A is redeemed through B, once.
	d.must("ticket", "ticket", "t1", "chat")
	d.must("the ticket from A at a broker of B", "login", "x1", x.Addr, "alice", "t1")
	d.refused("the same ticket again", "", "login", "x2", x.Addr, "alice", "t1")
	d.must("join", "join", "x1", "#two")
	d.must("send", "send", "x1", "hello")

	// A logout at A ends the session at the broker attached to B.
	d.must("logout at A", "logout")
	d.must("logout at A closes the session at x (attached to B)", "waitclosed", "x1", "2")

	// y keeps accepting ticket logins after A is SIGKILLed.
	d.must("authd login at A again", "authd", adA.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t2", "chat-b")
	d.must("a ticket login at y", "login", "y1", y.Addr, "alice", "t2")
	adA.cmd.Process.Kill()
	<-adA.done
	adA.cmd.Wait()
	d.must("authd login at B", "authd", adB.Addr, "alice", authdAlicePW)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		slot := "s" + string(rune('a'+i%26))
		d.must("ticket at B", "ticket", slot, "chat-b")
		r := d.do("a ticket login at y after A died", "login", "y2", y.Addr, "alice", slot)
		if r.OK {
			break
		}
		if !strings.Contains(r.Value, "cannot be checked right now") || time.Now().After(deadline) {
			t.Fatalf("a ticket login at y after A died: %s: %s\nbroker:\n%s", r.Type, r.Value, y.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(y.Log(), "addr="+adB.Addr) {
		t.Errorf("y's log does not show it connected to B:\n%s", y.Log())
	}
	d.must("the session from before A died still works", "join", "y1", "#two")

	// The client helper tries authd's addresses in order: A is dead.
	if _, stderr, code := runSpread(t, "", []string{"SPREAD_PASSWORD=" + authdAlicePW}, "call", "--server", x.Addr,
		"--user", "alice", "--authd", adA.Addr+","+adB.Addr, "--service", "chat", "joinGroup", "#cli"); code != 0 {
		t.Errorf("spread call --authd DEAD,B: exit %d: %s", code, stderr)
	}
}

// N redemptions of one ticket through two authd processes: exactly one
// succeeds.
func TestAuthdTwoProcessesConcurrentRedemption(t *testing.T) {
	_, services, users := authdSetup(t)
	dsn := pgtest.Start(t)
	args := []string{"authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:" + users, "--state", dsn}
	adA := startSpreadServer(t, nil, args...)
	adB := startSpreadServer(t, nil, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := authd.Login(ctx, adA.Addr, &cred.UsernamePassword{Username: "alice", Password: []byte(authdAlicePW)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svc := func(addr string) *pb.RemoteReference {
		b, err := pb.Dial(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		v, err := b.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+"chat", []byte(authdChatSecret), nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.(*pb.RemoteReference)
	}
	svcs := []*pb.RemoteReference{svc(adA.Addr), svc(adB.Addr)}
	const n = 20
	for round := 0; round < 5; round++ {
		tk, err := c.Ticket(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var err error
				if i%4 < 2 {
					_, err = svcs[i%2].CallRemote(ctx, "redeemTicket", "alice", []byte(tk))
				} else {
					ch := []byte("challenge-" + string(rune('a'+i)))
					inner := md5.Sum([]byte(tk))
					resp := md5.Sum(append(inner[:], ch...))
					_, err = svcs[i%2].CallRemote(ctx, "redeem", "alice", ch, resp[:])
				}
				var re *pb.RemoteError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &re) && re.Check("twisted.cred.error.UnauthorizedLogin"):
					refused.Add(1)
				default:
					t.Errorf("redemption %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != n-1 {
			t.Fatalf("round %d: %d succeeded and %d were refused; want 1 and %d", round, ok.Load(), refused.Load(), n-1)
		}
	}
}
