package pb_test

import (
	"context"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/pb"
)

// TestNoGoroutineLeak opens and closes many connections, in the ways a
// connection can end, closes the server, and expects the goroutine
// count to return to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	// Not parallel: it counts every goroutine in the process. The parker
	// goroutine, once started, lives as long as the process.
	pb.StartParker()
	settle := func() int {
		// Let goroutines of earlier tests finish (bounded).
		prev := -1
		for i := 0; i < 100; i++ {
			n := runtime.NumGoroutine()
			if n == prev {
				return n
			}
			prev = n
			time.Sleep(10 * time.Millisecond)
		}
		return prev
	}
	base := settle()

	cfg := echo.Config()
	cfg.Logger = testLogger()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		switch i % 5 {
		case 0, 1: // a client that calls and closes
			b, err := pb.Dial(ctx, addr, echo.ClientConfig())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Root().CallRemote(ctx, "echo", int64(i)); err != nil {
				t.Fatal(err)
			}
			// A reference, a cache and a callback leave state behind.
			if _, err := b.Root().CallRemote(ctx, "ref"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Root().CallRemote(ctx, "counter"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Root().CallRemote(ctx, "callback", &clientObj{}, "x"); err != nil {
				t.Fatal(err)
			}
			b.Close()
		case 2: // a client that leaves a call pending and closes
			b, err := pb.Dial(ctx, addr, echo.ClientConfig())
			if err != nil {
				t.Fatal(err)
			}
			f, err := b.Root().CallRemoteAsync(ctx, "echo", "pending")
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			f.Wait(ctx)
		case 3: // a raw peer that hangs up before negotiating
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		case 4: // a raw peer that sends garbage
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte{0x02, 0x82, 'p', 'b', 0x01, 0x99})
			buf := make([]byte, 256)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			c.Close()
		}
	}
	// Some connections are still open on the server side (their clients
	// have closed, the server may not have noticed yet); Close ends them.
	srv.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("%d connections after Close", n)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			var sb strings.Builder
			pprof.Lookup("goroutine").WriteTo(&sb, 1)
			t.Fatalf("%d goroutines, %d before the test:\n%s", n, base, sb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
