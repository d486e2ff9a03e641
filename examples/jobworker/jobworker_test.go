package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// master is a running jobmaster.py (Debian's /usr/bin/python3 with
// python3-twisted).
type master struct {
	cmd  *exec.Cmd
	port string
	mu   sync.Mutex
	out  []string
	more chan struct{}
	done chan struct{}
}

func startMaster(t *testing.T, port, passwords, jobs string) *master {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-u", "jobmaster.py", "--port", port, "--passwords", passwords, "--jobs", jobs)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting jobmaster.py: %v", err)
	}
	m := &master{cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(func() { m.stop() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			m.out = append(m.out, sc.Text())
			m.mu.Unlock()
			select {
			case m.more <- struct{}{}:
			default:
			}
		}
		cmd.Wait()
		close(m.done)
	}()
	line := m.wait(t, "LISTENING ")
	m.port = strings.TrimPrefix(line, "LISTENING ")
	return m
}

// wait returns the first line starting with prefix, waiting up to 20s.
func (m *master) wait(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		m.mu.Lock()
		for _, l := range m.out {
			if strings.HasPrefix(l, prefix) {
				m.mu.Unlock()
				return l
			}
		}
		m.mu.Unlock()
		select {
		case <-m.more:
		case <-m.done:
			t.Fatalf("jobmaster exited; no line %q in:\n%s", prefix, m.output())
		case <-deadline:
			t.Fatalf("no line %q in:\n%s", prefix, m.output())
		}
	}
}

func (m *master) output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.out, "\n")
}

func (m *master) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

// TestWorkerWithTwistedMaster runs the worker against the real Python
// master: jobs by keyword with argument dicts, output streamed back
// (lossy where it is not UTF-8), failures as values, and a master
// restart that the worker rides out.
func TestWorkerWithTwistedMaster(t *testing.T) {
	dir := t.TempDir()
	pw := make([]byte, 12)
	rand.Read(pw)
	password := hex.EncodeToString(pw)
	passwords := filepath.Join(dir, "passwords")
	if err := os.WriteFile(passwords, []byte("worker1:"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jobs := []map[string]any{
		{"id": "hello", "cmd": map[string]any{"workdir": dir, "command": []string{"sh", "-c", "echo hello from $GREETER; echo warning >&2"}, "env": map[string]string{"GREETER": "jobworker"}, "timeout": 30}},
		{"id": "exit3", "cmd": map[string]any{"workdir": ".", "command": []string{"sh", "-c", "exit 3"}, "env": map[string]string{}, "timeout": 30}},
		{"id": "missing", "cmd": map[string]any{"workdir": ".", "command": []string{"no-such-program-here"}, "env": map[string]string{}, "timeout": 30}},
		{"id": "slow", "cmd": map[string]any{"workdir": ".", "command": []string{"sleep", "30"}, "env": map[string]string{}, "timeout": 0.3}},
		{"id": "cut", "cmd": map[string]any{"workdir": ".", "command": []string{"printf", `cut \342\202 here\n`}, "env": map[string]string{}, "timeout": 30}},
	}
	jobsFile := filepath.Join(dir, "jobs.json")
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(jobsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}

	m := startMaster(t, "0", passwords, jobsFile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connected := make(chan int, 4)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{
			master: "127.0.0.1:" + m.port, name: "worker1", password: []byte(password),
			minDelay: 50 * time.Millisecond, maxDelay: 500 * time.Millisecond,
			log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			connected: func(n int) { connected <- n },
		})
	}()
	check := func(m *master) {
		t.Helper()
		for _, want := range []string{
			"READY worker1 slots=1",
			"LINE hello stdout hello from jobworker",
			"LINE hello stderr warning",
			"DONE hello rc=0",
			"DONE exit3 rc=3",
			"FAILED missing builtins.FileNotFoundError FileNotFoundError ",
			"FAILED slow builtins.TimeoutError TimeoutError sleep timed out after 0.3s",
			"LINE cut stdout cut \ufffd here",
			"DONE cut rc=0",
		} {
			m.wait(t, want)
		}
	}
	check(m)
	if n := <-connected; n != 1 {
		t.Fatalf("connection %d", n)
	}

	// The master restarts on the same port: the worker logs in again,
	// says it is ready, and gets the jobs again.
	port := m.port
	m.stop()
	m.wait(t, "LOST worker1")
	m2 := startMaster(t, port, passwords, jobsFile)
	check(m2)
	if n := <-connected; n != 2 {
		t.Fatalf("connection %d", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
