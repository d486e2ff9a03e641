package authd_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

type exampleAvatar struct {
	pb.Avatar
	name string
}

func (a *exampleAvatar) PerspectiveWhoami() string { return a.name }

// serveExample serves cfg on a loopback port and returns its address.
func serveExample(cfg *pb.Config) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go pb.NewServer(cfg).Serve(ln)
	return ln.Addr().String()
}

// A central authd, a broker that delegates to it, and a user who logs in
// once at authd and then at the broker with a ticket.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// authd: its users, and the service account of the broker "chat".
	dir, _ := os.MkdirTemp("", "authd-example")
	defer os.RemoveAll(dir)
	servicesFile := filepath.Join(dir, "services")
	secret := []byte("the chat broker's secret")
	if err := authd.AddService(servicesFile, "chat", secret); err != nil {
		panic(err)
	}
	services, err := authd.LoadServices(servicesFile)
	if err != nil {
		panic(err)
	}
	srv, err := authd.NewServer(&authd.Config{
		Users:    checkers.NewInMemory(map[string]string{"alice": "alice's password"}),
		Services: services,
		Logger:   log,
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	authdAddr := serveExample(&pb.Config{Portal: srv.Portal(), Logger: log})

	// The broker: its checker delegates to authd.
	checker, err := authd.NewChecker(&authd.CheckerConfig{Addr: authdAddr, Service: "chat", Secret: secret, Logger: log})
	if err != nil {
		panic(err)
	}
	defer checker.Close()
	checker.WaitConnected(ctx)
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return &exampleAvatar{name: id}, nil, nil
	})
	brokerAddr := serveExample(&pb.Config{Portal: cred.NewPortal(realm, checker), Logger: log})

	// The user: one login at authd, then any broker with a fresh ticket.
	client, err := authd.Login(ctx, authdAddr, &cred.UsernamePassword{Username: "alice", Password: []byte("alice's password")}, nil)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	b, avatar, err := client.Dial(ctx, brokerAddr, "chat", nil, nil)
	if err != nil {
		panic(err)
	}
	who, _ := avatar.CallRemote(ctx, "whoami")
	fmt.Println("logged in at the broker as", who)

	// Logging out at authd ends the broker session.
	client.Logout(ctx)
	<-b.Done()
	fmt.Println("broker session ended")
	// Output:
	// logged in at the broker as alice
	// broker session ended
}
