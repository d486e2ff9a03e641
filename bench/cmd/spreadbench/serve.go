package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cluster"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/pb"
)

// benchUsers returns user0..user<n-1>, every password "pw".
func benchUsers(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("user%d", i)] = "pw"
	}
	return m
}

// benchAvatar is the login benchmark's avatar, the twin of
// bench/py/login_server.py's.
type benchAvatar struct {
	pb.Avatar
	name string
}

func (a *benchAvatar) PerspectiveFoo(x any) []any { return []any{"foo", a.name, x} }

var benchRealm = cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
	return &benchAvatar{name: id}, nil, nil
})

// NetRPCEcho is the net/rpc echo service.
type NetRPCEcho struct{}

// Echo returns its argument.
func (NetRPCEcho) Echo(arg string, reply *string) error {
	*reply = arg
	return nil
}

// gRPC unary echo, written against grpc.ServiceDesc directly so that no
// generated code is needed; the messages are real protobuf messages
// (google.protobuf.StringValue) with gRPC's default proto codec.
type grpcEchoServer interface{}

const grpcEchoMethod = "/spreadbench.Echo/Echo"

var grpcEchoDesc = grpc.ServiceDesc{
	ServiceName: "spreadbench.Echo",
	HandlerType: (*grpcEchoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}},
	Streams: []grpc.StreamDesc{},
}

// serveMain runs one server: spreadbench serve -kind KIND. It prints
// "LISTENING <port>" once bound and serves until SIGTERM or stdin EOF.
func serveMain(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	kind := fs.String("kind", "echo", "echo | login | django | chat | grpc | netrpc | floor | web-bare | web-bare-headers | web-guard | web-scs | web-bare-ct | web-guard-ct | web-django | ticket | ticket-issue")
	users := fs.Int("users", 1000, "users user0..userN-1 (password pw) for login and chat")
	db := fs.String("db", "", "django: SQLite file (created with one user, bench/benchpass)")
	readOnly := fs.Bool("readonly", false, "django: Store.ReadOnly (no last_login write)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	maxUnauth := fs.Int("max-unauth-conns", 0, "login: pb.Limits.MaxUnauthConns (0: the default)")
	memprofile := fs.String("memprofile", "", "on SIGUSR1, write a heap profile to this file and goroutine stacks to FILE.goroutines")
	clusterURL := fs.String("cluster", "", "chat: join the brokers on this NATS URL")
	node := fs.String("node", "", "chat: this broker's node name in the cluster")
	fs.Parse(args)

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(quiet)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	var serve func() error
	switch *kind {
	case "echo":
		cfg := echo.Config()
		cfg.Logger = quiet
		srv := pb.NewServer(cfg)
		serve = func() error { return srv.Serve(ln) }
	case "login":
		portal := cred.NewPortal(benchRealm, checkers.NewInMemory(benchUsers(*users)))
		srv := pb.NewServer(&pb.Config{Portal: portal, Logger: quiet, Limits: &pb.Limits{MaxUnauthConns: *maxUnauth}})
		serve = func() error { return srv.Serve(ln) }
	case "django":
		if *db == "" {
			fmt.Fprintln(os.Stderr, "serve: -db is required for django")
			return 2
		}
		ctx := context.Background()
		st, err := djangostore.Open(ctx, "sqlite:"+*db, &djangostore.Config{ReadOnly: *readOnly})
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		if _, err := st.EnsureSchema(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		if err := st.AddUser(ctx, "bench", []byte("benchpass")); err != nil && !errors.Is(err, djangostore.ErrUserExists) {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		portal := cred.NewPortal(benchRealm, st)
		srv := pb.NewServer(&pb.Config{Portal: portal, Logger: quiet})
		serve = func() error { return srv.Serve(ln) }
	case "chat":
		cs := chat.NewServer(quiet)
		if *clusterURL != "" {
			bus, err := cs.JoinCluster(&cluster.Config{Servers: []string{*clusterURL}, Node: *node, Logger: quiet})
			if err != nil {
				fmt.Fprintln(os.Stderr, "serve:", err)
				return 1
			}
			defer bus.Close(context.Background())
		}
		portal := cred.NewPortal(cs, checkers.NewInMemory(benchUsers(*users)))
		srv := pb.NewServer(&pb.Config{Portal: portal, Logger: quiet})
		serve = func() error { return srv.Serve(ln) }
	case "grpc":
		gs := grpc.NewServer()
		gs.RegisterService(&grpcEchoDesc, struct{}{})
		serve = func() error { return gs.Serve(ln) }
	case "netrpc":
		rs := rpc.NewServer()
		if err := rs.Register(NetRPCEcho{}); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		serve = func() error { rs.Accept(ln); return nil }
	case "floor":
		serve = func() error { return serveFloor(ln) }
	case "web-bare", "web-bare-headers", "web-guard", "web-scs", "web-bare-ct", "web-guard-ct", "web-django":
		serve, err = serveWeb(*kind, ln, *db, *users, quiet)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
	case "ticket", "ticket-issue":
		ttl := time.Minute
		if *kind == "ticket-issue" {
			ttl = time.Nanosecond
		}
		if serve, err = serveTicket(ln, *users, ttl, quiet); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
	default:
		fmt.Fprintln(os.Stderr, "serve: unknown kind", *kind)
		return 2
	}

	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	sig, stdinEOF := stopRequests()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	for {
		select {
		case <-sig:
			if *memprofile != "" {
				writeMemProfile(*memprofile + ".exit")
			}
			return 0
		case <-stdinEOF:
			return 0
		case err := <-errc:
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		case <-usr1:
			if *memprofile != "" {
				writeMemProfile(*memprofile)
			}
			fmt.Println("PROFILED")
		}
	}
}

func writeMemProfile(path string) {
	runtime.GC()
	if f, err := os.Create(path); err == nil {
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if f, err := os.Create(path + ".goroutines"); err == nil {
		pprof.Lookup("goroutine").WriteTo(f, 1)
		f.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if f, err := os.Create(path + ".memstats"); err == nil {
		fmt.Fprintf(f, "HeapInuse %d\nHeapAlloc %d\nStackInuse %d\nStackSys %d\nSys %d\nHeapSys %d\nHeapIdle %d\nHeapReleased %d\nNumGoroutine %d\nMSpanInuse %d\nGCSys %d\nOtherSys %d\n",
			ms.HeapInuse, ms.HeapAlloc, ms.StackInuse, ms.StackSys, ms.Sys, ms.HeapSys, ms.HeapIdle, ms.HeapReleased, runtime.NumGoroutine(), ms.MSpanInuse, ms.GCSys, ms.OtherSys)
		f.Close()
	}
}
