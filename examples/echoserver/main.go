// Command echoserver serves the echo service over Perspective Broker:
// echo, echoKw, fail, ref (a child with add), same, callback, point,
// pointSum, counter and increment. Its Python twin is
// internal/pypeer/py/echo_server.py; the interop tests drive a copy of
// this service in internal/echo.
//
//	go run ./examples/echoserver -addr 127.0.0.1:8789
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gospread/spread/pb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8789", "listen address, HOST:PORT (port 0 picks one)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	cfg, err := config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	srv := pb.NewServer(cfg)
	// The first line names the port, so that tests can start it on port 0.
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	slog.Info("echoserver: serving", "addr", ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != pb.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	slog.Info("echoserver: stopped")
}
