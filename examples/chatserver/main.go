// Command chatserver is the chat server of Twisted's PB documentation
// (chatserver.py) in Go: users alice/1234, bob/secret and carol/fido,
// groups joined with joinGroup(groupname, allowMattress=True), messages
// delivered to every member's mind as "<name> says: message".
//
// It prints "LISTENING <port>" once it listens, so that tests can start
// it on port 0.
//
//	go run ./examples/chatserver -addr 127.0.0.1:8800
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "listen address, HOST:PORT")
	flag.Parse()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	realm := chat.NewServer(quiet)
	checker := checkers.NewInMemory(map[string]string{"alice": "1234", "bob": "secret", "carol": "fido"})
	portal := cred.NewPortal(realm, checker)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatserver:", err)
		os.Exit(1)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal, Logger: quiet})
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, pb.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "chatserver:", err)
		os.Exit(1)
	}
}
