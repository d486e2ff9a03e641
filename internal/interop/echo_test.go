package interop

import (
	"net"
	"testing"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/pb"
)

// TestPythonClientAgainstGoEchoServer runs Twisted's client battery
// (every value type, kwargs, errors, references, callbacks, Copyable
// and Cacheable) against the Go echo service.
func TestPythonClientAgainstGoEchoServer(t *testing.T) {
	checks := pypeer.RunEchoClient(t, startGoEcho(t))
	if len(checks) < 20 {
		t.Fatalf("only %d checks ran", len(checks))
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
}

// startGoEcho serves the Go echo service on 127.0.0.1 for the test and
// returns its address.
func startGoEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(echo.Config())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
