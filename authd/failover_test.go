package authd_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gospread/spread/authd"
)

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A checker skips an address that does not answer and connects to the
// next, at once (no backoff before every address was tried).
func TestCheckerAddresses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr, _ := startAuthd(t, authdOpts{})
	c, err := authd.NewChecker(&authd.CheckerConfig{Addr: deadAddr(t) + ", " + addr, Service: "a", Secret: secretA, Logger: quiet,
		MinDelay: 10 * time.Second, MaxDelay: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 4*time.Second { // a wait would be at least 5 s
		t.Errorf("connecting past a dead address took %v: it waited before trying the next", el)
	}
	for _, bad := range []string{"", "a,,b", ",a", "a, "} {
		if _, err := authd.NewChecker(&authd.CheckerConfig{Addr: bad, Service: "a", Secret: secretA}); err == nil {
			t.Errorf("NewChecker with Addr %q: no error", bad)
		}
	}
}
