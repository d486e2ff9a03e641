// Package tcprelay is a TCP relay for tests that must break a
// connection on purpose: everything accepted on its address is copied
// to and from a target until Cut closes the listener and every relayed
// connection, and Restart listens again on the same address.
package tcprelay

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards the connections made to Addr to its target.
type Relay struct {
	t      testing.TB
	target string

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]bool
}

// Start listens on addr ("127.0.0.1:0" for any port) and relays to
// target until the test ends.
func Start(t testing.TB, addr, target string) *Relay {
	t.Helper()
	r := &Relay{t: t, target: target, addr: addr, conns: map[net.Conn]bool{}}
	r.Restart()
	t.Cleanup(r.Cut)
	return r
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Restart listens again on the relay's address after Cut.
func (r *Relay) Restart() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("tcprelay: %v", err)
	}
	r.ln, r.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.forward(c)
		}
	}()
}

func (r *Relay) forward(c net.Conn) {
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	if r.ln == nil { // cut while dialling
		r.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	r.conns[c], r.conns[up] = true, true
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	c.Close()
	up.Close()
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, up)
	r.mu.Unlock()
}

// Cut closes the listener and every relayed connection.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
}
