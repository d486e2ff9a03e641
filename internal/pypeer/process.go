package pypeer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts used by StartServer and Process.Stop.
const (
	StartTimeout = 20 * time.Second // for the "LISTENING <port>" line
	StopGrace    = 3 * time.Second  // between SIGTERM and SIGKILL
)

// Process is a Python server started by StartServer.
type Process struct {
	Addr string    // "127.0.0.1:<port>" from the LISTENING line
	Cmd  *exec.Cmd // the running interpreter

	name string

	mu      sync.Mutex
	stdout  bytes.Buffer  // every stdout line, including LISTENING
	changed chan struct{} // closed and replaced whenever stdout grows
	stderr  syncBuffer

	done    chan struct{} // closed once the process has been waited for
	waitErr error

	stopOnce sync.Once
}

// StartServer starts PythonPath -u script args... and waits (up to
// StartTimeout) for the line "LISTENING <port>" on its stdout. script is a
// path, or a bare file name resolved with Script (e.g. "echo_server.py").
//
// The process is stopped when the test ends (SIGTERM to its PID, SIGKILL
// after StopGrace) and waited for; if the test failed, its stdout and stderr
// are shown with t.Log. Missing Python/Twisted, a process that exits early and
// a missing LISTENING line are t.Fatal.
func StartServer(t testing.TB, script string, args ...string) *Process {
	t.Helper()
	return startServer(t, StartTimeout, script, args...)
}

func startServer(t testing.TB, timeout time.Duration, script string, args ...string) *Process {
	t.Helper()
	py, err := Python()
	if err != nil {
		t.Fatal(err)
	}
	path := resolveScript(script)
	if !exists(path) {
		t.Fatalf("pypeer: script %s not found", path)
	}
	p := &Process{
		name:    filepath.Base(path),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	p.Cmd = exec.Command(py, append([]string{"-u", path}, args...)...)
	p.Cmd.Env = pythonEnv()
	p.Cmd.Stderr = &p.stderr
	p.Cmd.WaitDelay = StopGrace
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("pypeer: %s: %v", p.name, err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("pypeer: starting %s: %v", p.name, err)
	}
	t.Cleanup(func() {
		err := p.Stop()
		if t.Failed() {
			t.Logf("pypeer: %s (pid %d) stopped: %v\n--- stdout ---\n%s--- stderr ---\n%s",
				p.name, p.Cmd.Process.Pid, err, p.Stdout(), p.Stderr())
		}
	})

	port := make(chan int, 1)
	go p.read(out, port)

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case n := <-port:
		p.Addr = "127.0.0.1:" + strconv.Itoa(n)
		return p
	case <-p.done:
		t.Fatalf("pypeer: %s %s exited before printing LISTENING: %v\n--- stdout ---\n%s--- stderr ---\n%s",
			p.name, strings.Join(args, " "), p.waitErr, p.Stdout(), p.Stderr())
	case <-timer.C:
		t.Fatalf("pypeer: %s %s printed no LISTENING line within %v\n--- stdout ---\n%s--- stderr ---\n%s",
			p.name, strings.Join(args, " "), timeout, p.Stdout(), p.Stderr())
	}
	return nil
}

// read collects stdout until EOF, reports the LISTENING port once, then waits
// for the process.
func (p *Process) read(out io.Reader, port chan<- int) {
	r := bufio.NewReader(out)
	found := false
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			if !found {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "LISTENING" {
					if n, err := strconv.Atoi(f[1]); err == nil && n > 0 && n < 65536 {
						found = true
						port <- n
					}
				}
			}
			p.mu.Lock()
			p.stdout.WriteString(line)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	p.waitErr = p.Cmd.Wait()
	close(p.done)
}

// Stdout returns everything the process printed on stdout so far, including
// the LISTENING line.
func (p *Process) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr returns everything the process printed on stderr so far (Twisted's log).
func (p *Process) Stderr() string { return p.stderr.String() }

// Lines returns the stdout lines that start with prefix, without their newline.
func (p *Process) Lines(prefix string) []string {
	var lines []string
	for _, l := range strings.Split(p.Stdout(), "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines
}

// WaitFor waits up to timeout until cond(stdout so far) is true and reports
// whether it became true. It returns early (with a last check) if the
// process exits.
func (p *Process) WaitFor(timeout time.Duration, cond func(stdout string) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := cond(p.stdout.String())
		changed := p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-p.done:
			return cond(p.Stdout())
		case <-timer.C:
			return false
		}
	}
}

// WaitLines waits up to timeout until stdout holds at least n lines starting
// with prefix, and returns those lines (possibly fewer than n on timeout).
func (p *Process) WaitLines(timeout time.Duration, prefix string, n int) []string {
	p.WaitFor(timeout, func(string) bool { return len(p.linesLocked(prefix)) >= n })
	return p.Lines(prefix)
}

// linesLocked is Lines for use inside a WaitFor condition (p.mu is held).
func (p *Process) linesLocked(prefix string) []string {
	var lines []string
	for _, l := range strings.Split(p.stdout.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process: SIGTERM to its PID, SIGKILL if it is still running
// after StopGrace, then waits for it. It returns the exit error (nil for a
// clean exit with status 0). Stop is idempotent; the test cleanup calls it.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		if p.Exited() {
			return
		}
		if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.Cmd.Process.Kill()
		}
		timer := time.NewTimer(StopGrace)
		defer timer.Stop()
		select {
		case <-p.done:
			return
		case <-timer.C:
		}
		p.Cmd.Process.Kill()
	})
	<-p.done
	if p.waitErr != nil {
		return fmt.Errorf("pypeer: %s: %w", p.name, p.waitErr)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
