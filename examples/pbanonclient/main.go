// Command pbanonclient is Twisted's pbAnonClient.py in Go: it connects
// to a pbanonserver and logs in twice on the one connection, first
// anonymously and then as user1 with password pass1, and calls foo(13) on
// each avatar.
//
// Like the original, which calls startLogging(stdout), it writes in the
// format of Twisted's log, with the same lines as the original running on
// Python 3 with Twisted 22.4:
//
//	2026-11-22 10:22:31+0000 [-] Log opened.
//	2026-11-22 10:22:31+0000 [-] Starting factory <twisted.spread.pb.PBClientFactory object at 0xc000012345>
//	2026-11-22 10:22:31+0000 [-] got perspective1 ref: <twisted.spread.pb.RemoteReference object at 0xc000012350>
//	2026-11-22 10:22:31+0000 [-] asking it to foo(13)
//	2026-11-22 10:22:31+0000 [-] got perspective1 ref: <twisted.spread.pb.RemoteReference object at 0xc000012360>
//	2026-11-22 10:22:31+0000 [-] asking it to foo(13)
//	2026-11-22 10:22:31+0000 [-] Stopping factory <twisted.spread.pb.PBClientFactory object at 0xc000012345>
//	2026-11-22 10:22:31+0000 [-] Main loop terminated.
//
// (objects as Python's repr, with Go addresses). The original starts both
// logins at once; this one runs them one after the other, which prints
// the same. A failed login or call is logged as "Anonymous login failed"
// or "Username/password login failed" followed by the error, and makes
// the exit status 1. SIGINT or SIGTERM stop it early. Its servers are
// pbanonserver here and internal/pypeer/py/seed/pbanonserver.py.
//
//	go run ./examples/pbanonclient -addr 127.0.0.1:8800
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// factory stands for the original's PBClientFactory in the log.
type factory struct{ b *pb.Broker }

func (f *factory) String() string {
	return fmt.Sprintf("<twisted.spread.pb.PBClientFactory object at %p>", f)
}

// logf writes one line as Twisted's log does.
func logf(format string, args ...any) {
	fmt.Printf("%s [-] %s\n", time.Now().Format("2006-01-02 15:04:05-0700"), fmt.Sprintf(format, args...))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8800", "server address, HOST:PORT")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logf("Log opened.")
	f := &factory{}
	logf("Starting factory %s", f)
	var err error
	f.b, err = pb.Dial(ctx, *addr, nil)

	failed := false
	logins := []struct {
		creds cred.Credentials
		msg   string
	}{
		{cred.Anonymous{}, "Anonymous login failed"},
		{&cred.UsernamePassword{Username: "user1", Password: []byte("pass1")}, "Username/password login failed"},
	}
	for _, l := range logins {
		e := err
		if e == nil {
			e = loginAndFoo(ctx, f.b, l.creds)
		}
		if e != nil {
			logf("%s", l.msg)
			logf("\t%v", e)
			failed = true
		}
	}
	if f.b != nil {
		f.b.Close()
	}
	logf("Stopping factory %s", f)
	logf("Main loop terminated.")
	if failed {
		os.Exit(1)
	}
}

// loginAndFoo logs in with creds and calls foo(13) on the avatar.
func loginAndFoo(ctx context.Context, b *pb.Broker, creds cred.Credentials) error {
	perspective, err := b.Login(ctx, creds, nil)
	if err != nil {
		return err
	}
	logf("got perspective1 ref: <twisted.spread.pb.RemoteReference object at %p>", perspective)
	logf("asking it to foo(13)")
	_, err = perspective.CallRemote(ctx, "foo", 13)
	return err
}
