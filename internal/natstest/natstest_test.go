package natstest

import (
	"net"
	"testing"
	"time"
)

func TestStartStopStart(t *testing.T) {
	s := Start(t)
	dial := func() error {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("running server: %v", err)
	}
	s.Stop()
	if err := dial(); err == nil {
		t.Fatal("stopped server still accepts")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}
