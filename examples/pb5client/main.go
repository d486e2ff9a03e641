// Command pb5client is Twisted's pb5client.py ("Authentication with
// Perspective Broker") in Go: it logs in to a pb5server as user1 with
// password pass1, prints
//
//	got perspective ref: <twisted.spread.pb.RemoteReference object at 0xc000012345>
//	asking it to foo(12)
//
// (the reference as Python's repr, with the Go address) and calls
// foo(12) on the avatar. Unlike the original, which runs until killed,
// it exits once the call has been answered: status 0, or 1 with the error
// on stderr. SIGINT or SIGTERM stop it early. Its servers are pb5server
// here and internal/pypeer/py/seed/pb5server.py.
//
//	go run ./examples/pb5client -addr 127.0.0.1:8800
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "server address, HOST:PORT")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "pb5client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string) error {
	b, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	perspective, err := b.Login(ctx, &cred.UsernamePassword{Username: "user1", Password: []byte("pass1")}, nil)
	if err != nil {
		return err
	}
	fmt.Printf("got perspective ref: <twisted.spread.pb.RemoteReference object at %p>\n", perspective)
	fmt.Println("asking it to foo(12)")
	_, err = perspective.CallRemote(ctx, "foo", 12)
	return err
}
