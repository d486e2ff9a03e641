package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gospread/spread/internal/natstest"
)

type nopHandler struct{}

func (nopHandler) Deliver(string, string, []byte) {}
func (nopHandler) Options(string, []byte)         {}

// A node that goes silent without a goodbye (its process killed) is
// taken for gone after Timeout, and comes back when it speaks again.
func TestSilentNodeIsReaped(t *testing.T) {
	n := natstest.Start(t)
	mk := func(node string) *Bus {
		b, err := New(&Config{Servers: []string{n.URL()}, Node: node, Heartbeat: 50 * time.Millisecond,
			Timeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close(context.Background()) })
		return b
	}
	a, k := mk("a"), mk("killed")
	k.AddMember("#g", "kim")
	wait := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	wait("a sees kim", func() bool { m := a.Members("#g"); return len(m) == 1 && m[0] == "kim" })
	// Cut k off as a kill would: no goodbye, no more heartbeats.
	k.closeOnce.Do(func() {
		k.closed.Store(true)
		close(k.done)
		k.wg.Wait()
		k.nc.Close()
	})
	d := wait("kim leaves a's list", func() bool { return len(a.Members("#g")) == 0 })
	if d < 150*time.Millisecond {
		t.Errorf("kim left after %v, before the 300ms timeout could pass", d)
	}
	if s := a.Stats(); s.NodesLost != 1 || s.Nodes != 0 {
		t.Errorf("a's stats: %+v", s)
	}
}
