package pb_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// Printer's plain methods take keyword arguments, as a Python
// remote_print(self, message, stream="stdout") would.
type Printer struct{ pb.Referenceable }

func (*Printer) RemotePrint(message, stream string) string { return stream + ": " + message }

// Job is bound from a Python dict such as
// {"command": ["make", "-j4"], "env": {"CC": "gcc"}}.
type Job struct {
	Command []string
	Env     map[string]string
}

func (*Printer) RemoteRun(job Job) string {
	return strings.Join(job.Command, " ") + " with CC=" + job.Env["CC"]
}

// ParamNames names the parameters of RemotePrint and RemoteRun.
func (*Printer) ParamNames() map[string][]string {
	return map[string][]string{
		"RemotePrint": {"message", "stream=stdout"},
		"RemoteRun":   {"job"},
	}
}

func ExampleParamNamer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Root: func(*pb.Broker) any { return &Printer{} }})
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	b, err := pb.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	root := b.Root()
	// print("hi"), print(message="hi", stream="stderr")
	a, _ := root.CallRemote(ctx, "print", "hi")
	k, _ := root.CallRemote(ctx, "print", pb.Kw{"message": "hi", "stream": "stderr"})
	fmt.Println(a)
	fmt.Println(k)
	job := jelly.NewDict(
		jelly.Item{Key: "command", Value: []any{"make", "-j4"}},
		jelly.Item{Key: "env", Value: jelly.NewDict(jelly.Item{Key: "CC", Value: "gcc"})},
	)
	r, _ := root.CallRemote(ctx, "run", pb.Kw{"job": job})
	fmt.Println(r)
	job.Set("env", jelly.NewDict(jelly.Item{Key: "CC", Value: 3}))
	_, err = root.CallRemote(ctx, "run", job)
	fmt.Println(err)
	// Output:
	// stdout: hi
	// stderr: hi
	// make -j4 with CC=gcc
	// pb: remote builtins.TypeError: run() argument 'job': at ["env"]["CC"]: expected str, got int
}

func ExampleFailure() {
	f := pb.NewFailure("builtins.KeyError", "'missing.o'")
	fmt.Println(f.Check("builtins.LookupError"), f.ErrorMessage())
	g := pb.FailureOf(errors.New("disk full"))
	fmt.Println(g.Type, g.ErrorMessage())
	// Output:
	// true 'missing.o'
	// twisted.spread.pb.Error disk full
}

func ExampleSession() {
	// A server with one user.
	realm := cred.RealmFunc(func(_ context.Context, id string, _ any) (any, func(), error) {
		return &avatar{name: id}, nil, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"worker1": "secret"}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal})
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	s := pb.NewSession(ln.Addr().String(), &pb.SessionConfig{
		Credentials: &cred.UsernamePassword{Username: "worker1", Password: []byte("secret")},
		// Runs on every new connection, after the login.
		OnConnect: func(ctx context.Context, b *pb.Broker, avatar *pb.RemoteReference) error {
			who, err := avatar.CallRemote(ctx, "whoami")
			fmt.Println("logged in as", who)
			cancel() // this example stops after one connection
			return err
		},
	})
	err = s.Run(ctx) // reconnects until ctx ends or the login is refused
	fmt.Println(err)
	// Output:
	// logged in as worker1
	// context canceled
}

func ExampleRemoteReference_NotifyOnDisconnect() {
	addr, stop := startGreeter()
	defer stop()
	b, err := pb.Dial(context.Background(), addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	lost := make(chan struct{})
	b.Root().NotifyOnDisconnect(func() { close(lost) })
	b.Close()
	<-lost
	fmt.Println("disconnected")
	// Output: disconnected
}
