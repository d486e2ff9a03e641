package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/pb"
)

type pingRoot struct{ pb.Referenceable }

func (pingRoot) RemotePing() string { return "pong" }

// serve runs a PB and an HTTP server side by side, and stops both when
// its context ends; an HTTP request in flight finishes first.
func TestServePBAndHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logb syncBuffer
	log := serverLogger(&logb)
	pbs := pb.NewServer(&pb.Config{Root: func(*pb.Broker) any { return pingRoot{} }})
	slow := make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(slow)
			time.Sleep(200 * time.Millisecond)
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})}
	o := serveOptions{listen: "127.0.0.1:0"}
	done := make(chan int, 1)
	go func() { done <- serve(ctx, log, "test", o.pbEndpoint(pbs, nil), httpEndpoint(hs, "127.0.0.1:0", nil)) }()

	addrs := map[string]string{}
	re := regexp.MustCompile(`msg="test: serving( http)?" addr=(\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for len(addrs) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not serving:\n%s", logb.String())
		}
		for _, m := range re.FindAllStringSubmatch(logb.String(), -1) {
			addrs[m[1]] = m[2]
		}
		time.Sleep(5 * time.Millisecond)
	}

	b, err := pb.Dial(ctx, addrs[""], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Root().CallRemote(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("ping = %v, %v", v, err)
	}
	resp, err := http.Get("http://" + addrs[" http"] + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok /x" {
		t.Fatalf("GET /x = %q", body)
	}

	// A request in flight when the signal comes still gets its answer.
	slowc := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addrs[" http"] + "/slow")
		if err != nil {
			slowc <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowc <- string(body)
	}()
	<-slow
	cancel()
	if got := <-slowc; got != "ok /slow" {
		t.Errorf("the request in flight got %q", got)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve = %d:\n%s", code, logb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Error("the PB connection was not closed")
	}
	for _, a := range addrs {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			t.Errorf("%s still accepts", a)
		}
	}
	if !strings.Contains(logb.String(), "test: stopped") {
		t.Errorf("no clean stop logged:\n%s", logb.String())
	}
}

// When one endpoint cannot listen, serve fails at once, without
// serving the others.
func TestServeListenFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var logb syncBuffer
	o := serveOptions{listen: "127.0.0.1:0"}
	code := serve(context.Background(), serverLogger(&logb), "test",
		o.pbEndpoint(pb.NewServer(nil), nil), httpEndpoint(&http.Server{}, busy.Addr().String(), nil))
	if code != 1 || !strings.Contains(logb.String(), "address already in use") {
		t.Errorf("serve = %d:\n%s", code, logb.String())
	}
}
