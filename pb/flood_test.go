package pb_test

// A flood of connections that never log in, from child processes (one
// process holds a bounded number of files), against a server whose
// process really reaches its open-file limit.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gospread/spread/pb"
)

// TestMain runs the test binary as a flooder when PB_TEST_FLOOD_ADDR is
// set (see flood).
func TestMain(m *testing.M) {
	if addr := os.Getenv("PB_TEST_FLOOD_ADDR"); addr != "" {
		os.Exit(flooder(addr))
	}
	os.Exit(m.Run())
}

// flooder opens PB_TEST_FLOOD_CONNS connections to addr (from
// PB_TEST_FLOOD_SRC, when set), sends nothing on them, prints how many
// connected, and holds them until its stdin closes.
func flooder(addr string) int {
	n, _ := strconv.Atoi(os.Getenv("PB_TEST_FLOOD_CONNS"))
	d := net.Dialer{Timeout: 2 * time.Second}
	if src := os.Getenv("PB_TEST_FLOOD_SRC"); src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	var mu sync.Mutex
	var conns []net.Conn
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("connected %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// flood starts one flooder process per source address (or procs
// without one), each opening n connections to addr, and waits until
// they have. stop ends them and their connections.
func flood(t *testing.T, addr string, procs, n int, srcs ...string) (connected int, stop func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	var children []child
	results := make(chan string, procs)
	for i := 0; i < procs; i++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "PB_TEST_FLOOD_ADDR="+addr, "PB_TEST_FLOOD_CONNS="+strconv.Itoa(n))
		if i < len(srcs) {
			cmd.Env = append(cmd.Env, "PB_TEST_FLOOD_SRC="+srcs[i])
		}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child{cmd, stdin})
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			results <- line
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, c := range children {
				c.stdin.Close()
			}
			for _, c := range children {
				c.cmd.Wait()
			}
		})
	}
	t.Cleanup(stop)
	for range children {
		select {
		case line := <-results:
			var k int
			if _, err := fmt.Sscanf(line, "connected %d", &k); err != nil {
				t.Fatalf("flooder said %q", line)
			}
			connected += k
		case <-time.After(60 * time.Second):
			t.Fatal("the flooders did not finish connecting")
		}
	}
	return connected, stop
}

// withFileLimit runs f with the process's soft RLIMIT_NOFILE at limit
// (at most the hard limit), then restores it.
func withFileLimit(t *testing.T, limit uint64, f func(limit uint64)) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = min(limit, old.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restoring RLIMIT_NOFILE: %v", err)
		}
	}()
	f(lim.Cur)
}

func TestFloodToTheFileLimit(t *testing.T) {
	// A lower soft limit than the usual 20,000 keeps the test quick under
	// the race detector; the server's process reaches it all the same.
	// scripts/test also runs it once, without the race detector, at
	// 20,000 (PB_TEST_FLOOD_LIMIT=20000; "max" means the hard limit).
	limit := uint64(3000)
	switch v := os.Getenv("PB_TEST_FLOOD_LIMIT"); v {
	case "":
	case "max":
		limit = math.MaxUint64
	default:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PB_TEST_FLOOD_LIMIT=%q: %v", v, err)
		}
		limit = n
	}
	withFileLimit(t, limit, func(limit uint64) {
		t.Run("no caps: accept fails with EMFILE and the server lives", func(t *testing.T) {
			floodPhase(t, limit, &pb.Limits{MaxConns: -1, MaxConnsPerIP: -1, MaxUnauthConns: -1, MaxUnauthConnsPerIP: -1}, true)
		})
		t.Run("default caps: the limit is never reached", func(t *testing.T) {
			floodPhase(t, limit, nil, false)
		})
	})
}

func floodPhase(t *testing.T, limit uint64, lim *pb.Limits, wantEMFILE bool) {
	rec := &logRecorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: userPortal(), Logger: newLogger(rec), Limits: lim})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	addr := ln.Addr().String()
	// Longer than ctxT's: at the hard limit the flood alone takes ten
	// seconds or more.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	b, a, err := loginFrom(ctx, "", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check := keepCalling(t, a)

	// Three processes, 1.5 times the file limit in all, from three
	// addresses.
	per := int(limit) / 2
	start := time.Now()
	connected, stop := flood(t, addr, 3, per, "127.0.0.11", "127.0.0.12", "127.0.0.13")
	// Let the server work through its backlog: until it reaches its file
	// limit, or (with caps) until it has dealt with every connection.
	waitFor(t, "the server to take in the flood", func() bool {
		if wantEMFILE {
			return rec.count("too many open files") > 0
		}
		st := srv.Stats()
		return st.Open-1+int(st.Refused) >= connected
	})
	st := srv.Stats()
	emfile := rec.count("too many open files")
	t.Logf("flood: %d connections in %v (file limit %d): server holds %d (%d not logged in), refused %d, %d EMFILE lines logged",
		connected, time.Since(start).Round(time.Millisecond), limit, st.Open, st.NotLoggedIn, st.Refused, emfile)
	if wantEMFILE && emfile == 0 {
		t.Fatalf("the server never reached its file limit (%d open)", st.Open)
	}
	if !wantEMFILE {
		if emfile != 0 || rec.count("accept failed") != 0 {
			t.Fatal("accept failed under the default caps")
		}
		if st.Refused == 0 {
			t.Fatal("no connection was refused under the default caps")
		}
	}
	if lines := rec.count("accept failed") + rec.count("connection refused"); lines > 40 {
		t.Fatalf("%d log lines about accept and refusals: not rate-limited", lines)
	}
	check()
	select {
	case err := <-served:
		t.Fatalf("Serve returned during the flood: %v", err)
	default:
	}

	stop()
	waitFor(t, "the flood's connections to close", func() bool { return srv.Stats().Open == 1 })
	// The listen queue may still hold connections of the flood that the
	// server has to accept (and see closed); a client's connection
	// attempt can time out meanwhile, and is tried again.
	var b2 *pb.Broker
	var a2 *pb.RemoteReference
	for try := 0; ; try++ {
		if b2, a2, err = loginFrom(ctx, "", addr); err == nil {
			break
		}
		if try == 3 {
			t.Fatalf("login after the flood: %v", err)
		}
	}
	defer b2.Close()
	if v, err := a2.CallRemote(ctx, "whoami"); err != nil || v != "user" {
		t.Fatalf("whoami after the flood: %v, %v", v, err)
	}
	check()
}
