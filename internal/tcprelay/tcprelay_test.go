package tcprelay

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestCutAndRestart: bytes pass through, Cut breaks the relayed
// connection and refuses new ones, Restart serves the same address.
func TestCutAndRestart(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	r := Start(t, "127.0.0.1:0", echo.Addr().String())
	addr := r.Addr()
	roundTrip := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			t.Fatalf("echoed %q", line)
		}
		return err
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	r.Cut()
	if err := roundTrip(c); err == nil {
		t.Fatal("a round trip through a cut relay succeeded")
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
		t.Fatal("a cut relay accepted a connection")
	}
	r.Restart()
	if r.Addr() != addr {
		t.Fatalf("restarted on %s, not %s", r.Addr(), addr)
	}
	c3, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := roundTrip(c3); err != nil {
		t.Fatal(err)
	}
}
