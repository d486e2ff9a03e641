package pb_test

import (
	"errors"
	"testing"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// A Config's Registry is the caller's: using it for a server and a
// client registers nothing in it, and failures still arrive as
// *RemoteError on a broker that uses it.
func TestConfigRegistryIsNotWrittenTo(t *testing.T) {
	const failureClass = "twisted.spread.pb.CopyableFailure"
	srvReg, cliReg := jelly.NewRegistry(), jelly.NewRegistry()
	cfg := &pb.Config{Root: func(*pb.Broker) any { return echo.NewRoot() }, Registry: srvReg, Logger: discard()}
	_, addr := serve(t, cfg)
	b := dial(t, addr, &pb.Config{Registry: cliReg, Logger: discard()})
	_, err := b.Root().CallRemote(ctxT(t), "fail", "no")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "no" {
		t.Fatalf("fail(no) = %v, want a RemoteError ValueError('no')", err)
	}
	for name, r := range map[string]*jelly.Registry{"server": srvReg, "client": cliReg} {
		if r.Allowed(failureClass) {
			t.Errorf("the %s's Registry was written to: it allows %s", name, failureClass)
		}
	}
}
