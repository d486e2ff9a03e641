package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gospread/spread/internal/pypeer"
)

// The seed's programs from Twisted's "Authentication with Perspective
// Broker" (pb5, pb6) and its anonymous-login example (pbAnon), each in
// Go (examples/<name>) and as its Python original
// (internal/pypeer/py/seed/<name>.py). TestSeed runs every pair in both
// directions (Go server + Python client, Python server + Go client) and
// Go + Go, and checks that both sides print exactly the lines the Python
// originals print. (Python + Python adds nothing: every Python program's
// output is already checked against the same expectations.)

// seedPrograms are the Go examples TestSeed builds.
var seedPrograms = []string{
	"pb5server", "pb5client",
	"pb6server", "pb6client1", "pb6client2",
	"pbanonserver", "pbanonclient",
	"chatserver", "chatclient",
}

const (
	seedClientTimeout = 20 * time.Second
	seedWaitTimeout   = 10 * time.Second
	seedStopGrace     = 5 * time.Second
)

// Object reprs: Python's "<module.Class object at 0x7f...>", which the Go
// programs imitate with their own addresses.
const (
	reRemoteRef = `<twisted\.spread\.pb\.RemoteReference object at 0x[0-9a-f]+>`
	reAvatar    = `<__main__\.MyPerspective object at 0x[0-9a-f]+>`
	reLogPrefix = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} \[-\] `
)

// seedScenario is one example: a server and the clients run against it,
// one after the other, with what each prints.
type seedScenario struct {
	server  string
	clients []seedClient
	// serverWant are regexps that must match lines of the server's stdout
	// in this order (other lines may come between).
	serverWant []string
	// serverOnce are regexps each matching exactly one line of the
	// server's stdout (no call runs twice).
	serverOnce []string
	// serverAfterStop must match lines printed on SIGTERM, in order.
	serverAfterStop []string
}

type seedClient struct {
	name string
	want []string // regexps for every stdout line, in order
}

var seedScenarios = []seedScenario{
	{
		// The chat server prints nothing; the client prints its progress
		// and the line the group delivered to its mind.
		server: "chatserver",
		clients: []seedClient{{"chatclient", []string{
			`connected, joining group #NeedAFourth`,
			`joined group, now sending a message to all members`,
			`<alice> says: You can call me Al\.`,
		}}},
	},
	{
		server: "pb5server",
		clients: []seedClient{{"pb5client", []string{
			`got perspective ref: ` + reRemoteRef,
			`asking it to foo\(12\)`,
		}}},
		serverWant: []string{`I am b'user1' perspective_foo\( 12 \) called on ` + reAvatar},
		serverOnce: []string{`I am .*`},
	},
	{
		server: "pb6server",
		clients: []seedClient{
			{"pb6client1", []string{
				`got perspective1 ref: ` + reRemoteRef,
				`asking it to foo\(13\)`,
			}},
			{"pb6client2", []string{
				`got perspective2 ref: ` + reRemoteRef,
				`asking it to foo\(14\)`,
			}},
		},
		serverWant: []string{
			`I am b'user1' perspective_foo\( 13 \) called on ` + reAvatar,
			`I am b'user2' perspective_foo\( 14 \) called on ` + reAvatar,
		},
		serverOnce: []string{`I am b'user1' .*`, `I am b'user2' .*`},
	},
	{
		server: "pbanonserver",
		clients: []seedClient{{"pbanonclient", []string{
			reLogPrefix + `Log opened\.`,
			reLogPrefix + `Starting factory <twisted\.spread\.pb\.PBClientFactory object at 0x[0-9a-f]+>`,
			reLogPrefix + `got perspective1 ref: ` + reRemoteRef,
			reLogPrefix + `asking it to foo\(13\)`,
			reLogPrefix + `got perspective1 ref: ` + reRemoteRef,
			reLogPrefix + `asking it to foo\(13\)`,
			reLogPrefix + `Stopping factory <twisted\.spread\.pb\.PBClientFactory object at 0x[0-9a-f]+>`,
			reLogPrefix + `Main loop terminated\.`,
		}}},
		serverWant: []string{
			reLogPrefix + `Log opened\.`,
			reLogPrefix + `PBServerFactory starting on \d+`,
			reLogPrefix + `Starting factory <twisted\.spread\.pb\.PBServerFactory object at 0x[0-9a-f]+>`,
			reLogPrefix + `I am Anonymous\.  perspective_foo\(13\) called on ` + reAvatar + `\.`,
			reLogPrefix + `I am b'user1'\.  perspective_foo\(13\) called on ` + reAvatar + `\.`,
		},
		serverOnce: []string{`.*\] I am Anonymous\. .*`, `.*\] I am b'user1'\. .*`},
		serverAfterStop: []string{
			reLogPrefix + `Received SIGTERM, shutting down\.`,
			`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} \[twisted\.spread\.pb\.PBServerFactory\] \(TCP Port \d+ Closed\)`,
			reLogPrefix + `Stopping factory <twisted\.spread\.pb\.PBServerFactory object at 0x[0-9a-f]+>`,
			reLogPrefix + `Main loop terminated\.`,
		},
	},
}

// TestSeed builds the Go examples once and runs every scenario with each
// combination of Go and Python server and client but Python + Python.
func TestSeed(t *testing.T) {
	if _, err := pypeer.Python(); err != nil {
		t.Fatal(err)
	}
	bin := seedBuild(t)
	for _, sc := range seedScenarios {
		for _, srvLang := range []string{"go", "py"} {
			for _, cliLang := range []string{"go", "py"} {
				if srvLang == "py" && cliLang == "py" {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s-server/%s-client", strings.TrimSuffix(sc.server, "server"), srvLang, cliLang), func(t *testing.T) {
					t.Parallel()
					runSeedScenario(t, bin, sc, srvLang, cliLang)
				})
			}
		}
	}
}

func runSeedScenario(t *testing.T, bin string, sc seedScenario, srvLang, cliLang string) {
	var srv seedServer
	if srvLang == "go" {
		srv = startSeedGoServer(t, filepath.Join(bin, sc.server))
	} else {
		srv = seedPyServer{pypeer.StartServer(t, pypeer.Script("seed/"+sc.server+".py"), "127.0.0.1:0")}
	}
	addr := srv.Address()
	for _, c := range sc.clients {
		var stdout, stderr string
		var err error
		if cliLang == "go" {
			stdout, stderr, err = runSeedGoClient(filepath.Join(bin, c.name), addr)
		} else {
			stdout, stderr, err = pypeer.RunClient(t, seedClientTimeout, pypeer.Script("seed/"+c.name+".py"), addr)
		}
		if err != nil {
			t.Fatalf("%s (%s) against %s (%s): %v\n--- stdout ---\n%s--- stderr ---\n%s", c.name, cliLang, sc.server, srvLang, err, stdout, stderr)
		}
		if msg := seedMatchLines(stdout, c.want); msg != "" {
			t.Errorf("%s (%s) stdout: %s\n--- stdout ---\n%s--- stderr ---\n%s", c.name, cliLang, msg, stdout, stderr)
		}
	}

	// The server prints while it handles foo; wait until all is there.
	ok := srv.WaitFor(seedWaitTimeout, func(out string) bool {
		return seedContainsInOrder(out, sc.serverWant) == ""
	})
	out := srv.Stdout()
	if !ok {
		t.Errorf("%s (%s) stdout: %s\n--- stdout ---\n%s", sc.server, srvLang, seedContainsInOrder(out, sc.serverWant), out)
	}
	for _, re := range sc.serverOnce {
		if n := seedCountLines(out, re); n != 1 {
			t.Errorf("%s (%s): %d lines match %q, want 1\n--- stdout ---\n%s", sc.server, srvLang, n, re, out)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("%s (%s) did not stop cleanly: %v", sc.server, srvLang, err)
	}
	if len(sc.serverAfterStop) > 0 {
		out := srv.Stdout()
		if msg := seedContainsInOrder(out, append(append([]string(nil), sc.serverWant...), sc.serverAfterStop...)); msg != "" {
			t.Errorf("%s (%s) after SIGTERM: %s\n--- stdout ---\n%s", sc.server, srvLang, msg, out)
		}
	}
}

// seedMatchLines checks that out has exactly one line per regexp, each
// matching it in full. It returns "" or what is wrong.
func seedMatchLines(out string, want []string) string {
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	for i, re := range want {
		if i >= len(got) {
			return fmt.Sprintf("line %d missing, want %q", i+1, re)
		}
		if !regexp.MustCompile(`^` + re + `$`).MatchString(got[i]) {
			return fmt.Sprintf("line %d is %q, want %q", i+1, got[i], re)
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("unexpected line %d: %q", len(want)+1, got[len(want)])
	}
	return ""
}

// seedContainsInOrder checks that lines matching each regexp in full
// occur in out in this order. It returns "" or the first one missing.
func seedContainsInOrder(out string, want []string) string {
	lines := strings.Split(out, "\n")
	i := 0
	for _, re := range want {
		r := regexp.MustCompile(`^` + re + `$`)
		for i < len(lines) && !r.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			return fmt.Sprintf("no line matching %q (in order)", re)
		}
		i++
	}
	return ""
}

func seedCountLines(out, re string) int {
	r := regexp.MustCompile(`^` + re + `$`)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if r.MatchString(l) {
			n++
		}
	}
	return n
}

// seedBuild builds the Go examples into a directory that lives as long as
// t, and returns it.
func seedBuild(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	// No symbol tables: linking seven binaries is most of the build.
	args := []string{"build", "-ldflags=-s -w", "-o", dir}
	for _, p := range seedPrograms {
		args = append(args, "github.com/gospread/spread/examples/"+p)
	}
	cmd := exec.Command(gobin, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, p := range seedPrograms {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("building %s: %v", p, err)
		}
	}
	return dir
}

// runSeedGoClient runs a Go client example against addr.
func runSeedGoClient(path, addr string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), seedClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-addr", addr)
	cmd.WaitDelay = seedStopGrace
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", seedClientTimeout, err)
	}
	return out.String(), errOut.String(), err
}

// seedServer is a running Go or Python example server.
type seedServer interface {
	Address() string
	WaitFor(timeout time.Duration, cond func(stdout string) bool) bool
	Stdout() string
	Stop() error
}

type seedPyServer struct{ *pypeer.Process }

func (p seedPyServer) Address() string { return p.Addr }

// seedGoServer is a Go example server process.
type seedGoServer struct {
	addr string
	cmd  *exec.Cmd
	name string

	mu      sync.Mutex
	stdout  bytes.Buffer
	changed chan struct{}
	stderr  bytes.Buffer // guarded by mu (seedLockedWriter)

	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

type seedLockedWriter struct{ s *seedGoServer }

func (w seedLockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.stderr.Write(p)
}

// startSeedGoServer starts a Go example server on 127.0.0.1:0 and waits
// for its first line, "LISTENING <port>". It is stopped when t ends.
func startSeedGoServer(t *testing.T, path string) *seedGoServer {
	t.Helper()
	s := &seedGoServer{name: filepath.Base(path), changed: make(chan struct{}), done: make(chan struct{})}
	s.cmd = exec.Command(path, "-addr", "127.0.0.1:0")
	s.cmd.Stderr = seedLockedWriter{s}
	s.cmd.WaitDelay = seedStopGrace
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", s.name, err)
	}
	t.Cleanup(func() {
		err := s.Stop()
		if t.Failed() {
			t.Logf("%s stopped: %v\n--- stdout ---\n%s--- stderr ---\n%s", s.name, err, s.Stdout(), s.Stderr())
		}
	})
	port := make(chan string, 1)
	go s.read(out, port)
	select {
	case p := <-port:
		if p == "" {
			t.Fatalf("%s: first stdout line is not LISTENING <port>\n--- stdout ---\n%s--- stderr ---\n%s", s.name, s.Stdout(), s.Stderr())
		}
		s.addr = "127.0.0.1:" + p
	case <-s.done:
		t.Fatalf("%s exited before LISTENING: %v\n--- stdout ---\n%s--- stderr ---\n%s", s.name, s.waitErr, s.Stdout(), s.Stderr())
	case <-time.After(seedWaitTimeout):
		t.Fatalf("%s printed no LISTENING line within %v\n--- stderr ---\n%s", s.name, seedWaitTimeout, s.Stderr())
	}
	return s
}

var seedListeningRE = regexp.MustCompile(`^LISTENING (\d+)$`)

func (s *seedGoServer) read(out io.Reader, port chan<- string) {
	r := bufio.NewReader(out)
	first := true
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if first {
				first = false
				p := ""
				if m := seedListeningRE.FindStringSubmatch(strings.TrimSuffix(line, "\n")); m != nil {
					if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 65536 {
						p = m[1]
					}
				}
				port <- p
			}
			s.mu.Lock()
			s.stdout.WriteString(line)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	s.waitErr = s.cmd.Wait()
	close(s.done)
}

func (s *seedGoServer) Address() string { return s.addr }

func (s *seedGoServer) Stdout() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stdout.String()
}

func (s *seedGoServer) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *seedGoServer) WaitFor(timeout time.Duration, cond func(string) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := cond(s.stdout.String())
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-s.done:
			return cond(s.Stdout())
		case <-timer.C:
			return false
		}
	}
}

// Stop sends SIGTERM, kills after seedStopGrace, and waits. It returns
// nil only for a clean exit with status 0.
func (s *seedGoServer) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.cmd.Process.Kill()
		}
		select {
		case <-s.done:
		case <-time.After(seedStopGrace):
			s.cmd.Process.Kill()
		}
	})
	<-s.done
	return s.waitErr
}
