package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestFloorServer checks the floor server's framing: whole logins, a
// request split across writes, two requests in one write, and a broken
// header, which ends the connection.
func TestFloorServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveFloor(ln)

	ws, closeAll, err := floorWorkers(context.Background(), ln.Addr().String(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	for i := 0; i < 100; i++ {
		for _, w := range ws {
			if err := w(); err != nil {
				t.Fatalf("exchange %d: %v", i, err)
			}
		}
	}

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	expect := func(n int) {
		t.Helper()
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reading %d bytes: %v", n, err)
		}
	}
	// Split: 10 bytes asking for 7, in two writes.
	c.Write([]byte{10, 7, 0, 0})
	time.Sleep(20 * time.Millisecond)
	c.Write(make([]byte, 6))
	expect(7)
	// Two requests in one write: answers of 3 and 200 bytes.
	c.Write([]byte{2, 3, 4, 200, 0, 0})
	expect(203)
	// A length below the header's size ends the connection.
	c.Write([]byte{1, 5})
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("broken header: read %d bytes, want the connection closed", n)
	}
}
