package pb

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

func soKeepAlive(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TCP keep-alive is on by default on both sides, and Config.KeepAlive < 0
// turns it off for Dial.
func TestKeepAliveByDefault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverSide := make(chan *Broker, 2)
	srv := NewServer(&Config{Root: func(b *Broker) any { serverSide <- b; return struct{}{} }, Logger: discardLogger})
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		ka   time.Duration
		want int
	}{{0, 1}, {-1, 0}} {
		b, err := Dial(ctx, ln.Addr().String(), &Config{KeepAlive: c.ka})
		if err != nil {
			t.Fatal(err)
		}
		if got := soKeepAlive(t, b.conn); got != c.want {
			t.Errorf("KeepAlive %v: client SO_KEEPALIVE = %d, want %d", c.ka, got, c.want)
		}
		b.Root().CallRemote(ctx, "nothing") // makes the server build its root
		sb := <-serverSide
		if got := soKeepAlive(t, sb.conn); got != 1 {
			t.Errorf("server side SO_KEEPALIVE = %d, want 1", got)
		}
		b.Close()
	}
}
