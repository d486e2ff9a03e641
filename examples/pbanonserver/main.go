// Command pbanonserver is Twisted's pbAnonServer.py in Go: a PB server
// that admits both anonymous logins and the users user1 (password pass1)
// and user2 (password pass2). Every login gets a MyPerspective avatar
// named after the user, or "Anonymous"; its remote method foo(arg)
// prints which avatar was called with what.
//
// Like the original, which calls startLogging(stdout), it writes in the
// format of Twisted's log ("<date> <time><zone> [<system>] <message>"),
// with the same lines as the original running on Python 3 with Twisted
// 22.4:
//
//	2026-11-22 10:22:30+0000 [-] Log opened.
//	2026-11-22 10:22:30+0000 [-] PBServerFactory starting on 8800
//	2026-11-22 10:22:30+0000 [-] Starting factory <twisted.spread.pb.PBServerFactory object at 0xc000012345>
//	2026-11-22 10:22:31+0000 [-] I am Anonymous.  perspective_foo(13) called on <__main__.MyPerspective object at 0xc000012350>.
//	2026-11-22 10:22:31+0000 [-] I am b'user1'.  perspective_foo(13) called on <__main__.MyPerspective object at 0xc000012360>.
//	2026-11-22 10:22:32+0000 [-] Received SIGTERM, shutting down.
//	2026-11-22 10:22:32+0000 [twisted.spread.pb.PBServerFactory] (TCP Port 8800 Closed)
//	2026-11-22 10:22:32+0000 [-] Stopping factory <twisted.spread.pb.PBServerFactory object at 0xc000012345>
//	2026-11-22 10:22:32+0000 [-] Main loop terminated.
//
// (a user's name is shown as Python shows the bytes user name, objects
// as Python's repr with Go addresses). Before all of that it prints the
// bare line "LISTENING <port>" (always, so that tests can start it on
// port 0). It stops on SIGINT or SIGTERM. Its clients are pbanonclient
// here and internal/pypeer/py/seed/pbanonclient.py; its Python twin is
// internal/pypeer/py/seed/pbanonserver.py.
//
//	go run ./examples/pbanonserver -addr 127.0.0.1:8800
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// MyPerspective is the avatar of every login. name is what the Python
// original's avatarId is: the user name as bytes, or the str "Anonymous".
type MyPerspective struct {
	name any
}

// PerspectiveFoo is perspective_foo: it prints who was called with what.
func (p *MyPerspective) PerspectiveFoo(arg any) {
	logf("-", "I am %s.  perspective_foo(%s) called on %s.", jelly.PyStr(p.name), jelly.PyStr(arg), p)
}

// String is Python's default repr of the avatar.
func (p *MyPerspective) String() string {
	return fmt.Sprintf("<__main__.MyPerspective object at %p>", p)
}

// factory stands for the original's PBServerFactory in the log.
type factory struct{ srv *pb.Server }

func (f *factory) String() string {
	return fmt.Sprintf("<twisted.spread.pb.PBServerFactory object at %p>", f)
}

// logf writes one line as Twisted's log does.
func logf(system, format string, args ...any) {
	fmt.Printf("%s [%s] %s\n", time.Now().Format("2006-01-02 15:04:05-0700"), system, fmt.Sprintf(format, args...))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "listen address, HOST:PORT (port 0 picks one)")
	flag.Parse()

	realm := cred.RealmFunc(func(ctx context.Context, avatarID string, mind any) (any, func(), error) {
		if avatarID == cred.AnonymousID {
			return &MyPerspective{name: "Anonymous"}, nil, nil
		}
		return &MyPerspective{name: []byte(avatarID)}, nil, nil
	})
	// The username/password checker and the anonymous checker.
	users := checkers.NewInMemory(map[string]string{"user1": "pass1", "user2": "pass2"})
	portal := cred.NewPortal(realm, users, checkers.NewAnonymous())

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pbanonserver:", err)
		os.Exit(1)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	f := &factory{srv: pb.NewServer(&pb.Config{Portal: portal})}
	fmt.Printf("LISTENING %d\n", port)
	logf("-", "Log opened.")
	logf("-", "PBServerFactory starting on %d", port)
	logf("-", "Starting factory %s", f)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	stopped := make(chan struct{})
	go func() {
		sig := <-sigs
		name := "SIGTERM"
		if sig == os.Interrupt {
			name = "SIGINT"
		}
		logf("-", "Received %s, shutting down.", name)
		f.srv.Close()
		close(stopped)
	}()
	if err := f.srv.Serve(ln); err != nil && err != pb.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "pbanonserver:", err)
		os.Exit(1)
	}
	<-stopped
	logf("twisted.spread.pb.PBServerFactory", "(TCP Port %d Closed)", port)
	logf("-", "Stopping factory %s", f)
	logf("-", "Main loop terminated.")
}
