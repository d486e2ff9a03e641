package authd_test

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/internal/tcprelay"
	"github.com/gospread/spread/pb"
)

// openState opens a state store on dsn, as one authd process would.
func openState(t *testing.T, ctx context.Context, dsn string) *authd.SQLState {
	t.Helper()
	st, err := authd.OpenSQLState(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// serviceAt logs in at an authd as service a and returns its avatar.
func serviceAt(t *testing.T, ctx context.Context, addr string) *pb.RemoteReference {
	t.Helper()
	b, err := pb.Dial(ctx, addr, &pb.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	v, err := b.Root().CallRemote(ctx, pb.MethodLoginPassword, authd.ServicePrefix+"a", secretA, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*pb.RemoteReference)
}

// Two authd servers, each with its own connections to one PostgreSQL
// database, serve the same users: tickets cross, once; revocations
// cross; a broker with both addresses fails over.
func TestSQLStateTwoServers(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addrA, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})

	// B is served by a pb server this test can stop (SIGKILL's stand-in).
	stB := openState(t, ctx, dsn)
	_, srvB := startAuthd(t, authdOpts{state: stB})
	pbB := pb.NewServer(&pb.Config{Portal: srvB.Portal(), Logger: quiet})
	addrB := serveOn(t, pbB)

	brokerB := startBroker(t, addrB, "a", secretA)
	alice := userLogin(t, ctx, addrA, "alice", alicePW)

	t.Run("minted at A, redeemed through B once", func(t *testing.T) {
		tk := ticket(t, ctx, alice, "a")
		if _, _, err := login(t, ctx, brokerB.addr, "alice", tk); err != nil {
			t.Fatalf("ticket from A at a broker of B: %v", err)
		}
		if _, _, err := login(t, ctx, brokerB.addr, "alice", tk); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("the same ticket again: %v, want refused", err)
		}
		if _, _, err := login(t, ctx, brokerB.addr, "bob", ticket(t, ctx, alice, "a")); !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("alice's ticket as bob: %v, want refused", err)
		}
	})

	t.Run("concurrent redemptions through A and B: one wins", func(t *testing.T) {
		svcA, svcB := serviceAt(t, ctx, addrA), serviceAt(t, ctx, addrB)
		for round := 0; round < 5; round++ {
			tk := ticket(t, ctx, alice, "a")
			var ok, refused atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					svc := svcA
					if i%2 == 1 {
						svc = svcB
					}
					var err error
					if i%4 < 2 {
						_, err = svc.CallRemote(ctx, "redeemTicket", "alice", []byte(tk))
					} else {
						ch := []byte("0123456789abcdef")
						inner := md5.Sum([]byte(tk))
						resp := md5.Sum(append(inner[:], ch...))
						_, err = svc.CallRemote(ctx, "redeem", "alice", ch, resp[:])
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
			if ok.Load() != 1 || refused.Load() != 15 {
				t.Fatalf("round %d: %d redemptions succeeded, %d refused; want 1 and 15", round, ok.Load(), refused.Load())
			}
		}
	})

	t.Run("logout at A ends the session at a broker of B", func(t *testing.T) {
		bob := userLogin(t, ctx, addrA, "bob", "bob-pw")
		conn, _, err := login(t, ctx, brokerB.addr, "bob", ticket(t, ctx, bob, "a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, conn, 2*time.Second, "logout at A")
	})

	t.Run("revocation at B reaches a broker of A", func(t *testing.T) {
		brokerA := startBroker(t, addrA, "b", secretB)
		carol := userLogin(t, ctx, addrB, "alice", alicePW)
		conn, _, err := login(t, ctx, brokerA.addr, "alice", ticket(t, ctx, carol, "b"))
		if err != nil {
			t.Fatal(err)
		}
		if n := srvB.RevokeUser("alice"); n < 1 {
			t.Errorf("RevokeUser at B ended %d sessions", n)
		}
		waitClosed(t, conn, 2*time.Second, "revocation at B")
	})

	t.Run("a broker with both addresses fails over", func(t *testing.T) {
		br := startBroker(t, addrB+","+addrA, "a", secretA)
		alice := userLogin(t, ctx, addrA, "alice", alicePW)
		if _, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a")); err != nil {
			t.Fatalf("before the failover: %v", err)
		}
		pbB.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
			if err == nil {
				break
			}
			if !errors.Is(err, cred.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("after B stopped: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !br.checker.Connected() {
			t.Error("the checker says it is not connected")
		}
	})
}

func serveOn(t *testing.T, srv *pb.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// While PostgreSQL is down, a redemption is "cannot check now", not a
// refusal, and the ticket survives it.
func TestSQLStateOutage(t *testing.T) {
	pg, err := pgtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn, err := pg.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})
	br := startBroker(t, addr, "a", secretA)
	alice := userLogin(t, ctx, addr, "alice", alicePW)
	tk := ticket(t, ctx, alice, "a")
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := login(t, ctx, br.addr, "alice", tk); !errors.Is(err, cred.ErrUnavailable) {
		t.Fatalf("a ticket login while PostgreSQL is down: %v, want unavailable", err)
	}
	if _, err := alice.Ticket(ctx, "a"); err == nil {
		t.Error("a ticket was issued while PostgreSQL is down")
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := login(t, ctx, br.addr, "alice", tk)
		if err == nil {
			break
		}
		if !errors.Is(err, cred.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("the ticket after PostgreSQL is back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A login whose authd process is gone still expires: another process's
// sweep ends it, revoking its broker sessions, and purges its tickets.
func TestSQLStateExpirySweptElsewhere(t *testing.T) {
	defer authd.SetSweepInterval(100 * time.Millisecond)()
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrA, srvA := startAuthd(t, authdOpts{state: openState(t, ctx, dsn), sessionTTL: 700 * time.Millisecond})
	addrB, srvB := startAuthd(t, authdOpts{state: openState(t, ctx, dsn), sessionTTL: 700 * time.Millisecond})
	br := startBroker(t, addrB, "a", secretA)
	alice := userLogin(t, ctx, addrA, "alice", alicePW)
	conn, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	ticket(t, ctx, alice, "a") // left unredeemed
	srvA.Close()               // A's own expiry timer is gone
	waitClosed(t, conn, 5*time.Second, "a login expired after its authd process went")
	deadline := time.Now().Add(5 * time.Second)
	for {
		sessions, tickets := srvB.Counts()
		if sessions == 0 && tickets == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after expiry: %d sessions, %d tickets left", sessions, tickets)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A revocation sent while the LISTEN connection of the authd process a
// broker is attached to is down reaches that broker once the process
// reconnects: the process replays the revocations it missed. Process
// B's connections to PostgreSQL go through a tcprelay; cutting it breaks
// B's listening connection and keeps it from reconnecting until the
// test lets it.
func TestSQLStateRevocationWhileListenerDown(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pgAddr := u.Host
	cut := tcprelay.Start(t, "127.0.0.1:0", pgAddr)
	u.Host = cut.Addr()
	dsnB := u.String()

	addrA, srvA := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})
	addrB, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsnB)})
	br := startBroker(t, addrB, "a", secretA)

	alice := userLogin(t, ctx, addrA, "alice", alicePW)
	connAlice, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	bob := userLogin(t, ctx, addrA, "bob", "bob-pw")
	connBob, _, err := login(t, ctx, br.addr, "bob", ticket(t, ctx, bob, "a"))
	if err != nil {
		t.Fatal(err)
	}

	cut.Cut() // B's listening connection breaks and cannot come back
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srvA.RevokeUser("bob"); n < 1 {
		t.Errorf("RevokeUser at A ended %d sessions", n)
	}
	for _, c := range []*pb.Broker{connAlice, connBob} {
		select {
		case <-c.Done():
			t.Fatal("a session at B's broker ended while B could not hear A: the test does not exercise the outage")
		default:
		}
	}

	tcprelay.Start(t, u.Host, pgAddr) // B may reconnect
	waitClosed(t, connAlice, 30*time.Second, "a logout at A while B's listener was down")
	waitClosed(t, connBob, 30*time.Second, "a revocation of the user at A while B's listener was down")
}

// pgConn is the test's own connection to the database at dsn.
func pgConn(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db
}

// A silent listening connection is checked on every heartbeat and
// survives it: the same backend answers many of them, and revocations
// still cross afterwards.
func TestSQLStateListenerHeartbeat(t *testing.T) {
	const beat = 20 * time.Millisecond
	t.Cleanup(authd.SetListenHeartbeat(beat)) // runs after the servers stop
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addrA, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})
	addrB, _ := startAuthd(t, authdOpts{state: openState(t, ctx, dsn)})
	db := pgConn(t, ctx, dsn)

	type backend struct {
		query string
		start time.Time
	}
	listeners := func() map[int32]backend {
		rows, err := db.Query(ctx, `SELECT pid, query, coalesce(query_start, 'epoch') FROM pg_stat_activity
			WHERE application_name = 'spread authd revocations' AND datname = current_database()`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]backend{}
		for rows.Next() {
			var pid int32
			var b backend
			if err := rows.Scan(&pid, &b.query, &b.start); err != nil {
				t.Fatal(err)
			}
			out[pid] = b
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	deadline := time.Now().Add(15 * time.Second)
	first := listeners()
	for len(first) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d listening connections, want 2", len(first))
		}
		time.Sleep(beat)
		first = listeners()
	}
	// Wait for five heartbeats on each, from the same backends.
	beats := map[int32]map[time.Time]bool{}
	for done := 0; done < 2; {
		if time.Now().After(deadline) {
			seen := []int{}
			for pid := range first {
				seen = append(seen, len(beats[pid]))
			}
			t.Fatalf("the listening connections did not check the channel: heartbeats seen %v, want 5 each", seen)
		}
		time.Sleep(beat)
		now := listeners()
		done = 0
		for pid := range first {
			b, ok := now[pid]
			if !ok || len(now) != 2 {
				t.Fatalf("a listening connection was replaced: %v, then %v", first, now)
			}
			if b.query == "SELECT now()" {
				if beats[pid] == nil {
					beats[pid] = map[time.Time]bool{}
				}
				beats[pid][b.start] = true
			}
			if len(beats[pid]) >= 5 {
				done++
			}
		}
	}

	br := startBroker(t, addrB, "a", secretA)
	alice := userLogin(t, ctx, addrA, "alice", alicePW)
	conn, _, err := login(t, ctx, br.addr, "alice", ticket(t, ctx, alice, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn, 5*time.Second, "logout at A after many heartbeats")
}

// The sweep purges the recorded revocations older than 10 minutes and
// keeps the younger ones. A record holds the notification's note: no
// ticket, no password.
func TestSQLStateRevocationsPurged(t *testing.T) {
	defer authd.SetSweepInterval(50 * time.Millisecond)()
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := openState(t, ctx, dsn) // creates the tables
	db := pgConn(t, ctx, dsn)
	if _, err := db.Exec(ctx, `INSERT INTO authd_revocations (at, note) VALUES
		(now() - interval '11 minutes', '{"o":"elsewhere","u":"old"}'),
		(now() - interval '9 minutes', '{"o":"elsewhere","u":"younger"}')`); err != nil {
		t.Fatal(err)
	}
	addr, srv := startAuthd(t, authdOpts{state: st})
	br := startBroker(t, addr, "a", secretA)
	alice := userLogin(t, ctx, addr, "alice", alicePW)
	tk := ticket(t, ctx, alice, "a")
	conn, _, err := login(t, ctx, br.addr, "alice", tk)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn, 5*time.Second, "logout")
	srv.RevokeUser("bob")

	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM authd_revocations WHERE note LIKE '%"old"%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a revocation recorded 11 minutes ago was not purged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rows, err := db.Query(ctx, `SELECT note FROM authd_revocations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for rows.Next() {
		var note string
		if err := rows.Scan(&note); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(note, tk) || strings.Contains(note, alicePW) {
			t.Error("a recorded revocation holds a ticket or a password")
		}
		var n struct {
			User    string `json:"u"`
			Handle  string `json:"h"`
			Service string `json:"s"`
		}
		if err := json.Unmarshal([]byte(note), &n); err != nil {
			t.Fatalf("recorded note: %v", err)
		}
		if n.User == "alice" && (n.Handle == "" || n.Service != "a") {
			t.Errorf("alice's logout recorded without its handle or service")
		}
		users = append(users, n.User)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"younger", "alice", "bob"}; !slices.Equal(users, want) {
		t.Errorf("recorded revocations of %v, want %v", users, want)
	}
}
