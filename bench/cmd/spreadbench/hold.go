package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// holdMain opens n connections to a PB login server, logs each in with
// Twisted's challenge login (no mind) and holds them until SIGTERM, stdin
// EOF or -max-hold. It prints "READY <ok> <failed>" once every login has
// been tried. Used for the idle-connection measurement, so that the
// client side lives in processes other than the harness (each well under
// the 20,000 open-files limit).
func holdMain(args []string) int {
	fs := flag.NewFlagSet("hold", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 2000, "connections to hold")
	first := fs.Int("first", 0, "first user index")
	users := fs.Int("users", 1000, "user names wrap around at this count")
	conc := fs.Int("conc", 8, "logins in progress at once")
	maxHold := fs.Duration("max-hold", 10*time.Minute, "exit after this long in any case")
	fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *maxHold)
	defer cancel()
	type held struct {
		b *pb.Broker
		a *pb.RemoteReference
	}
	hs := make([]held, *n)
	var ok, failed atomic.Int64
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				user := fmt.Sprintf("user%d", (*first+i)%*users)
				var err error
				for attempt := 0; attempt < 3; attempt++ {
					lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
					var b *pb.Broker
					b, err = pb.Dial(lctx, *addr, nil)
					if err == nil {
						var a *pb.RemoteReference
						a, err = b.Login(lctx, &cred.UsernamePassword{Username: user, Password: []byte("pw")}, nil)
						if err == nil {
							hs[i] = held{b, a}
							lcancel()
							break
						}
						b.Close()
					}
					lcancel()
					time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "hold: first error:", e)
	}
	fmt.Printf("READY %d %d\n", ok.Load(), failed.Load())

	sig, stdinEOF := stopRequests()
	select {
	case <-sig:
	case <-stdinEOF:
	case <-ctx.Done():
	}
	// Exit without a graceful close: the kernel closes the sockets.
	return 0
}
