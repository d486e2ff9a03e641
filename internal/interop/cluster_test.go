package interop

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/natstest"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/pb"
)

// The users of the cluster tests live in one PostgreSQL database that
// every broker reads (Django's auth_user, cheap hashes for speed).
var clusterUsers = map[string]string{"alice": "pw-alice", "bob": "pw-bob", "carol": "pw-carol", "dave": "pw-dave"}

// goMember is a chat member in Go, for the scenarios that need to speak
// at chosen moments.
type goMember struct {
	name  string
	group *pb.RemoteReference
	mu    sync.Mutex
	lines []string
	ch    chan string
}

type clusterMind struct {
	pb.Referenceable
	m *goMember
}

func (d *clusterMind) RemotePrint(s string) {
	d.m.mu.Lock()
	d.m.lines = append(d.m.lines, s)
	d.m.mu.Unlock()
	select {
	case d.m.ch <- s:
	default:
	}
}

func joinGo(t *testing.T, ctx context.Context, addr, user, group string) *goMember {
	t.Helper()
	b, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m := &goMember{name: user, ch: make(chan string, 1000)}
	// Django hashes need Spread's password login, which Login picks on
	// loopback when the server asks for it.
	av, err := b.Login(ctx, &cred.UsernamePassword{Username: user, Password: []byte(clusterUsers[user])}, &clusterMind{m: m})
	if err != nil {
		t.Fatalf("login %s at %s: %v", user, addr, err)
	}
	g, err := av.CallRemote(ctx, "joinGroup", group)
	if err != nil {
		t.Fatal(err)
	}
	m.group = g.(*pb.RemoteReference)
	return m
}

func (m *goMember) send(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	if _, err := m.group.CallRemote(ctx, "send", text); err != nil {
		t.Fatalf("%s send %q: %v", m.name, text, err)
	}
}

func (m *goMember) members(t *testing.T, ctx context.Context) []string {
	t.Helper()
	v, err := m.group.CallRemote(ctx, "members")
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

// waitLine waits for a line that is want.
func (m *goMember) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l := <-m.ch:
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s never heard %q; heard %q", m.name, want, m.heard())
		}
	}
}

func (m *goMember) heard() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lines)
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three spread chat brokers on one NATS server, with their users in one
// PostgreSQL database: Twisted clients on different brokers hear each
// other; a pipelined sender's 1,000 lines arrive in order elsewhere; the
// first creator's mattress rule holds on every broker; a NATS outage
// leaves local chat working and duplicates nothing; a SIGKILLed broker
// leaves the others' member lists.
func TestClusterOfThreeBrokers(t *testing.T) {
	dsn := pgtest.Start(t)
	dj := djangotest.New(t, dsn, nil)
	dj.Migrate(t)
	var users []djangotest.User
	for u, p := range clusterUsers {
		users = append(users, djangotest.User{Username: u, Password: p, Algorithm: "pbkdf2_sha256", Params: map[string]any{"iterations": 1000}})
	}
	dj.CreateUsers(t, users...)
	nats := natstest.Start(t)
	var brokers []*spreadServer
	for i := 1; i <= 3; i++ {
		brokers = append(brokers, startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--db", dsn,
			"--cluster", nats.URL(), "--node", fmt.Sprintf("b%d", i), "--login-failures", "1000"))
	}
	b1, b2, b3 := brokers[0], brokers[1], brokers[2]
	for _, b := range brokers {
		waitUntil(t, "brokers meet", 10*time.Second, func() bool { return strings.Count(b.Log(), "cluster: broker joined") >= 2 })
	}
	py := func(addr, user, group string, extra ...string) (string, string, error) {
		return member(t, addr, user, clusterUsers[user], group, append([]string{"--password-login"}, extra...)...)
	}
	type res struct {
		out, stderr string
		err         error
	}
	background := func(addr, user, group string, extra ...string) chan res {
		c := make(chan res, 1)
		go func() {
			o, e, err := py(addr, user, group, extra...)
			c <- res{o, e, err}
		}()
		return c
	}

	t.Run("Twisted clients on three brokers", func(t *testing.T) {
		ready := filepath.Join(t.TempDir(), "ready")
		bobc := background(b2.Addr, "bob", "#both", "--ready-file", ready, "--expect", "2")
		waitFile(t, ready)
		out, stderr, err := py(b1.Addr, "alice", "#both", "--send", "hi bob", "--expect", "1")
		if err != nil || strings.TrimSpace(out) != "<alice> says: hi bob" {
			t.Errorf("alice: %v %q %s", err, out, stderr)
		}
		if _, stderr, err := py(b3.Addr, "carol", "#both", "--send", "hi all", "--expect", "1"); err != nil {
			t.Errorf("carol: %v %s", err, stderr)
		}
		r := <-bobc
		want := "<alice> says: hi bob\n<carol> says: hi all"
		if r.err != nil || strings.Join(lines(r.out), "\n") != want {
			t.Errorf("bob on b2 heard (err %v):\n%s\nwant:\n%s\nstderr: %s", r.err, r.out, want, r.stderr)
		}
	})

	t.Run("1000 pipelined in order on the other brokers", func(t *testing.T) {
		dir := t.TempDir()
		bobReady, daveReady := filepath.Join(dir, "bob"), filepath.Join(dir, "dave")
		bobc := background(b2.Addr, "bob", "#pipe", "--ready-file", bobReady, "--expect", "1000", "--timeout", "60")
		davec := background(b3.Addr, "dave", "#pipe", "--ready-file", daveReady, "--expect", "1000", "--timeout", "60")
		waitFile(t, bobReady)
		waitFile(t, daveReady)
		out, stderr, err := py(b1.Addr, "carol", "#pipe", "--sends", "1000", "--expect", "1000", "--timeout", "60")
		if err != nil || len(lines(out)) != 1000 {
			t.Fatalf("carol: %v, %d lines\n%s", err, len(lines(out)), stderr)
		}
		for who, c := range map[string]chan res{"bob on b2": bobc, "dave on b3": davec} {
			r := <-c
			got := lines(r.out)
			if r.err != nil || len(got) != 1000 {
				t.Fatalf("%s: %v, %d lines\n%s", who, r.err, len(got), r.stderr)
			}
			for i, l := range got {
				if want := fmt.Sprintf("<carol> says: message %d", i+1); l != want {
					t.Fatalf("%s: line %d = %q, want %q", who, i, l, want)
				}
			}
		}
	})

	t.Run("the first creator's mattress rule on every broker", func(t *testing.T) {
		out, stderr, err := py(b1.Addr, "alice", "#quiet", "--no-mattress", "--send", "quiet please", "--expect", "1")
		if err != nil || strings.TrimSpace(out) != "<alice> says: quiet please" {
			t.Fatalf("alice: %v %q %s", err, out, stderr)
		}
		// bob joins on b2 asking for mattresses: the group is alice's.
		out, stderr, err = py(b2.Addr, "bob", "#quiet", "--send", "my mattress", "--send", "fine words", "--expect", "1")
		if err == nil || !strings.Contains(stderr, "error: builtins.ValueError: Don't say that word") {
			t.Errorf("bob's mattress: err=%v stderr=%s", err, stderr)
		}
		if strings.TrimSpace(out) != "<bob> says: fine words" {
			t.Errorf("bob heard %q", out)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("NATS stopped and restarted", func(t *testing.T) {
		alice, bob := joinGo(t, ctx, b1.Addr, "alice", "#out"), joinGo(t, ctx, b2.Addr, "bob", "#out")
		waitUntil(t, "alice sees bob", 10*time.Second, func() bool {
			return slices.Equal(alice.members(t, ctx), []string{"alice", "bob"})
		})
		alice.send(t, ctx, "before")
		bob.waitLine(t, "<alice> says: before")
		nats.Stop()
		waitUntil(t, "b1 logs the outage", 10*time.Second, func() bool { return strings.Contains(b1.Log(), "cluster: NATS unreachable") })
		// Local chat goes on at once.
		for i := 1; i <= 5; i++ {
			alice.send(t, ctx, fmt.Sprintf("during %d", i))
			alice.waitLine(t, fmt.Sprintf("<alice> says: during %d", i))
		}
		if err := nats.Start(); err != nil {
			t.Fatal(err)
		}
		for _, b := range []*spreadServer{b1, b2} {
			waitUntil(t, "reconnected", 15*time.Second, func() bool { return strings.Contains(b.Log(), "cluster: NATS reachable again") })
		}
		for i := 1; i <= 20; i++ {
			alice.send(t, ctx, fmt.Sprintf("after %d", i))
		}
		bob.send(t, ctx, "bob is back")
		bob.waitLine(t, "<alice> says: after 20")
		alice.waitLine(t, "<bob> says: bob is back")
		time.Sleep(300 * time.Millisecond)
		for _, m := range []*goMember{alice, bob} {
			seen := map[string]bool{}
			for _, l := range m.heard() {
				if seen[l] {
					t.Errorf("%s heard %q twice: %q", m.name, l, m.heard())
				}
				seen[l] = true
			}
		}
		// bob hears alice's lines in her order: those held during the
		// outage (delivered once NATS is back) come before the later ones.
		var fromAlice []string
		for _, l := range bob.heard() {
			if strings.HasPrefix(l, "<alice>") {
				fromAlice = append(fromAlice, l)
			}
		}
		want := []string{"<alice> says: before"}
		for i := 1; i <= 5; i++ {
			want = append(want, fmt.Sprintf("<alice> says: during %d", i))
		}
		for i := 1; i <= 20; i++ {
			want = append(want, fmt.Sprintf("<alice> says: after %d", i))
		}
		if !slices.Equal(fromAlice, want) {
			t.Errorf("bob heard from alice:\n%q\nwant:\n%q", fromAlice, want)
		}
	})

	t.Run("a SIGKILLed broker leaves the member lists", func(t *testing.T) {
		alice, bob, carol := joinGo(t, ctx, b1.Addr, "alice", "#kill"), joinGo(t, ctx, b2.Addr, "bob", "#kill"), joinGo(t, ctx, b3.Addr, "carol", "#kill")
		all := []string{"alice", "bob", "carol"}
		waitUntil(t, "everyone sees everyone", 10*time.Second, func() bool {
			return slices.Equal(alice.members(t, ctx), all) && slices.Equal(bob.members(t, ctx), all)
		})
		carol.send(t, ctx, "going down")
		alice.waitLine(t, "<carol> says: going down")
		b3.cmd.Process.Kill()
		killed := time.Now()
		<-b3.done
		alice.send(t, ctx, "still here")
		bob.waitLine(t, "<alice> says: still here")
		two := []string{"alice", "bob"}
		waitUntil(t, "member lists converge", 10*time.Second, func() bool {
			return slices.Equal(alice.members(t, ctx), two) && slices.Equal(bob.members(t, ctx), two)
		})
		t.Logf("member lists converged %v after the kill", time.Since(killed).Round(100*time.Millisecond))
		bob.send(t, ctx, "and me")
		alice.waitLine(t, "<bob> says: and me")
		if !strings.Contains(b1.Log(), `cluster: broker silent: taken for gone, its members leave the groups" broker=b3`) {
			t.Errorf("b1 did not log b3's departure:\n%s", b1.Log())
		}
	})
	for _, b := range []*spreadServer{b1, b2} {
		if !b.Stop(t) {
			t.Errorf("a broker did not stop cleanly:\n%s", b.Log())
		}
	}
}
