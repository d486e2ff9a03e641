package pb_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

type silentRoot struct{ pb.Referenceable }

// RemotePing never answers while the connection lives.
func (silentRoot) RemotePing(ctx context.Context) { <-ctx.Done() }

func TestProbeClosesSilentPeer(t *testing.T) {
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return &silentRoot{} }})
	b := dial(t, addr, nil)
	b.StartProbe(&pb.Probe{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond})
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the probe did not close the connection")
	}
	if !errors.Is(b.Err(), pb.ErrPeerSilent) {
		t.Errorf("Err = %v, want ErrPeerSilent", b.Err())
	}
}

func TestProbeKeepsAnsweringPeer(t *testing.T) {
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return &paramsObj{} }})
	b := dial(t, addr, nil)
	// paramsObj has no ping: the error answer proves it alive.
	b.StartProbe(&pb.Probe{Interval: 20 * time.Millisecond, Timeout: 5 * time.Second})
	time.Sleep(300 * time.Millisecond)
	if err := b.Err(); err != nil {
		t.Fatalf("the probe closed a live connection: %v", err)
	}
}

type sessionMind struct{ pb.Referenceable }

func (sessionMind) RemoteHello() string { return "mind" }

// A Session logs in again after its server restarts on the same
// address, runs OnConnect each time, and gives up on a bad password.
func TestSessionReconnects(t *testing.T) {
	var minds atomic.Int32
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		if m, ok := mind.(*pb.RemoteReference); ok {
			if v, err := m.CallRemote(ctx, "hello"); err == nil && v == "mind" {
				minds.Add(1)
			}
		}
		return &avatar{name: id}, nil, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"user": "pw"}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	start := func(ln net.Listener) *pb.Server {
		srv := pb.NewServer(&pb.Config{Portal: portal})
		go srv.Serve(ln)
		return srv
	}
	srv := start(ln)
	connected := make(chan string, 8)
	s := pb.NewSession(addr, &pb.SessionConfig{
		Credentials: &cred.UsernamePassword{Username: "user", Password: []byte("pw")},
		Mind:        &sessionMind{},
		MinDelay:    20 * time.Millisecond,
		MaxDelay:    200 * time.Millisecond,
		OnConnect: func(ctx context.Context, b *pb.Broker, av *pb.RemoteReference) error {
			who, err := av.CallRemote(ctx, "whoami")
			if err != nil {
				return err
			}
			connected <- who.(string)
			return nil
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	for i := 0; i < 3; i++ {
		select {
		case who := <-connected:
			if who != "user" {
				t.Fatalf("avatar %q", who)
			}
		case <-ctx.Done():
			t.Fatalf("connection %d never came", i+1)
		}
		_, av, err := s.Avatar(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := av.CallRemote(ctx, "whoami"); err != nil || v != "user" {
			t.Fatalf("Avatar call: %v %v", v, err)
		}
		srv.Close() // a restart: same address, a new server
		if ln, err = net.Listen("tcp", addr); err != nil {
			t.Fatal(err)
		}
		srv = start(ln)
	}
	<-connected
	if n := minds.Load(); n != 4 {
		t.Errorf("realm saw the mind %d times, want 4", n)
	}
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	srv.Close()

	// A refused login ends Run.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer start(ln).Close()
	bad := pb.NewSession(ln.Addr().String(), &pb.SessionConfig{
		Credentials: &cred.UsernamePassword{Username: "user", Password: []byte("wrong")},
		MinDelay:    10 * time.Millisecond,
	})
	err = bad.Run(ctxT(t))
	if !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("Run with a bad password = %v", err)
	}
}
