// Package natstest starts throwaway NATS servers for tests, from the
// nats-server binary of Debian's nats-server package (/usr/sbin or
// PATH).
//
// A server listens on 127.0.0.1 on a free port. Stop and Start stop it
// and start it again on the same port, as an outage would; Kill ends it
// with SIGKILL; Freeze and Thaw stop and continue it (SIGSTOP, SIGCONT).
// A missing binary or a server that does not start makes
// the test fail, never skip.
package natstest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one nats-server process.
type Server struct {
	// Port is the client port on 127.0.0.1.
	Port int

	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
	out *syncBuffer
	end chan struct{}
}

// syncBuffer is the server's output, written by exec's copying goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Bin finds nats-server.
func Bin() (string, error) {
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	return "", errors.New("natstest: nats-server not found in /usr/sbin, /usr/bin or on PATH: " +
		"install Debian's nats-server package (apt-get install nats-server)")
}

// Start starts a server for the test; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Kill() })
	return s
}

// NewServer starts a server on a free port. Call Kill when done.
func NewServer() (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	var last error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("natstest: find a free port: %w", err)
		}
		s.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if last = s.Start(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.Port) }

// Start starts the server again on its port after Stop or Kill. It
// waits until the port accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("natstest: already running")
	}
	cmd := exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "--http_port", "0")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natstest: %w", err)
	}
	end := make(chan struct{})
	go func() { cmd.Wait(); close(end) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-end:
			return fmt.Errorf("natstest: nats-server exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-end
			return fmt.Errorf("natstest: nats-server did not listen on %s:\n%s", s.addr(), out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd, s.out, s.end = cmd, out, end
	return nil
}

func (s *Server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Stop stops the server with SIGTERM (SIGKILL after 5 s) and waits.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill ends the server with SIGKILL and waits. It does nothing when the
// server is not running.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot stop
	s.cmd.Process.Signal(sig)
	select {
	case <-s.end:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.end
	}
	s.cmd = nil
}

// Freeze stops the server with SIGSTOP: it keeps its sockets and
// answers nothing, as a hung machine would. Thaw continues it.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw continues a frozen server (SIGCONT).
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("natstest: not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Log returns what the running (or last) server printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}
