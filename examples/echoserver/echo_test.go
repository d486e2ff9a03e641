package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// The example's echo service answers as its Python twin does.
func TestEchoService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg, err := config()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(cfg)
	go srv.Serve(ln)
	defer srv.Close()

	reg := jelly.NewRegistry()
	if err := reg.Register(pointTag, &Point{}); err != nil {
		t.Fatal(err)
	}
	b, err := pb.Dial(ctx, ln.Addr().String(), &pb.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	root := b.Root()

	if v, err := root.CallRemote(ctx, "echo", "hello"); err != nil || v != "hello" {
		t.Errorf("echo = %v, %v", v, err)
	}
	v, err := root.CallRemote(ctx, "echoKw", pb.Kw{"a": int64(1)})
	if l, ok := v.([]any); err != nil || !ok || len(l) != 2 || l[0] != int64(1) || l[1] != "default" {
		t.Errorf("echoKw(a=1) = %#v, %v", v, err)
	}
	_, err = root.CallRemote(ctx, "fail", "no")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "no" {
		t.Errorf("fail = %v", err)
	}
	cv, err := root.CallRemote(ctx, "ref")
	child, ok := cv.(*pb.RemoteReference)
	if err != nil || !ok {
		t.Fatalf("ref = %#v, %v", cv, err)
	}
	if v, err := child.CallRemote(ctx, "add", 2, 3); err != nil || v != int64(5) {
		t.Errorf("add = %v, %v", v, err)
	}
	if v, err := root.CallRemote(ctx, "same", child); err != nil || v != true {
		t.Errorf("same(child) = %v, %v", v, err)
	}
	if v, err := root.CallRemote(ctx, "pointSum", &Point{X: 3, Y: 4}); err != nil || v != int64(7) {
		t.Errorf("pointSum = %v, %v", v, err)
	}
	pv, err := root.CallRemote(ctx, "point", 1, 2)
	if p, ok := pv.(*Point); err != nil || !ok || *p != (Point{1, 2}) {
		t.Errorf("point = %#v, %v", pv, err)
	}
}
