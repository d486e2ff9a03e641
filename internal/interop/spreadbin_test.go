package interop

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	spreadBinOnce sync.Once
	spreadBinPath string
	spreadBinErr  error
)

// moduleRoot is the repository's top directory.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// spreadBin builds cmd/spread once per test binary.
func spreadBin(t testing.TB) string {
	t.Helper()
	spreadBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spread-bin-")
		if err != nil {
			spreadBinErr = err
			return
		}
		spreadBinPath = filepath.Join(dir, "spread")
		cmd := exec.Command("go", "build", "-o", spreadBinPath, "./cmd/spread")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			spreadBinErr = err
			spreadBinPath = string(out)
		}
	})
	if spreadBinErr != nil {
		t.Fatalf("building spread: %v\n%s", spreadBinErr, spreadBinPath)
	}
	return spreadBinPath
}

// spreadServer is a running `spread ... serve` process.
type spreadServer struct {
	Addr string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

var addrRE = regexp.MustCompile(`serving" addr=(\S+)`)

// startSpreadServer runs spread with args (which must listen on port 0)
// and waits for its "serving" log line. It is stopped with SIGTERM when
// the test ends.
func startSpreadServer(t testing.TB, env []string, args ...string) *spreadServer {
	t.Helper()
	s := &spreadServer{cmd: exec.Command(spreadBin(t), args...), done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() { s.Stop(t) })
	select {
	case s.Addr = <-addrc:
	case <-s.done:
		t.Fatalf("spread %v exited before serving:\n%s", args, s.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("spread %v did not start:\n%s", args, s.Log())
	}
	return s
}

// Log returns what the server logged so far.
func (s *spreadServer) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop sends SIGTERM and waits (SIGKILL after 5 s). It reports whether
// the process exited cleanly.
func (s *spreadServer) Stop(t testing.TB) bool {
	if s.cmd.ProcessState != nil {
		return s.cmd.ProcessState.Success()
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	err := s.cmd.Wait()
	return err == nil
}

// runSpread runs a spread client command to completion.
func runSpread(t testing.TB, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(spreadBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("spread %v timed out\nstdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
