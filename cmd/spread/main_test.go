package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gospread/spread/pb"
)

// syncBuffer is a bytes.Buffer that a command and the test may use at
// the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// spread runs the command line to completion with stdin.
func spread(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// expect checks the exit status and that stdout and stderr contain the
// given texts.
func (r result) expect(t *testing.T, what string, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
		t.Errorf("%s: exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s",
			what, r.code, code, stdout, r.stdout, stderr, r.stderr)
	}
}

// server is a long-running command started by the test.
type server struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

var servingRE = regexp.MustCompile(`serving" addr=(\S+)`)

// startServe runs `spread args...` until the test cancels its context,
// and waits for its "serving" line.
func startServe(t *testing.T, ctx context.Context, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	s := &server{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, args, strings.NewReader(""), io.Discard, s.stderr) }()
	t.Cleanup(func() { cancel(); s.wait(t) })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("spread %v exited %d before serving:\n%s", args, code, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("spread %v did not serve:\n%s", args, s.stderr)
	return nil
}

// wait returns the exit status.
func (s *server) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not stop:\n%s", s.stderr)
		return -1
	}
}

func TestDispatch(t *testing.T) {
	spread(t, "").expect(t, "no command", 2, "", "usage: spread COMMAND")
	r := spread(t, "", "--help")
	r.expect(t, "--help", 0, "", "usage: spread COMMAND")
	for _, c := range []string{"call", "chat", "users"} {
		if !strings.Contains(r.stderr, "  "+c+" ") {
			t.Errorf("--help does not list %s:\n%s", c, r.stderr)
		}
	}
	spread(t, "", "help").expect(t, "help", 0, "", "commands:")
	spread(t, "", "nope").expect(t, "unknown", 2, "", `spread: unknown command "nope"`)

	spread(t, "", "chat").expect(t, "chat", 2, "", "usage: spread chat COMMAND")
	r = spread(t, "", "chat", "-h")
	r.expect(t, "chat -h", 0, "", "serve")
	if !strings.Contains(r.stderr, "join") {
		t.Errorf("chat -h does not list join:\n%s", r.stderr)
	}
	spread(t, "", "chat", "talk").expect(t, "chat talk", 2, "", `spread chat: unknown command "talk"`)

	spread(t, "", "users").expect(t, "users", 2, "", "usage: spread users COMMAND")
	r = spread(t, "", "users", "--help")
	for _, v := range []string{"add", "passwd", "del", "list", "check"} {
		if !strings.Contains(r.stderr, "  "+v+" ") {
			t.Errorf("users --help does not list %s:\n%s", v, r.stderr)
		}
	}
	spread(t, "", "users", "rename").expect(t, "users rename", 2, "", `spread users: unknown command "rename"`)

	// Every leaf explains itself on --help and succeeds; a bad flag is bad usage.
	for _, leaf := range [][]string{
		{"call"}, {"chat", "serve"}, {"chat", "join"},
		{"users", "add"}, {"users", "passwd"}, {"users", "del"}, {"users", "list"}, {"users", "check"},
	} {
		name := strings.Join(leaf, " ")
		spread(t, "", append(leaf, "--help")...).expect(t, name+" --help", 0, "", "usage: spread "+name)
		spread(t, "", append(leaf, "--bogus")...).expect(t, name+" --bogus", 2, "", "flag provided but not defined: -bogus")
	}
}

func TestChatServeBadInput(t *testing.T) {
	dir := t.TempDir()
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0").
		expect(t, "no users", 2, "", "no users: give --demo, --db DSN or --anonymous")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--tls-cert", "c.pem").
		expect(t, "cert without key", 2, "", "--tls-cert and --tls-key go together")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", filepath.Join(dir, "none.key")).
		expect(t, "missing cert", 1, "", "none.pem")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--login-failures", "0").
		expect(t, "login-failures 0", 2, "", "--login-failures must be at least 1")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--login-failures", "many").
		expect(t, "login-failures many", 2, "", "invalid value")
	spread(t, "", "chat", "serve", "--listen", "no-port", "--demo").
		expect(t, "bad address", 1, "", "listen")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--db", "mysql://x").
		expect(t, "bad DSN", 1, "", "DSN must start with")
	spread(t, "", "chat", "serve", "--demo", "extra").
		expect(t, "extra argument", 2, "", `unexpected argument "extra"`)
}

// chat serve runs until its context ends, then every user logs out and
// it exits 0; chat join, call and their bad input against it.
func TestChatServeJoinCall(t *testing.T) {
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--anonymous")
	if !strings.Contains(srv.stderr.String(), "demo users loaded") {
		t.Errorf("--demo not logged:\n%s", srv.stderr)
	}

	t.Setenv("SPREAD_PASSWORD", "secret")
	r := spread(t, "one\nsay mattress\ntwo\n", "chat", "join", "--server", srv.addr, "--user", "bob", "--group", "#t", "--no-mattress")
	r.expect(t, "join", 0, "<bob> says: one\n<bob> says: two\n", "error: builtins.ValueError: Don't say that word")
	if strings.Contains(r.stdout, "mattress") {
		t.Errorf("the mattress line was delivered:\n%s", r.stdout)
	}
	spread(t, "hi\n", "chat", "join", "--server", srv.addr, "--anonymous", "--group", "#t").
		expect(t, "join anonymous", 0, "<guest-1> says: hi\n", "")

	t.Setenv("SPREAD_PASSWORD", "wrong")
	spread(t, "x\n", "chat", "join", "--server", srv.addr, "--user", "bob", "--group", "#t").
		expect(t, "join wrong password", 1, "", "login failed: twisted.cred.error.UnauthorizedLogin: wrong user name or password")
	spread(t, "", "chat", "join", "--server", srv.addr, "--user", "bob").
		expect(t, "join without group", 2, "", "usage: spread chat join")
	spread(t, "", "chat", "join", "--server", srv.addr, "--group", "#t").
		expect(t, "join without user", 2, "", "usage: spread chat join")
	spread(t, "", "chat", "join", "--server", srv.addr, "--user", "bob", "--group", "#t", "--tls-pin", "not-hex").
		expect(t, "join bad pin", 2, "", "spread chat join: ")

	// A password file, when SPREAD_PASSWORD is not set.
	os.Unsetenv("SPREAD_PASSWORD")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("fido\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = spread(t, "", "call", "--server", srv.addr, "--user", "carol", "--password-file", pwFile, "joinGroup", "#t")
	r.expect(t, "call joinGroup", 0, "", "")
	var ref string
	if err := json.Unmarshal([]byte(r.stdout), &ref); err != nil || ref == "" {
		t.Errorf("call joinGroup printed %q: %v", r.stdout, err)
	}
	spread(t, "", "call", "--server", srv.addr, "--user", "carol", "joinGroup", "#t").
		expect(t, "call without a password", 1, "", "no password: set SPREAD_PASSWORD")
	spread(t, "", "call", "--server", srv.addr, "--anonymous", "joinGroup").
		expect(t, "call joinGroup()", 1, "", "builtins.TypeError")
	spread(t, "", "call", "--server", srv.addr, "--anonymous", "joinGroup", "").
		expect(t, "call joinGroup('')", 1, "", "builtins.ValueError: a group needs a name")

	srv.cancel()
	if code := srv.wait(t); code != 0 {
		t.Fatalf("chat serve exited %d:\n%s", code, srv.stderr)
	}
	log := srv.stderr.String()
	for _, want := range []string{"chat: shutting down", "chat: stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if a, d := strings.Count(log, "chat: user attached"), strings.Count(log, "chat: user detached"); a != 5 || d != 5 { // bob, guest-1, carol, guest-2, guest-3
		t.Errorf("%d users attached, %d detached:\n%s", a, d, log)
	}
}

// echoRoot is the root object of the server that call talks to.
type echoRoot struct{ pb.Referenceable }

func (echoRoot) RemoteEcho(x any) any                  { return x }
func (echoRoot) RemoteFail(message string) error       { return pb.ValueError(message) }
func (echoRoot) RemoteAdd(a, b int64) (int64, error)   { return a + b, nil }
func (echoRoot) RemoteBytes() []byte                   { return []byte{0xff, 'a'} }
func (echoRoot) RemoteTuple() (int64, string, float64) { return 1, "x", 2.5 }

func TestCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Root: func(*pb.Broker) any { return echoRoot{} }})
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	spread(t, "", "call", "--server", addr, "--root", "echo", `{"a": [1, 2.5, "x", null, true]}`).
		expect(t, "echo", 0, `{"a":[1,2.5,"x",null,true]}`+"\n", "")
	spread(t, "", "call", "--server", addr, "echo", "plain words").
		expect(t, "echo text", 0, `"plain words"`+"\n", "")
	spread(t, "", "call", "--server", addr, "--root", "add", "2", "40").
		expect(t, "add", 0, "42\n", "")
	spread(t, "", "call", "--server", addr, "--root", "bytes").
		expect(t, "bytes", 0, `{"base64":"/2E="}`+"\n", "")
	spread(t, "", "call", "--server", addr, "--root", "fail", "boom").
		expect(t, "fail", 1, "", "builtins.ValueError: boom")
	spread(t, "", "call", "--server", addr, "--root", "add").
		expect(t, "add()", 1, "", "builtins.TypeError")
	spread(t, "", "call", "--server", addr, "--root", "nosuch").
		expect(t, "no such method", 1, "", "nosuch")
	spread(t, "", "call", "--server", addr).
		expect(t, "no method", 2, "", "usage: spread call")
	spread(t, "", "call", "--server", addr, "--tls-ca", filepath.Join(t.TempDir(), "none.pem"), "echo", "1").
		expect(t, "missing CA file", 2, "", "none.pem")
	spread(t, "", "call", "--server", addr, "--timeout", "soon", "echo").
		expect(t, "bad timeout", 2, "", "invalid value")

	// Nobody listens on a closed port.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	spread(t, "", "call", "--server", deadAddr, "echo", "1").
		expect(t, "no server", 1, "", "spread call: ")
}

// chat join stops when its context ends (a signal) while it waits for
// input, and logs out.
func TestChatJoinStopsOnSignal(t *testing.T) {
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo")
	t.Setenv("SPREAD_PASSWORD", "1234")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"chat", "join", "--server", srv.addr, "--user", "alice", "--group", "#sig"}, pr, &out, &errb)
	}()
	if _, err := io.WriteString(pw, "before the signal\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "<alice> says: before the signal") {
		if time.Now().After(deadline) {
			t.Fatalf("no line delivered\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("chat join exited %d after the signal:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("chat join did not stop on the signal")
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(srv.stderr.String(), "chat: user detached") {
		if time.Now().After(deadline) {
			t.Fatalf("alice never logged out:\n%s", srv.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A real SIGTERM, caught by the handler main installs, stops chat serve
// cleanly.
func TestChatServeStopsOnSIGTERM(t *testing.T) {
	ctx, stop := signalContext()
	defer stop()
	srv := startServe(t, ctx, "chat", "serve", "--listen", "127.0.0.1:0", "--demo")
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("chat serve exited %d on SIGTERM:\n%s", code, srv.stderr)
	}
	if !strings.Contains(srv.stderr.String(), "chat: stopped") {
		t.Errorf("no clean stop logged:\n%s", srv.stderr)
	}
	// The connection that was open has been closed by the server.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the open connection was not closed: %v", err)
	}
}

func TestUsers(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite3")
	t.Setenv("SPREAD_PASSWORD", "first pass")

	spread(t, "", "users", "add", "--db", dsn, "dora").expect(t, "add", 0, "", "spread users add: dora done")
	spread(t, "", "users", "add", "--db", dsn, "dora").expect(t, "add twice", 1, "", "spread users add: ")
	r := spread(t, "", "users", "list", "--db", dsn)
	r.expect(t, "list", 0, "NAME", "")
	if !regexp.MustCompile(`(?m)^dora\s+true\s+never\s+pbkdf2_sha256$`).MatchString(r.stdout) {
		t.Errorf("list:\n%s", r.stdout)
	}
	spread(t, "", "users", "check", "--db", dsn, "dora").expect(t, "check", 0, "dora: password verifies\n", "")
	t.Setenv("SPREAD_PASSWORD", "second pass")
	spread(t, "", "users", "check", "--db", dsn, "dora").expect(t, "check wrong", 1, "dora: password does not verify\n", "")
	spread(t, "", "users", "passwd", "--db", dsn, "dora").expect(t, "passwd", 0, "", "spread users passwd: dora done")
	spread(t, "", "users", "check", "--db", dsn, "dora").expect(t, "check new", 0, "dora: password verifies\n", "")
	spread(t, "", "users", "passwd", "--db", dsn, "nobody").expect(t, "passwd unknown", 1, "", "spread users passwd: ")

	// Without SPREAD_PASSWORD: a password file, else (no terminal) an error.
	os.Unsetenv("SPREAD_PASSWORD")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from the file\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spread(t, "", "users", "passwd", "--db", dsn, "--password-file", pwFile, "dora").expect(t, "passwd from file", 0, "", "dora done")
	spread(t, "", "users", "check", "--db", dsn, "--password-file", pwFile, "dora").expect(t, "check from file", 0, "dora: password verifies\n", "")
	spread(t, "", "users", "check", "--db", dsn, "--password-file", filepath.Join(t.TempDir(), "none"), "dora").
		expect(t, "missing password file", 1, "", "reading password file")
	spread(t, "typed\n", "users", "add", "--db", dsn, "eve").
		expect(t, "add without a password", 1, "", "no password: set SPREAD_PASSWORD, use --password-file, or run on a terminal")

	spread(t, "", "users", "del", "--db", dsn, "dora").expect(t, "del", 0, "", "spread users del: dora done")
	if r := spread(t, "", "users", "list", "--db", dsn); r.code != 0 || strings.Contains(r.stdout, "dora") || strings.Contains(r.stdout, "eve") {
		t.Errorf("list after del: exit %d\n%s", r.code, r.stdout)
	}

	// Bad input.
	spread(t, "", "users", "list").expect(t, "no --db", 2, "", "--db DSN is required")
	spread(t, "", "users", "add", "--db", dsn).expect(t, "no name", 2, "", "usage: spread users add")
	spread(t, "", "users", "list", "--db", dsn, "extra").expect(t, "list with a name", 2, "", "usage: spread users list")
	spread(t, "", "users", "list", "--db", "mysql://db").expect(t, "bad DSN", 1, "", "DSN must start with")
	spread(t, "", "users", "list", "--db", "sqlite:").expect(t, "empty sqlite DSN", 1, "", "spread users: ")
}
