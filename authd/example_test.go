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

// Two authd processes (here, two servers) keep their state in one
// PostgreSQL database, and a broker names both: a ticket from either is
// good once through either, and the broker moves to the second when the
// first is lost.
func ExampleOpenSQLState() {
	ctx := context.Background()
	state, err := authd.OpenSQLState(ctx, os.Getenv("AUTHD_STATE")) // postgres://...
	if err != nil {
		fmt.Println(err)
		return
	}
	defer state.Close()
	services := authd.NewServices( /* the brokers' accounts */ )
	users := checkers.NewInMemory(map[string]string{"alice": "pw"})
	var addrs []string
	for range 2 {
		srv, err := authd.NewServer(&authd.Config{Users: users, Services: services, State: state})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer srv.Close()
		addrs = append(addrs, serveExample(&pb.Config{Portal: srv.Portal()}))
	}
	checker, err := authd.NewChecker(&authd.CheckerConfig{
		Addr:    addrs[0] + "," + addrs[1],
		Service: "chat", Secret: []byte(os.Getenv("SPREAD_SERVICE_SECRET")),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer checker.Close()
}
