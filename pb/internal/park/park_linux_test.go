//go:build linux

package park

import (
	"net"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); client.Close() })
	return c.(*net.TCPConn), client
}

// TestParkedSocketWakes parks a socket: nothing happens while it is
// silent, and its owner is woken once when data arrives.
func TestParkedSocketWakes(t *testing.T) {
	woken := make(chan int, 4)
	p := New(func(n int) { woken <- n })
	srv, cli := tcpPair(t)
	raw, err := srv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var s Slot[int]
	s.Init(raw, 7)
	if !p.Park(&s) {
		t.Fatal("Park failed")
	}
	if p.Count() != 1 {
		t.Fatalf("Count %d, want 1", p.Count())
	}
	select {
	case n := <-woken:
		t.Fatalf("woken (%d) with nothing to read", n)
	case <-time.After(50 * time.Millisecond):
	}
	cli.Write([]byte("x"))
	select {
	case n := <-woken:
		if n != 7 {
			t.Fatalf("woke owner %d, want 7", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not woken after data arrived")
	}
	if p.Count() != 0 {
		t.Fatalf("Count %d after the wake, want 0", p.Count())
	}
	// The socket can be parked again after a wake, and still holds the byte.
	s.Init(raw, 8)
	if !p.Park(&s) {
		t.Fatal("second Park failed")
	}
	select {
	case n := <-woken:
		if n != 8 {
			t.Fatalf("woke owner %d, want 8", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a parked socket with unread data was not woken")
	}
}

// TestUnparkedSocketDoesNotWake unparks before data arrives: the owner
// is never woken, and the socket can be parked again.
func TestUnparkedSocketDoesNotWake(t *testing.T) {
	woken := make(chan int, 4)
	p := New(func(n int) { woken <- n })
	srv, cli := tcpPair(t)
	raw, _ := srv.SyscallConn()
	var s Slot[int]
	s.Init(raw, 1)
	if !p.Park(&s) {
		t.Fatal("Park failed")
	}
	p.Unpark(&s)
	p.Unpark(&s) // twice is harmless
	if p.Count() != 0 {
		t.Fatalf("Count %d after Unpark, want 0", p.Count())
	}
	cli.Write([]byte("x"))
	select {
	case n := <-woken:
		t.Fatalf("an unparked socket woke its owner %d", n)
	case <-time.After(100 * time.Millisecond):
	}
	s.Init(raw, 2)
	if !p.Park(&s) {
		t.Fatal("Park after Unpark failed")
	}
	select {
	case n := <-woken:
		if n != 2 {
			t.Fatalf("woke owner %d, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not woken")
	}
}

// TestHangUpWakes: a peer that closes wakes the parked owner, so that
// its reader sees the end.
func TestHangUpWakes(t *testing.T) {
	woken := make(chan int, 1)
	p := New(func(n int) { woken <- n })
	srv, cli := tcpPair(t)
	raw, _ := srv.SyscallConn()
	var s Slot[int]
	s.Init(raw, 3)
	if !p.Park(&s) {
		t.Fatal("Park failed")
	}
	cli.Close()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("hang-up did not wake the owner")
	}
}

// TestNoSocketNoPark: a slot without a socket is never parked.
func TestNoSocketNoPark(t *testing.T) {
	p := New(func(int) {})
	var s Slot[int]
	if p.Park(&s) {
		t.Fatal("parked a slot without a socket")
	}
}
