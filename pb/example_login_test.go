package pb_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/pb"
)

// A refused login says why: wrong credentials, too many failed logins
// (with when to retry), or a server that cannot check logins now.
func ExampleBroker_Login_refused() {
	realm := cred.RealmFunc(func(_ context.Context, id string, _ any) (any, func(), error) {
		return &pb.Avatar{}, nil, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"alice": "wonderland"}))
	throttle := cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 2})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Portal: portal, Throttle: throttle, Logger: discard()})
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	b, err := pb.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for _, pw := range []string{"guess", "guess again", "wonderland"} {
		_, err := b.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte(pw)}, nil)
		var te *cred.ThrottledError
		switch {
		case errors.As(err, &te):
			fmt.Printf("throttled: retry in %ds\n", te.RetrySeconds())
		case errors.Is(err, cred.ErrUnavailable):
			fmt.Println("cannot check now")
		case errors.Is(err, cred.ErrUnauthorizedLogin):
			fmt.Println("wrong user name or password")
		}
	}
	// Output:
	// wrong user name or password
	// wrong user name or password
	// throttled: retry in 60s
}
