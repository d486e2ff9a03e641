package main

import (
	"flag"
	"io"
	"testing"
	"time"
)

// The connection caps and timeouts of `spread chat serve` reach
// pb.Limits; unset ones stay zero (pb's defaults).
func TestServeOptionsLimits(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o serveOptions
	o.register(fs, "127.0.0.1:0")
	err := fs.Parse([]string{"--max-conns", "5000", "--max-unauth-conns", "900", "--max-unauth-conns-per-ip", "20",
		"--login-timeout", "15s", "--idle-timeout", "10m"})
	if err != nil {
		t.Fatal(err)
	}
	l := o.limits
	if l.MaxConns != 5000 || l.MaxUnauthConns != 900 || l.MaxUnauthConnsPerIP != 20 || l.MaxConnsPerIP != 0 ||
		l.LoginTimeout != 15*time.Second || l.IdleTimeout != 10*time.Minute || l.MessageTimeout != 0 {
		t.Fatalf("limits %+v", l)
	}
	if err := fs.Parse([]string{"--max-conns", "many"}); err == nil {
		t.Fatal("--max-conns many was accepted")
	}
}
