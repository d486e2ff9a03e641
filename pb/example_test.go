package pb_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"

	"github.com/gospread/spread/pb"
)

// Greeter is served by reference: its Remote methods can be called.
type Greeter struct {
	pb.Referenceable
}

// RemoteGreet is called as greet(name) by the peer.
func (g *Greeter) RemoteGreet(name string) string {
	return "hello, " + name
}

// GreetArgs binds positional and keyword arguments, with defaults.
type GreetArgs struct {
	Name     string `pb:"name"`
	Greeting string `pb:"greeting,default=hello"`
	Shout    bool   `pb:"shout,default=false"`
}

// RemoteGreetKw is called as greetKw(name, greeting="...", shout=False).
func (g *Greeter) RemoteGreetKw(a GreetArgs) string {
	s := a.Greeting + ", " + a.Name
	if a.Shout {
		s = strings.ToUpper(s)
	}
	return s
}

// startGreeter serves a Greeter as the root object on a loopback port.
func startGreeter() (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{
		Root: func(*pb.Broker) any { return &Greeter{} },
	})
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }
}

func ExampleServer() {
	// The server: every connection gets a Greeter as its root.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{
		Root: func(*pb.Broker) any { return &Greeter{} },
	})
	go srv.Serve(ln)
	defer srv.Close()

	// The client: dial and call the root's greet method.
	ctx := context.Background()
	b, err := pb.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	v, err := b.Root().CallRemote(ctx, "greet", "world")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output: hello, world
}

func ExampleRemoteReference_CallRemote() {
	addr, stop := startGreeter()
	defer stop()
	ctx := context.Background()
	b, err := pb.Dial(ctx, addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Positional arguments only: the defaults apply.
	v, err := b.Root().CallRemote(ctx, "greetKw", "Ada")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)

	// Keyword arguments go in a trailing pb.Kw, as Python's
	// ref.callRemote("greetKw", "Ada", greeting="hi", shout=True).
	v, err = b.Root().CallRemote(ctx, "greetKw", "Ada", pb.Kw{"greeting": "hi", "shout": true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)

	// A failure on the peer is a *pb.RemoteError with the Python type.
	_, err = b.Root().CallRemote(ctx, "greetKw", "Ada", pb.Kw{"colour": "red"})
	if re, ok := err.(*pb.RemoteError); ok {
		fmt.Println(re.Type)
	}
	// Output:
	// hello, Ada
	// HI, ADA
	// builtins.TypeError
}

// Room fans a message out to slow listeners; the order of its calls
// does not matter, so it lets the next call start at once.
type Room struct {
	pb.Referenceable
	mu    sync.Mutex
	gate  chan struct{}
	count int
}

// RemoteBroadcast blocks until the gate opens, but calls Go first, so
// that later calls to the room need not wait for it.
func (r *Room) RemoteBroadcast(ctx context.Context, msg string) string {
	pb.Go(ctx)
	<-r.gate
	return "delivered " + msg
}

// RemoteOpen opens the gate.
func (r *Room) RemoteOpen() string {
	close(r.gate)
	return "open"
}

func ExampleGo() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{
		Root: func(*pb.Broker) any { return &Room{gate: make(chan struct{})} },
	})
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	b, err := pb.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// broadcast blocks on the server; without pb.Go the open call
	// queued behind it on the same object would never start.
	f, err := b.Root().CallRemoteAsync(ctx, "broadcast", "hi")
	if err != nil {
		log.Fatal(err)
	}
	v, err := b.Root().CallRemote(ctx, "open")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	v, err = f.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output:
	// open
	// delivered hi
}
