package pb_test

// Echo call benchmarks over loopback TCP:
//
//	go test -run='^$' -bench=Echo -benchtime=3s ./pb
//
// Metrics: calls/s; proc-cpu-us/call (user+system CPU of this whole
// process per call, from getrusage: client and server together) for the
// in-process server; server-cpu-us/call (from /proc/<pid>/stat) for the
// variants that run examples/echoserver as a separate process.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/pb"
)

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU returns a process's user+system CPU time from /proc/pid/stat
// (clock ticks of 1/100 s, Linux's fixed USER_HZ).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	// The command name (field 2) is in parentheses and may hold spaces.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14, 15.
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parsing /proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// runEcho runs b.N echo calls over conns connections with inflight
// outstanding calls in total.
func runEcho(b *testing.B, addr string, inflight int) {
	ctx := context.Background()
	conns := 1
	if inflight > 1 {
		conns = 4
	}
	brokers := make([]*pb.Broker, conns)
	for i := range brokers {
		br, err := pb.Dial(ctx, addr, echo.ClientConfig())
		if err != nil {
			b.Fatal(err)
		}
		defer br.Close()
		if _, err := br.Root().CallRemote(ctx, "echo", "warm"); err != nil {
			b.Fatal(err)
		}
		brokers[i] = br
	}
	payload := "hello, echo"
	b.ResetTimer()
	start := time.Now()
	if inflight == 1 {
		root := brokers[0].Root()
		for i := 0; i < b.N; i++ {
			if _, err := root.CallRemote(ctx, "echo", payload); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed error
		for w := 0; w < inflight; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				root := brokers[w%conns].Root()
				for {
					mu.Lock()
					if next >= int64(b.N) || failed != nil {
						mu.Unlock()
						return
					}
					next++
					mu.Unlock()
					if _, err := root.CallRemote(ctx, "echo", payload); err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
						return
					}
				}
			}(w)
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}

func benchInProcess(b *testing.B, inflight int) {
	cfg := echo.Config()
	cfg.Logger = testLogger()
	_, addr := serve(b, cfg)
	cpu0 := rusageCPU()
	runEcho(b, addr, inflight)
	cpu := rusageCPU() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "proc-cpu-us/call")
}

// BenchmarkLogin logs in (Twisted's challenge login against the
// in-memory checker) and releases the avatar, one login at a time, over
// loopback TCP with the server in this process.
func BenchmarkLogin(b *testing.B) {
	portal := userPortal()
	_, addr := serve(b, &pb.Config{Portal: portal, Logger: testLogger()})
	ctx := context.Background()
	br, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	creds := &cred.UsernamePassword{Username: "user", Password: []byte("pw")}
	login := func() {
		a, err := br.Login(ctx, creds, nil)
		if err != nil {
			b.Fatal(err)
		}
		a.Release()
	}
	login()
	cpu0 := rusageCPU()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		login()
	}
	b.StopTimer()
	cpu := rusageCPU() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "proc-cpu-us/login")
}

func BenchmarkEchoCall(b *testing.B)            { benchInProcess(b, 1) }
func BenchmarkEchoCall100InFlight(b *testing.B) { benchInProcess(b, 100) }

// echoServerBinary builds examples/echoserver into a temporary
// directory (go's build cache makes the second build cheap).
func echoServerBinary(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "echoserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gospread/spread/examples/echoserver").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func benchSeparateServer(b *testing.B, inflight int) {
	bin := echoServerBinary(b)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("echoserver: %v", err)
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok {
		b.Fatalf("echoserver said %q", line)
	}
	addr := "127.0.0.1:" + port
	cpu0 := procCPU(b, cmd.Process.Pid)
	runEcho(b, addr, inflight)
	cpu := procCPU(b, cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-cpu-us/call")
}

func BenchmarkEchoCallSeparateServer(b *testing.B)            { benchSeparateServer(b, 1) }
func BenchmarkEchoCall100InFlightSeparateServer(b *testing.B) { benchSeparateServer(b, 100) }
