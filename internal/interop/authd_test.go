package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/internal/tcprelay"
)

// Issue 13: the central authentication server, with stock Twisted 22.4
// clients and brokers, and spread authd and spread chat serve as
// separate processes.

// Secrets of the authd tests; never printed.
var (
	authdChatSecret = "chat-service-" + "secret-1"
	authdOpSecret   = "operator-" + "secret-2"
	authdPySecret   = "python-broker-" + "secret-3"
	authdRgSecret   = "regional-" + "secret-4"
	authdAlicePW    = "alice-" + "pw-13"
)

// driver is authd_client.py: a Twisted client run command by command.
type driver struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	mu    sync.Mutex
	stder strings.Builder
}

func startDriver(t *testing.T) *driver {
	t.Helper()
	py, err := pypeer.Python()
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, cmd: exec.Command(py, "-u", pypeer.Script("authd_client.py"))}
	d.cmd.Stderr = &lockedWriter{mu: &d.mu, w: &d.stder}
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.out = bufio.NewScanner(out)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.in.Close()
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			d.mu.Lock()
			t.Logf("authd_client.py stderr:\n%s", d.stder.String())
			d.mu.Unlock()
		}
	})
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// reply is one answer of the driver.
type reply struct {
	OK     bool            `json:"ok"`
	Type   string          `json:"type"`
	Value  string          `json:"value"`
	After  float64         `json:"after"`
	Result string          `json:"result"`
	Replay json.RawMessage `json:"replay"`
}

// do runs one command. The command may hold a password, so it is not
// shown: what describes it.
func (d *driver) do(what string, words ...string) reply {
	d.t.Helper()
	if _, err := fmt.Fprintln(d.in, strings.Join(words, " ")); err != nil {
		d.t.Fatalf("%s: writing to the driver: %v", what, err)
	}
	start := time.Now()
	defer func() {
		if el := time.Since(start); el > 500*time.Millisecond {
			d.t.Logf("%s took %v", what, el.Round(time.Millisecond))
		}
	}()
	lines := make(chan string, 1)
	go func() {
		if d.out.Scan() {
			lines <- d.out.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			d.t.Fatalf("%s: the driver exited", what)
		}
		var r reply
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			d.t.Fatalf("%s: %q: %v", what, line, err)
		}
		return r
	case <-time.After(30 * time.Second):
		d.t.Fatalf("%s: no answer from the driver", what)
	}
	return reply{}
}

// must runs a command that must succeed.
func (d *driver) must(what string, words ...string) reply {
	d.t.Helper()
	r := d.do(what, words...)
	if !r.OK {
		d.t.Fatalf("%s: %s: %s", what, r.Type, r.Value)
	}
	return r
}

// refused runs a login that must be refused with UnauthorizedLogin,
// and whose message contains want.
func (d *driver) refused(what, want string, words ...string) reply {
	d.t.Helper()
	r := d.do(what, words...)
	if r.OK || !strings.Contains(r.Type, "UnauthorizedLogin") || !strings.Contains(r.Value, want) {
		d.t.Errorf("%s: %+v, want UnauthorizedLogin %q", what, r, want)
	}
	return r
}

// authdSetup writes the services file (chat, chat-b, py, the proxy
// regional, the admin op) and the users file.
func authdSetup(t *testing.T) (dir, services, users string) {
	t.Helper()
	dir = t.TempDir()
	services = filepath.Join(dir, "services")
	for _, s := range []struct{ name, secret, opt string }{
		{"chat", authdChatSecret, ""}, {"chat-b", authdChatSecret, ""}, {"py", authdPySecret, ""},
		{"regional", authdRgSecret, "--proxy"}, {"op", authdOpSecret, "--admin"},
	} {
		args := []string{"authd", "services", "add"}
		if s.opt != "" {
			args = append(args, s.opt)
		}
		args = append(args, services, s.name)
		if _, stderr, code := runSpread(t, "", []string{"SPREAD_PASSWORD=" + s.secret}, args...); code != 0 {
			t.Fatalf("services add %s: %s", s.name, stderr)
		}
	}
	users = filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:"+authdAlicePW+"\nbob:bob-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, services, users
}

// startChatBroker runs spread chat serve delegating to authd as service.
func startChatBroker(t *testing.T, authdAddr, service string) *spreadServer {
	t.Helper()
	s := startSpreadServer(t, []string{"SPREAD_SERVICE_SECRET=" + authdChatSecret},
		"chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--authd", authdAddr, "--service", service,
		"--login-failures", "50") // the tests' refusals come from one address
	waitAuthdConnected(t, s)
	return s
}

// waitAuthdConnected waits until broker s has logged in at authd: on a
// loaded machine it may serve before.
func waitAuthdConnected(t *testing.T, s *spreadServer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.Log(), `msg="authd: connected to the authentication server"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not connect to authd:\n%s", s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuthdTwistedClients(t *testing.T) {
	_, services, users := authdSetup(t)
	ad := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services,
		"--auth", "file:"+users, "--ticket-ttl", "2s")
	a := startChatBroker(t, ad.Addr, "chat")
	b := startChatBroker(t, ad.Addr, "chat-b")
	d := startDriver(t)

	d.must("authd login", "authd", ad.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t1", "chat")
	d.must("ticket login at a", "login", "a1", a.Addr, "alice", "t1")
	d.must("join", "join", "a1", "#authd")
	d.must("send", "send", "a1", "hello")
	d.refused("the same ticket again", "", "login", "a2", a.Addr, "alice", "t1")
	d.must("ticket", "ticket", "t2", "chat")
	d.refused("a ticket for a at b", "", "login", "b1", b.Addr, "alice", "t2")
	d.refused("a valid ticket with a wrong user name", "", "login", "a3", a.Addr, "bob", "t2")
	d.must("the ticket after the refusals", "login", "a4", a.Addr, "alice", "t2")
	d.must("ticket", "ticket", "t3", "chat")
	d.must("sleep past the ticket's 2 s", "sleep", "2.3")
	d.refused("an expired ticket", "", "login", "a5", a.Addr, "alice", "t3")

	// Hostile: a replayed challenge response, huge and malformed tickets.
	d.must("ticket", "ticket", "t4", "chat")
	r := d.must("replay", "replay", a.Addr, "alice", "t4")
	var replay reply
	json.Unmarshal(r.Replay, &replay)
	if replay.OK || !strings.Contains(replay.Type, "UnauthorizedLogin") {
		t.Errorf("a replayed challenge response: %+v", replay)
	}
	d.refused("a 100 kB ticket", "", "loginhuge", "h1", a.Addr, "alice", "100000")
	d.refused("a binary ticket", "", "loginraw", "h2", a.Addr, "alice", "00ff0a0d")
	d.must("the demo user is tried first", "loginpw", "local", a.Addr, "alice", "1234")

	// Hostile services and users, from Twisted: a service redeeming
	// another's ticket, a service minting tickets, a user calling
	// service methods.
	d.must("ticket for chat-b", "ticket", "tb", "chat-b")
	d.must("log in as the service chat", "service", ad.Addr, "chat", authdChatSecret)
	if r := d.do("chat redeems chat-b's ticket", "redeemslot", "alice", "tb"); r.OK || !strings.Contains(r.Type, "UnauthorizedLogin") {
		t.Errorf("a service redeemed another's ticket: %+v", r)
	}
	if r := d.do("chat redeems chat-b's ticket naming chat-b", "redeemslot", "alice", "tb", "chat-b"); r.OK || !strings.Contains(r.Type, "PermissionError") {
		t.Errorf("a service acted for another: %+v", r)
	}
	if r := d.do("a service mints a ticket", "svcticket", "chat"); r.OK {
		t.Errorf("a service minted a ticket: %+v", r)
	}
	for _, m := range []string{"redeem", "redeemTicket", "checkPassword", "revokeUser"} {
		if r := d.do("a user calls "+m, "authdcall", m, "alice", "x"); r.OK {
			t.Errorf("a user called the service method %s: %+v", m, r)
		}
	}
	d.must("chat-b's ticket still works at chat-b", "login", "bt", b.Addr, "alice", "tb")

	// logout() at authd closes the broker sessions within 2 s.
	d.must("ticket", "ticket", "t5", "chat")
	d.must("login", "login", "x1", a.Addr, "alice", "t5")
	d.must("ticket", "ticket", "t6", "chat-b")
	d.must("login at b", "login", "x2", b.Addr, "alice", "t6")
	d.must("logout", "logout")
	d.must("logout closes the session at a", "waitclosed", "x1", "2")
	d.must("logout closes the session at b", "waitclosed", "x2", "2")
	if r := d.do("the local session stays", "waitclosed", "local", "0.2"); r.OK {
		t.Error("logout at authd closed the demo user's session")
	}
	if r := d.do("a ticket after logout", "ticket", "t7", "chat"); r.OK {
		t.Error("a ticket after logout")
	}

	// Operator revocation closes them too.
	d.must("authd login", "authd", ad.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t8", "chat")
	d.must("login", "login", "y1", a.Addr, "alice", "t8")
	out, stderr, code := runSpread(t, "", []string{"SPREAD_SERVICE_SECRET=" + authdOpSecret},
		"authd", "revoke", "--authd", ad.Addr, "--service", "op", "alice")
	if code != 0 || !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("spread authd revoke: %d\n%s%s", code, out, stderr)
	}
	d.must("operator revocation closes the session", "waitclosed", "y1", "2")

	// Ticket guessing at a broker with the default throttle: locked out
	// after five wrong tickets, with Twisted told why.
	g := startSpreadServer(t, []string{"SPREAD_SERVICE_SECRET=" + authdChatSecret},
		"chat", "serve", "--listen", "127.0.0.1:0", "--authd", ad.Addr, "--service", "chat")
	waitAuthdConnected(t, g)
	var last reply
	for i := range 6 {
		last = d.do("a guessed ticket", "loginraw", "g", g.Addr, "bob", fmt.Sprintf("%064x", i))
		if last.OK {
			t.Fatal("a guessed ticket logged in")
		}
	}
	if !strings.Contains(last.Value, "too many failed login attempts") {
		t.Errorf("the sixth guess: %+v, want throttled", last)
	}

	for _, s := range []*spreadServer{ad, a, b} {
		if strings.Contains(s.Log(), authdAlicePW) || strings.Contains(s.Log(), authdChatSecret) {
			t.Error("a password or secret was logged")
		}
	}
}

// authd killed with SIGKILL, then restarted: new ticket logins fail at
// once with the clear error, the open chat session goes on, and tickets
// work again at the same broker process.
func TestAuthdKilled(t *testing.T) {
	_, services, users := authdSetup(t)
	ad := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:"+users)
	a := startChatBroker(t, ad.Addr, "chat")
	d := startDriver(t)
	d.must("authd login", "authd", ad.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t1", "chat")
	d.must("ticket", "ticket", "spare", "chat")
	d.must("login", "login", "a1", a.Addr, "alice", "t1")
	d.must("join", "join", "a1", "#kill")
	d.must("send", "send", "a1", "before")

	ad.cmd.Process.Kill()
	<-ad.done
	ad.cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(a.Log(), "lost the connection to the authentication server") {
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not notice authd's death:\n%s", a.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	d.refused("a ticket login with authd dead", "the login cannot be checked right now: the authentication server is unavailable", "login", "a2", a.Addr, "alice", "spare")
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("the refusal took %v", el)
	}
	d.must("the open session keeps sending", "send", "a1", "during")

	ad2 := startSpreadServer(t, nil, "authd", "--listen", ad.Addr, "--services", services, "--auth", "file:"+users)
	deadline = time.Now().Add(15 * time.Second)
	for strings.Count(a.Log(), `msg="authd: connected to the authentication server"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not reconnect:\n%s", a.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.must("authd login again", "authd", ad2.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t3", "chat")
	if r := d.do("a ticket login after the restart", "login", "a3", a.Addr, "alice", "t3"); !r.OK {
		t.Fatalf("a ticket login after the restart: %s: %s\nbroker:\n%s\nauthd:\n%s", r.Type, r.Value, a.Log(), ad2.Log())
	}
	d.must("the old session still sends", "send", "a1", "after")
}

// The Python Twisted broker of examples/authd delegates to Go authd with
// the documented protocol.
func TestAuthdPythonBroker(t *testing.T) {
	_, services, users := authdSetup(t)
	ad := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:"+users)
	t.Setenv("SPREAD_SERVICE_SECRET", authdPySecret)
	py := pypeer.StartServer(t, filepath.Join(moduleRoot(), "examples", "authd", "twisted_checker.py"),
		"--authd", ad.Addr, "--service", "py", "--port", "0")
	if !py.WaitFor(10*time.Second, func(out string) bool { return strings.Contains(out, "CONNECTED") }) {
		t.Fatalf("the Python broker did not log in at authd:\n%s", py.Stderr())
	}
	d := startDriver(t)
	d.must("authd login", "authd", ad.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t1", "py")
	d.must("ticket login at the Python broker", "login", "p1", py.Addr, "alice", "t1")
	if r := d.must("whoami", "call", "p1", "whoami"); r.Result != "alice" {
		t.Errorf("whoami = %q", r.Result)
	}
	d.refused("the same ticket again", "", "login", "p2", py.Addr, "alice", "t1")
	d.must("ticket", "ticket", "t2", "chat")
	d.refused("a ticket for another service", "", "login", "p3", py.Addr, "alice", "t2")
	d.must("logout", "logout")
	d.must("logout closes the Python broker's session", "waitclosed", "p1", "2")
}

// The Python broker checks its sessions with ended() when it logs in at
// authd again: a logout made while it was away, which authd could not
// keep for it (another instance of the service was connected and took
// the revocation), still closes the user's session there; another
// user's session stays.
func TestAuthdPythonBrokerReconciles(t *testing.T) {
	_, services, users := authdSetup(t)
	ad := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:"+users)
	relay := tcprelay.Start(t, "127.0.0.1:0", ad.Addr)
	t.Setenv("SPREAD_SERVICE_SECRET", authdPySecret)
	py := pypeer.StartServer(t, filepath.Join(moduleRoot(), "examples", "authd", "twisted_checker.py"),
		"--authd", relay.Addr(), "--service", "py", "--port", "0")
	connected := func(n int) bool {
		return py.WaitFor(20*time.Second, func(out string) bool { return strings.Count(out, "CONNECTED\n") >= n })
	}
	if !connected(1) {
		t.Fatalf("the Python broker did not log in at authd:\n%s", py.Stderr())
	}
	d := startDriver(t)
	d.must("bob's authd login", "authd", ad.Addr, "bob", "bob-pw")
	d.must("bob's ticket", "ticket", "b", "py")
	d.must("bob's ticket login at the Python broker", "login", "b1", py.Addr, "bob", "b")
	d.must("alice's authd login", "authd", ad.Addr, "alice", authdAlicePW)
	d.must("alice's ticket", "ticket", "a", "py")
	d.must("alice's ticket login at the Python broker", "login", "p1", py.Addr, "alice", "a")

	relay.Cut()
	d.must("another instance of the service logs in at authd", "service", ad.Addr, "py", authdPySecret)
	d.must("alice logs out at authd", "logout")
	relay.Restart()
	if !connected(2) {
		t.Fatalf("the Python broker did not log in at authd again:\n%s", py.Stderr())
	}
	if r := d.do("the check closes alice's session", "waitclosed", "p1", "10"); !r.OK {
		t.Fatalf("alice's session at the Python broker is still open after it reconnected: %s: %s\nPython broker:\n%s\nauthd:\n%s",
			r.Type, r.Value, py.Stderr(), ad.Log())
	}
	if r := d.must("bob's session stays", "call", "b1", "whoami"); r.Result != "bob" {
		t.Errorf("whoami = %q", r.Result)
	}
	if !strings.Contains(py.Stderr(), "handles=2 ended=1 closed=1 kept_unknown=0") {
		t.Errorf("the Python broker did not log its check:\n%s", py.Stderr())
	}
}

// broker -> regional authd -> central authd, all separate processes.
func TestAuthdChain(t *testing.T) {
	_, services, users := authdSetup(t)
	central := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "file:"+users)
	regional := startSpreadServer(t, []string{"SPREAD_SERVICE_SECRET=" + authdRgSecret},
		"authd", "--listen", "127.0.0.1:0", "--services", services, "--upstream", central.Addr, "--service", "regional")
	a := startChatBroker(t, regional.Addr, "chat")
	d := startDriver(t)
	d.must("login at the central authd", "authd", central.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t1", "chat")
	d.must("a central ticket at the regional's broker", "login", "a1", a.Addr, "alice", "t1")
	d.refused("the same ticket again", "", "login", "a2", a.Addr, "alice", "t1")
	d.must("logout", "logout")
	d.must("central logout closes the session through the chain", "waitclosed", "a1", "2")
	d.must("login at the regional authd, checked upstream", "authd", regional.Addr, "alice", authdAlicePW)
	d.must("ticket", "ticket", "t2", "chat")
	d.must("a regional ticket", "login", "a3", a.Addr, "alice", "t2")
	if !strings.Contains(central.Log(), `msg="authd: ticket redeemed" user=alice service=chat via=regional`) {
		t.Errorf("the central authd did not log which service the ticket was for:\n%s", central.Log())
	}
}

func TestAuthdDjangoSQLite(t *testing.T) {
	authdDjango(t, "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite3"))
}

func TestAuthdDjangoPostgres(t *testing.T) {
	authdDjango(t, pgtest.Start(t))
}

// authdDjango: users in a Django database behind authd log in there
// with the password login (a Twisted client calling loginPassword, and
// spread chat join --authd), and at a broker with tickets.
func authdDjango(t *testing.T, dsn string) {
	dj := djangotest.New(t, dsn, nil)
	dj.Migrate(t)
	dj.CreateUsers(t,
		djangotest.User{Username: "dj_pbkdf2", Password: authdAlicePW, Algorithm: "pbkdf2_sha256", Params: map[string]any{"iterations": 1000}},
		djangotest.User{Username: "dj_argon2", Password: "argon-pw", Algorithm: "argon2", Params: map[string]any{"time_cost": 1, "memory_cost": 1024, "parallelism": 1}})
	_, services, _ := authdSetup(t)
	ad := startSpreadServer(t, nil, "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "django:"+dsn)
	a := startChatBroker(t, ad.Addr, "chat")
	d := startDriver(t)
	d.refused("Twisted's challenge login cannot check Django hashes", "password login", "authd", ad.Addr, "dj_pbkdf2", authdAlicePW)
	d.must("the password login at authd", "authd", ad.Addr, "dj_pbkdf2", authdAlicePW, "password")
	d.must("ticket", "ticket", "t1", "chat")
	d.must("a stock ticket login at the broker", "login", "a1", a.Addr, "dj_pbkdf2", "t1")
	d.must("join", "join", "a1", "#dj")
	out, stderr, code := runSpread(t, "from argon2\n", []string{"SPREAD_PASSWORD=argon-pw"}, "chat", "join",
		"--server", a.Addr, "--user", "dj_argon2", "--authd", ad.Addr, "--service", "chat", "--group", "#dj")
	if code != 0 || !strings.Contains(out, "<dj_argon2> says: from argon2") {
		t.Errorf("spread chat join --authd with a Django user: %d\n%s%s", code, out, stderr)
	}
}
