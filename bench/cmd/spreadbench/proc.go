package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. Set by initClock from `getconf CLK_TCK`.
var clkTck int64 = 100

func initClock() {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
		clkTck = n
	}
}

// procCPU returns the user+system CPU time a process (all its threads)
// has used, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration((ut + st) * int64(time.Second) / clkTck), nil
}

// cpuOf is procCPU that returns 0 on error (a process that is gone).
func cpuOf(pid int) time.Duration {
	d, _ := procCPU(pid)
	return d
}

// procRSS returns VmRSS of a process in bytes, from /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				kb, err := strconv.ParseInt(fs[1], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// proc is a child process: a server, a Python load client or a holder.
// Its stdout lines go to a channel; stderr is kept (bounded) for errors.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	stdin io.WriteCloser

	mu     sync.Mutex
	stderr []byte
	done   chan struct{}
}

func (p *proc) Pid() int { return p.cmd.Process.Pid }

// startProc starts argv with stdout read line by line. The child gets
// SIGKILL if the harness dies (Pdeathsig).
func startProc(name string, dir string, env []string, argv ...string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errp, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 1024), stdin: in, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := errp.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if len(p.stderr) < 64*1024 {
					p.stderr = append(p.stderr, buf[:n]...)
				} else {
					// keep the tail
					p.stderr = append(p.stderr[len(p.stderr)-32*1024:], buf[:n]...)
				}
				p.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Stderr returns the tail of the child's stderr.
func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := string(p.stderr)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// expect waits for a stdout line starting with prefix and returns it.
// Other lines are passed to other (may be nil).
func (p *proc) expect(prefix string, timeout time.Duration, other func(string)) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				return "", fmt.Errorf("%s exited before %q: %s", p.name, prefix, p.Stderr())
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
			if other != nil {
				other(l)
			}
		case <-t.C:
			return "", fmt.Errorf("%s: no %q within %s: %s", p.name, prefix, timeout, p.Stderr())
		}
	}
}

// drain discards further stdout lines in the background.
func (p *proc) drain() {
	go func() {
		for range p.lines {
		}
	}()
}

// stop sends SIGTERM to this child (by PID) and waits up to 5 s, then
// SIGKILLs it.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.stdin.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// server is a started server process and its port.
type server struct {
	*proc
	port int
	addr string
}

func startServer(ctx context.Context, name, dir string, argv ...string) (*server, error) {
	p, err := startProc(name, dir, nil, argv...)
	if err != nil {
		return nil, err
	}
	l, err := p.expect("LISTENING ", 30*time.Second, nil)
	if err != nil {
		p.stop()
		return nil, err
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "LISTENING ")))
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: bad line %q", name, l)
	}
	p.drain()
	return &server{proc: p, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port)}, nil
}

var errAborted = errors.New("aborted")

// procSyscalls returns the read and write system calls a process has
// made (syscr and syscw of /proc/<pid>/io; sendmsg/recvmsg count too).
func procSyscalls(pid int) (r, w int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "syscr:":
			r = n
		case "syscw:":
			w = n
		}
	}
	return r, w
}

// sample is a process's counters at one instant.
type sample struct {
	cpu    time.Duration
	sysR   int64
	sysW   int64
	at     time.Time
	client time.Duration
}

func sampleOf(pid, clientPid int) sample {
	s := sample{cpu: cpuOf(pid), at: time.Now()}
	s.sysR, s.sysW = procSyscalls(pid)
	if clientPid > 0 {
		s.client = cpuOf(clientPid)
	}
	return s
}

// stopRequests reports how a child process of the harness is told to
// stop: SIGTERM or SIGINT on sig, or its stdin reaching EOF (the harness
// has gone) on stdinEOF.
func stopRequests() (sig <-chan os.Signal, stdinEOF <-chan struct{}) {
	s := make(chan os.Signal, 1)
	signal.Notify(s, syscall.SIGTERM, syscall.SIGINT)
	eof := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				close(eof)
				return
			}
		}
	}()
	return s, eof
}

// machineBusy returns the CPU time the whole machine has spent busy
// (every state of /proc/stat's cpu line but idle and iowait), summed
// over its CPUs.
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is counted in user already
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", v, err)
		}
		ticks += n
	}
	return time.Duration(ticks * int64(time.Second) / clkTck), nil
}
