//go:build !race

// The race detector makes every frame bigger: this file measures real
// stack sizes, so it builds only without it (scripts/test runs it so).

package pb_test

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// TestReaderStacksStaySmall logs in many connections and measures the
// stack memory each one holds while it waits, before it parks: both
// readers (client and server). The readers decode inside
// RawConn.Read, so the decoding path's frames decide whether a reader's
// stack grows to the next size during a login; when it did, a burst of
// logins doubled the process's stack peak and raised the idle RSS per
// connection by a fifth (BENCHMARKS.md, step 16).
func TestReaderStacksStaySmall(t *testing.T) {
	defer pb.SetIdlePark(time.Minute)()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a GC would shrink grown stacks
	portal := userPortal()
	_, addr := serve(t, &pb.Config{Portal: portal, Logger: testLogger()})
	ctx := ctxT(t)
	creds := &cred.UsernamePassword{Username: "user", Password: []byte("pw")}
	warm := dial(t, addr, nil)
	if _, err := warm.Login(ctx, creds, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.StackInuse
	const n = 300
	for i := 0; i < n; i++ {
		b := dial(t, addr, nil)
		if _, err := b.Login(ctx, creds, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	runtime.ReadMemStats(&ms)
	per := float64(ms.StackInuse-before) / n
	t.Logf("stack per logged-in connection, both readers: %.0f B", per)
	// 12,561 B when this test was written (both readers at their usual
	// sizes), 16,602 B with the decoding path's frames 450 B deeper.
	if per > 14<<10 {
		t.Errorf("stack per logged-in connection is %.0f B, over 14 KB: a reader's stack grew to the next size (see rawReader)", per)
	}
}
