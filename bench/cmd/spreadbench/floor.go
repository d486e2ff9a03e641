package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// The login floor: what a Go server spends on a login's TCP traffic
// alone. A PB challenge login moves these bytes (measured on the wire
// from Twisted, see shared/testdata/twisted/sessions/login_foo):
//
//	client -> server  login call (31), plus the decref of the last avatar (6)
//	server -> client  challenge answer (34)
//	client -> server  respond call (49) and the challenger's decref (6)
//	server -> client  the avatar's reference (12)
//
// The floor server answers each request with the number of bytes the
// request names. It reads the way Spread's reader does (inside
// RawConn.Read, waiting after a short read instead of reading again
// until EAGAIN), one goroutine per connection, and it writes at once: no
// decoding, no calls, no allocation. Its CPU per "login" is the kernel's
// and the Go runtime's share, which a Go PB server on this machine cannot
// go below.
var floorExchange = [][2]int{{31 + 6, 34}, {49 + 6, 12}}

// A floor request is [length, answer length, filler...]; the answer is
// answer-length bytes.
const floorMaxMsg = 255

func serveFloor(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go floorConn(c)
	}
}

func floorConn(c net.Conn) {
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	in := make([]byte, 4096)
	out := make([]byte, 0, 4096)
	have := 0
	done := false
	for !done {
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := syscall.Read(int(fd), in[have:])
				if err == syscall.EAGAIN {
					return false
				}
				if err != nil || n <= 0 {
					done = true
					return true
				}
				short := have+n < len(in)
				have += n
				out = out[:0]
				p := in[:have]
				for len(p) >= 2 && len(p) >= int(p[0]) {
					if p[0] < 2 {
						done = true
						return true
					}
					out = append(out, make([]byte, p[1])...)
					p = p[p[0]:]
				}
				have = copy(in, p)
				if len(out) > 0 {
					if _, err := c.Write(out); err != nil {
						done = true
						return true
					}
				}
				if short {
					return false // the socket is empty: wait for the next edge
				}
			}
		})
		if err != nil {
			return
		}
	}
}

// floorWorkers opens n connections to a floor server; each worker does
// one login's exchange.
func floorWorkers(ctx context.Context, addr string, n int) ([]func() error, func(), error) {
	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	var d net.Dialer
	var ws []func() error
	for i := 0; i < n; i++ {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, c)
		req := make([]byte, floorMaxMsg)
		resp := make([]byte, floorMaxMsg)
		ws = append(ws, func() error {
			for _, x := range floorExchange {
				req[0], req[1] = byte(x[0]), byte(x[1])
				if _, err := c.Write(req[:x[0]]); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, resp[:x[1]]); err != nil {
					if errors.Is(err, io.EOF) {
						err = fmt.Errorf("floor server closed the connection")
					}
					return err
				}
			}
			return nil
		})
	}
	return ws, closeAll, nil
}
