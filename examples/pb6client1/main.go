// Command pb6client1 is Twisted's pb6client1.py ("Authentication with
// Perspective Broker") in Go: it logs in to a pb6server as user1 with
// password pass1, prints
//
//	got perspective1 ref: <twisted.spread.pb.RemoteReference object at 0xc000012345>
//	asking it to foo(13)
//
// (the reference as Python's repr, with the Go address) and calls
// foo(13) on the avatar. Unlike the original, which runs until killed,
// it exits once the call has been answered: status 0, or 1 with the error
// on stderr. SIGINT or SIGTERM stop it early. Its servers are pb6server
// here and internal/pypeer/py/seed/pb6server.py.
//
//	go run ./examples/pb6client1 -addr 127.0.0.1:8800
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
		fmt.Fprintln(os.Stderr, "pb6client1:", err)
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
	fmt.Printf("got perspective1 ref: <twisted.spread.pb.RemoteReference object at %p>\n", perspective)
	fmt.Println("asking it to foo(13)")
	_, err = perspective.CallRemote(ctx, "foo", 13)
	return err
}
