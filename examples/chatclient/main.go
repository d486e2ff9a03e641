// Command chatclient is the chat client of Twisted's PB documentation
// (chatclient.py) in Go: it logs in as alice, joins #NeedAFourth, sends
// one message to the group, prints what the group delivers, and exits.
//
//	go run ./examples/chatclient -addr 127.0.0.1:8800
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// client is the mind the server prints to.
type client struct{ pb.Referenceable }

func (c *client) RemotePrint(message string) { fmt.Println(message) }

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "chat server address, HOST:PORT")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "chatclient:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := pb.Dial(ctx, addr, &pb.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer b.Close()
	mind := &client{}
	// Keep the perspective: releasing it would log us out.
	perspective, err := b.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("1234")}, mind)
	if err != nil {
		return err
	}
	fmt.Println("connected, joining group #NeedAFourth")
	g, err := perspective.CallRemote(ctx, "joinGroup", "#NeedAFourth")
	if err != nil {
		return err
	}
	group, ok := g.(*pb.RemoteReference)
	if !ok {
		return fmt.Errorf("joinGroup returned %T", g)
	}
	fmt.Println("joined group, now sending a message to all members")
	if _, err := group.CallRemote(ctx, "send", "You can call me Al."); err != nil {
		return err
	}
	// The group printed to us before it answered; let that print run.
	return b.Sync(ctx, mind)
}
