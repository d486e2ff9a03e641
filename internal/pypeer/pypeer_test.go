package pypeer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPython(t *testing.T) {
	t.Parallel()
	py, err := Python()
	if err != nil {
		t.Fatal(err)
	}
	if py != "/usr/bin/python3" {
		t.Errorf("Python() = %q, want /usr/bin/python3", py)
	}
	v, err := TwistedVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "22.4") {
		t.Errorf("TwistedVersion() = %q, want 22.4.x (the version Spread targets)", v)
	}
}

func TestScript(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"echo_server.py", "echo_client.py", "echo_types.py", "login_server.py", "login_client.py"} {
		p := Script(name)
		if !filepath.IsAbs(p) {
			t.Errorf("Script(%q) = %q, not absolute", name, p)
		}
		if !exists(p) {
			t.Errorf("Script(%q) = %q does not exist", name, p)
		}
	}
	if got := resolveScript("echo_server.py"); got != Script("echo_server.py") {
		t.Errorf("resolveScript(bare name) = %q", got)
	}
	if got := resolveScript("/x/y.py"); got != "/x/y.py" {
		t.Errorf("resolveScript(path) = %q", got)
	}
}

func TestExtractScripts(t *testing.T) {
	t.Parallel()
	dir, err := extractScripts()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"echo_server.py", "echo_types.py", "login_client.py"} {
		want, err := os.ReadFile(Script(name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("extracted %s differs from the source", name)
		}
	}
}

// mustCheckNames are checks the brief requires; the client must run them all.
var mustCheckNames = []string{
	"echo/None", "echo/True", "echo/False", "echo/int/0", "echo/int/-1", "echo/int/2**31",
	"echo/int/-2**31-1", "echo/int/2**64", "echo/int/-2**100", "echo/float/1.5", "echo/float/-0.0",
	"echo/float/inf", "echo/float/nan", "echo/str/empty", "echo/str/latin", "echo/str/astral",
	"echo/bytes/empty", "echo/bytes/00ff", "echo/bytes/vocab-list", "echo/list/mixed", "echo/tuple/simple",
	"echo/tuple/nested", "echo/dict/keys", "echo/set/mixed", "echo/frozenset", "echo/decimal/3.14",
	"echo/datetime", "echo/date", "echo/time", "echo/timedelta", "echo/shared-sublist", "echo/cyclic-list",
	"echoKw/default", "echoKw/keyword", "fail", "ref/add", "same/true", "same/false", "callback", "point",
	"pointSum", "counter", "unknown-method", "wrong-arg-count",
}

// TestEchoPythonAgainstPython validates the echo scripts against each other.
func TestEchoPythonAgainstPython(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, "echo_server.py", "0")
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") || strings.HasSuffix(srv.Addr, ":0") {
		t.Fatalf("Addr = %q", srv.Addr)
	}
	checks := RunEchoClient(t, srv.Addr)
	names := map[string]bool{}
	for _, c := range checks {
		if names[c.Name] {
			t.Errorf("check %s reported twice", c.Name)
		}
		names[c.Name] = true
	}
	for _, n := range mustCheckNames {
		if !names[n] {
			t.Errorf("check %s did not run", n)
		}
	}
	// A second client on the same server, with --only/--skip: the counter
	// keeps counting (it is per server) and the filters select by name.
	stdout, stderr, err := RunClient(t, 30*time.Second, "echo_client.py", srv.Addr,
		"--only", "^(counter|echo/int/.*)$", "--skip", "2\\*\\*64")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	checks, sum, err := ParseChecks(stdout)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range checks {
		got = append(got, c.Name)
	}
	want := []string{"echo/int/0", "echo/int/-1", "echo/int/2**31-1", "echo/int/2**31",
		"echo/int/-2**31", "echo/int/-2**31-1", "echo/int/-2**100", "counter"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("filtered checks = %q, want %q", got, want)
	}
	if sum != (Summary{Passed: len(want)}) {
		t.Errorf("summary = %+v", sum)
	}
	if c := checks[len(checks)-1]; !strings.HasPrefix(c.Detail, "value 1 -> setValue(2)") {
		t.Errorf("second client's counter check: %q, want the value the first client left", c.Detail)
	}
	if srv.Exited() {
		t.Errorf("server exited: %s", srv.Stderr())
	}
}

// TestEchoClientDetectsFailures runs the echo client against a server that
// has no Echo service (the login server's root only knows login): every
// check must fail, the client must exit non-zero, and it must not hang.
func TestEchoClientDetectsFailures(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, "login_server.py")
	start := time.Now()
	stdout, _, err := RunClient(t, 30*time.Second, "echo_client.py", srv.Addr)
	if err == nil {
		t.Errorf("echo_client exited 0 against a server without the Echo service")
	}
	checks, sum, perr := ParseChecks(stdout)
	if perr != nil {
		t.Fatal(perr)
	}
	if len(checks) < len(mustCheckNames) || sum.Passed != 0 || sum.Failed != len(checks) {
		t.Errorf("got %d checks, summary %+v; want all of them failed\n%s", len(checks), sum, stdout)
	}
	for _, c := range checks {
		if c.Name == "fail" && !strings.Contains(c.Detail, "NoSuchMethod") {
			t.Errorf("fail check detail %q does not show the remote failure", c.Detail)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("echo_client took %v against a failing server", d)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestEchoClientConnectRefused(t *testing.T) {
	t.Parallel()
	stdout, _, err := RunClient(t, 30*time.Second, "echo_client.py", closedPort(t))
	if err == nil {
		t.Error("echo_client exited 0 without a server")
	}
	checks, sum, perr := ParseChecks(stdout)
	if perr != nil {
		t.Fatal(perr)
	}
	if len(checks) != 1 || checks[0].Name != "connect" || checks[0].OK || sum != (Summary{Failed: 1}) {
		t.Errorf("checks %+v summary %+v, want one failed connect check", checks, sum)
	}
}

// TestEchoClientTimesOut checks the per-check timeout against a peer that
// accepts TCP but never speaks PB.
func TestEchoClientTimesOut(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	stdout, _, err := RunClient(t, 20*time.Second, "echo_client.py", l.Addr().String(), "--timeout", "0.5")
	if err == nil || strings.Contains(err.Error(), "timed out after 20s") {
		t.Errorf("err = %v, want a non-zero exit before RunClient's timeout", err)
	}
	checks, _, perr := ParseChecks(stdout)
	if perr != nil {
		t.Fatal(perr)
	}
	if len(checks) != 1 || checks[0].OK || !strings.Contains(checks[0].Detail, "imeout") {
		t.Errorf("checks = %+v, want one failed connect check that timed out", checks)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func runLogin(t *testing.T, addr string, args ...string) (LoginResult, error) {
	t.Helper()
	stdout, stderr, err := RunClient(t, 30*time.Second, "login_client.py", append([]string{addr}, args...)...)
	r, perr := ParseLoginResult(stdout)
	if perr != nil {
		t.Fatalf("%v\nstderr:\n%s", perr, stderr)
	}
	if (err == nil) != r.OK {
		t.Errorf("login_client %q: exit %v but ok=%v", args, err, r.OK)
	}
	return r, err
}

func TestLoginPythonAgainstPython(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, "login_server.py", "0")

	type want struct {
		ok                bool
		repr, mind, stage string
		typ, value        string
	}
	unauthorized := want{stage: "login", typ: "twisted.cred.error.UnauthorizedLogin", value: ""}
	cases := []struct {
		args []string
		want want
	}{
		{[]string{"user1", "pass1"}, want{ok: true, repr: "('foo', 'user1', 13)"}},
		{[]string{"user2", "pass2", "--arg", "7", "--call-mind", "hello"},
			want{ok: true, repr: "('foo', 'user2', 7)", mind: "'printed:hello'"}},
		{[]string{"user1", "wrong"}, unauthorized},
		{[]string{"nobody", "pass1"}, unauthorized},
		{[]string{"--anonymous"}, want{stage: "login", typ: "twisted.cred.error.UnhandledCredentials",
			value: "No checker for twisted.cred.credentials.IAnonymous"}},
	}
	var wg sync.WaitGroup
	results := make([]LoginResult, len(cases))
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdout, _, _ := RunClient(t, 30*time.Second, "login_client.py", append([]string{srv.Addr}, c.args...)...)
			results[i], _ = ParseLoginResult(stdout)
		}()
	}
	wg.Wait()
	for i, c := range cases {
		r := results[i]
		got := want{ok: r.OK, repr: r.Repr, mind: r.MindRepr, stage: r.Stage, typ: r.Type, value: r.Value}
		if got != c.want {
			t.Errorf("login_client %q = %+v, want %+v", c.args, got, c.want)
		}
	}
	if r := results[0]; !reflect.DeepEqual(r.Result, []any{"foo", "user1", float64(13)}) {
		t.Errorf("user1 result JSON = %#v", r.Result)
	}
	if p := results[2].Parents; len(p) == 0 || p[0] != "twisted.cred.error.UnauthorizedLogin" ||
		p[1] != "twisted.cred.error.LoginFailed" {
		t.Errorf("UnauthorizedLogin parents = %q", p)
	}

	// One logout per successful login, none for failed ones, printed when
	// the client disconnects.
	got := srv.WaitLines(10*time.Second, "LOGOUT", 2)
	time.Sleep(200 * time.Millisecond) // let any extra (wrong) LOGOUT arrive
	got = srv.Lines("LOGOUT")
	if len(got) != 2 || !contains(got, "LOGOUT user1") || !contains(got, "LOGOUT user2") {
		t.Errorf("LOGOUT lines = %q, want user1 and user2 once each", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoginAnonymous(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, "login_server.py", "0", "--anonymous")
	r, err := runLogin(t, srv.Addr, "--anonymous", "--call-mind", "yo")
	if err != nil || r.Repr != "('foo', '', 13)" || r.MindRepr != "'printed:yo'" {
		t.Errorf("anonymous login: err %v, %+v", err, r)
	}
	r, err = runLogin(t, srv.Addr, "user1", "pass1")
	if err != nil || r.Repr != "('foo', 'user1', 13)" || r.MindRepr != "" {
		t.Errorf("user1 login on --anonymous server: err %v, %+v", err, r)
	}
	got := srv.WaitLines(10*time.Second, "LOGOUT", 2)
	if !reflect.DeepEqual(got, []string{"LOGOUT ", "LOGOUT user1"}) {
		t.Errorf("LOGOUT lines = %q", got)
	}
}

func TestLoginClientConnectRefused(t *testing.T) {
	t.Parallel()
	r, err := runLogin(t, closedPort(t), "user1", "pass1")
	if err == nil || r.OK || r.Stage != "connect" || r.Type != "twisted.internet.error.ConnectionRefusedError" {
		t.Errorf("err %v, result %+v", err, r)
	}
}

func TestStopIsCleanOnSIGTERM(t *testing.T) {
	t.Parallel()
	for _, script := range []string{"echo_server.py", "login_server.py"} {
		srv := StartServer(t, script)
		if srv.Exited() {
			t.Fatalf("%s exited right away", script)
		}
		if err := srv.Stop(); err != nil {
			t.Errorf("%s: Stop() = %v, want a clean exit", script, err)
		}
		if err := srv.Stop(); err != nil {
			t.Errorf("%s: second Stop() = %v", script, err)
		}
		if !srv.Exited() || srv.Cmd.ProcessState == nil || srv.Cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("%s: state after Stop: %v", script, srv.Cmd.ProcessState)
		}
		if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
			t.Errorf("%s: still accepting on %s after Stop", script, srv.Addr)
		}
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	script := writeScript(t, `
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("LISTENING 1", flush=True)
time.sleep(60)
`)
	srv := StartServer(t, script)
	start := time.Now()
	err := srv.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop() = %v, want the process killed", err)
	}
	if d := time.Since(start); d < StopGrace || d > StopGrace+5*time.Second {
		t.Errorf("Stop took %v, want about %v", d, StopGrace)
	}
}

func writeScript(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fatalTB records Fatal calls instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// startFails runs startServer with a fake TB and returns its Fatal message.
func startFails(t *testing.T, timeout time.Duration, script string) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan *Process)
	go func() {
		var p *Process
		defer func() { done <- p }()
		p = startServer(f, timeout, script)
	}()
	if p := <-done; p != nil {
		t.Fatalf("startServer returned %+v, want Fatal", p)
	}
	return f.msg
}

func TestStartServerFailures(t *testing.T) {
	t.Parallel()
	t.Run("exits", func(t *testing.T) {
		t.Parallel()
		msg := startFails(t, 10*time.Second, writeScript(t, `
import sys
print("not ready")
print("some error", file=sys.stderr)
sys.exit(3)
`))
		for _, s := range []string{"exited before printing LISTENING", "exit status 3", "not ready", "some error"} {
			if !strings.Contains(msg, s) {
				t.Errorf("Fatal message %q lacks %q", msg, s)
			}
		}
	})
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		msg := startFails(t, time.Second, writeScript(t, "import time\nprint('booting')\ntime.sleep(30)\n"))
		if !strings.Contains(msg, "no LISTENING line within 1s") || !strings.Contains(msg, "booting") {
			t.Errorf("Fatal message %q", msg)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		msg := startFails(t, time.Second, "no_such_script.py")
		if !strings.Contains(msg, "not found") {
			t.Errorf("Fatal message %q", msg)
		}
	})
}

func TestRunClientTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// The timeout leaves Python ample time to start and print, even on a
	// loaded machine; the script itself would sleep far longer.
	stdout, _, err := RunClient(t, 5*time.Second, writeScript(t, "import time\nprint('started', flush=True)\ntime.sleep(60)\n"))
	if err == nil || !strings.Contains(err.Error(), "timed out after 5s") {
		t.Errorf("err = %v, want a timeout", err)
	}
	if stdout != "started\n" {
		t.Errorf("stdout = %q", stdout)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRunClientExitStatus(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := RunClient(t, 10*time.Second, writeScript(t,
		"import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(2)\n"))
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || stdout != "out\n" || stderr != "err\n" {
		t.Errorf("got (%q, %q, %v)", stdout, stderr, err)
	}
}

func TestProcessWaitFor(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, writeScript(t, `
import time
print("LISTENING 1", flush=True)
for i in range(3):
    time.sleep(0.1)
    print("TICK %d" % i, flush=True)
time.sleep(30)
`))
	got := srv.WaitLines(5*time.Second, "TICK", 3)
	if !reflect.DeepEqual(got, []string{"TICK 0", "TICK 1", "TICK 2"}) {
		t.Errorf("WaitLines = %q", got)
	}
	if srv.WaitFor(200*time.Millisecond, func(s string) bool { return strings.Contains(s, "TICK 3") }) {
		t.Error("WaitFor reported a line that was never printed")
	}
	if !strings.HasPrefix(srv.Stdout(), "LISTENING 1\n") {
		t.Errorf("Stdout() = %q", srv.Stdout())
	}
}

func TestParseChecks(t *testing.T) {
	t.Parallel()
	out := `noise
{"check": "a", "ok": true, "detail": "x"}
{"check": "b", "ok": false, "detail": "y"}
{"summary": {"passed": 1, "failed": 1}}
`
	checks, sum, err := ParseChecks(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{{"a", true, "x"}, {"b", false, "y"}}
	if !reflect.DeepEqual(checks, want) || sum != (Summary{1, 1}) {
		t.Errorf("got %+v %+v", checks, sum)
	}
	if _, _, err := ParseChecks(`{"check": "a", "ok": true, "detail": ""}`); err == nil {
		t.Error("no error for a missing summary")
	}
	if _, _, err := ParseChecks("{\"check\": \"a\", \"ok\": true}\n{\"summary\": {\"passed\": 2, \"failed\": 0}}"); err == nil {
		t.Error("no error for a summary that disagrees")
	}
}
