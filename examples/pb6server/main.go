// Command pb6server is Twisted's pb6server.py ("Authentication with
// Perspective Broker") in Go: a PB server whose portal knows two users,
// user1 (password pass1) and user2 (password pass2), and whose avatars
// have one remote method, foo. Each foo(arg) call prints, as the Python
// original does on Python 3 with Twisted 22.4,
//
//	I am b'user1' perspective_foo( 13 ) called on <__main__.MyPerspective object at 0xc000012345>
//	I am b'user2' perspective_foo( 14 ) called on <__main__.MyPerspective object at 0xc000012350>
//
// (the avatar id is shown as Python shows the bytes user name, the
// avatar as Python's repr with the Go address). Before anything else it
// prints "LISTENING <port>" (always, so that tests can start it on port
// 0). It stops on SIGINT or SIGTERM. Its clients are pb6client1 and
// pb6client2 here and internal/pypeer/py/seed/pb6client{1,2}.py; its
// Python twin is internal/pypeer/py/seed/pb6server.py.
//
//	go run ./examples/pb6server -addr 127.0.0.1:8800
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// MyPerspective is the avatar. name is what the Python original's
// avatarId is: the user name as bytes.
type MyPerspective struct {
	name any
}

// PerspectiveFoo is perspective_foo: it prints who was called with what.
func (p *MyPerspective) PerspectiveFoo(arg any) {
	fmt.Println("I am", jelly.PyStr(p.name), "perspective_foo(", jelly.PyStr(arg), ") called on", p)
}

// String is Python's default repr of the avatar.
func (p *MyPerspective) String() string {
	return fmt.Sprintf("<__main__.MyPerspective object at %p>", p)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "listen address, HOST:PORT (port 0 picks one)")
	flag.Parse()

	realm := cred.RealmFunc(func(ctx context.Context, avatarID string, mind any) (any, func(), error) {
		return &MyPerspective{name: []byte(avatarID)}, nil, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"user1": "pass1", "user2": "pass2"}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pb6server:", err)
		os.Exit(1)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal})
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != pb.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "pb6server:", err)
		os.Exit(1)
	}
}
