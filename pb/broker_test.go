package pb_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/internal/jellytest"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// serve starts a Go server with cfg on 127.0.0.1 and returns its
// address; it is closed when the test ends.
func serve(t testing.TB, cfg *pb.Config) (*pb.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(cfg)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func dial(t testing.TB, addr string, cfg *pb.Config) *pb.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := pb.Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEchoValuesGoToGo(t *testing.T) {
	_, addr := serve(t, echo.Config())
	b := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)
	big1, _ := new(big.Int).SetString("18446744073709551616", 10)
	d := jelly.NewDict()
	d.Set("k", int64(1))
	d.Set([]byte("b"), jelly.Tuple{int64(1), int64(2)})
	values := []any{
		nil, true, false, int64(0), int64(-1), int64(1 << 40), big1, 1.5,
		"", "héllo", []byte{}, []byte("list"), []any{int64(1), "x"},
		jelly.Tuple{int64(1), jelly.Tuple{}}, d, jelly.NewSet(int64(1), int64(2)),
	}
	for _, v := range values {
		got, err := b.Root().CallRemote(ctx, "echo", v)
		if err != nil {
			t.Fatalf("echo(%#v): %v", v, err)
		}
		if !jellytest.Equal(got, v) {
			t.Errorf("echo(%#v) = %#v", v, got)
		}
	}
}

func TestCallsKwargsErrorsAndRefs(t *testing.T) {
	_, addr := serve(t, echo.Config())
	b := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)
	root := b.Root()

	got, err := root.CallRemote(ctx, "echoKw", "x")
	if err != nil || !reflect.DeepEqual(got, []any{"x", "default"}) {
		t.Fatalf("echoKw(x) = %#v, %v", got, err)
	}
	got, err = root.CallRemote(ctx, "echoKw", "x", pb.Kw{"b": int64(7)})
	if err != nil || !reflect.DeepEqual(got, []any{"x", int64(7)}) {
		t.Fatalf("echoKw(x, b=7) = %#v, %v", got, err)
	}
	_, err = root.CallRemote(ctx, "fail", "boom")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "boom" || !re.Check("builtins.Exception") {
		t.Fatalf("fail(boom) = %v", err)
	}
	_, err = root.CallRemote(ctx, "nosuch")
	if !errors.As(err, &re) || re.Type != "twisted.spread.flavors.NoSuchMethod" || re.Value != "No such method: remote_nosuch" {
		t.Fatalf("nosuch() = %v", err)
	}
	refv, err := root.CallRemote(ctx, "ref")
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := refv.(*pb.RemoteReference)
	if !ok {
		t.Fatalf("ref() = %#v", refv)
	}
	sum, err := ref.CallRemote(ctx, "add", int64(2), int64(3))
	if err != nil || sum != int64(5) {
		t.Fatalf("add(2, 3) = %v, %v", sum, err)
	}
	_, err = ref.CallRemote(ctx, "add", int64(2))
	if !errors.As(err, &re) || re.Type != "builtins.TypeError" {
		t.Fatalf("add(2) = %v", err)
	}
	_, err = ref.CallRemote(ctx, "add", "a", int64(2))
	if !errors.As(err, &re) || re.Type != "builtins.TypeError" {
		t.Fatalf("add('a', 2) = %v", err)
	}
	same, err := root.CallRemote(ctx, "same", ref)
	if err != nil || same != true {
		t.Fatalf("same(ref) = %v, %v", same, err)
	}
	same, err = root.CallRemote(ctx, "same", int64(3))
	if err != nil || same != false {
		t.Fatalf("same(3) = %v, %v", same, err)
	}
	// The connection still works after every failure above.
	if v, err := root.CallRemote(ctx, "echo", "still"); err != nil || v != "still" {
		t.Fatalf("echo after failures = %v, %v", v, err)
	}
}

type clientObj struct{ pb.Referenceable }

func (c *clientObj) RemoteEcho(x any) any { return x }

func TestCallbackCopyableCacheable(t *testing.T) {
	_, addr := serve(t, echo.Config())
	b := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)
	root := b.Root()

	v, err := root.CallRemote(ctx, "callback", &clientObj{}, "hi")
	if err != nil || v != "hi" {
		t.Fatalf("callback = %v, %v", v, err)
	}
	p, err := root.CallRemote(ctx, "point", int64(1), int64(2))
	if err != nil {
		t.Fatal(err)
	}
	if pt, ok := p.(*echo.Point); !ok || pt.X != 1 || pt.Y != 2 {
		t.Fatalf("point(1, 2) = %#v", p)
	}
	s, err := root.CallRemote(ctx, "pointSum", &echo.Point{X: 3, Y: 4})
	if err != nil || s != int64(7) {
		t.Fatalf("pointSum = %v, %v", s, err)
	}
	cv, err := root.CallRemote(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := cv.(*echo.RemoteCounter)
	if !ok {
		t.Fatalf("counter() = %#v", cv)
	}
	n0 := rc.Value()
	n, err := root.CallRemote(ctx, "increment")
	if err != nil || n != n0+1 {
		t.Fatalf("increment = %v, %v", n, err)
	}
	select {
	case got := <-rc.Updates:
		if got != n0+1 {
			t.Fatalf("observer saw %d, want %d", got, n0+1)
		}
	case <-ctx.Done():
		t.Fatal("no cache update")
	}
	cv2, err := root.CallRemote(ctx, "counter")
	if err != nil || cv2 != cv {
		t.Fatalf("second counter() = %v (%v), want the same cache", cv2, err)
	}
}

func TestPendingCallsFailOnClose(t *testing.T) {
	block := make(chan struct{})
	var once sync.Once
	cfg := &pb.Config{Root: func(*pb.Broker) any { return &blocker{block: block} }}
	srv, addr := serve(t, cfg)
	b := dial(t, addr, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Root().CallRemote(context.Background(), "wait")
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	srv.Close()
	once.Do(func() { close(block) })
	select {
	case err := <-errc:
		if !errors.Is(err, pb.ErrConnectionLost) {
			t.Fatalf("pending call error = %v, want connection lost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending call did not fail")
	}
}

type blocker struct {
	pb.Referenceable
	block chan struct{}
}

// RemotePinger returns a second object, whose calls do not queue behind
// the root's.
func (b *blocker) RemotePinger() *pinger { return &pinger{} }

type pinger struct{ pb.Referenceable }

func (*pinger) RemotePing() string { return "pong" }

// RemoteWaiter returns an object whose wait blocks like the root's, in a
// queue of its own: calls to it start while the root's queue may still be
// winding down after its previous answer.
func (b *blocker) RemoteWaiter() *waiter { return &waiter{block: b.block} }

type waiter struct {
	pb.Referenceable
	block chan struct{}
}

func (w *waiter) RemoteWait(ctx context.Context) {
	select {
	case <-w.block:
	case <-ctx.Done():
	}
}

// blockerSession serves a blocker root (its wait blocks until block is
// closed) with a fresh memo of slow methods, dials it, and returns the
// client's references to the root's pinger and waiter.
func blockerSession(t *testing.T) (ctx context.Context, block chan struct{}, pinger, waiter *pb.RemoteReference) {
	t.Helper()
	pb.ForgetSlowCalls()
	t.Cleanup(pb.ForgetSlowCalls)
	block = make(chan struct{})
	root := &blocker{block: block}
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return root }})
	b := dial(t, addr, nil)
	ctx = ctxT(t)
	get := func(name string) *pb.RemoteReference {
		v, err := b.Root().CallRemote(ctx, name)
		r, ok := v.(*pb.RemoteReference)
		if err != nil || !ok {
			t.Fatalf("%s() = %v, %v", name, v, err)
		}
		return r
	}
	return ctx, block, get("pinger"), get("waiter")
}

// TestBlockedHandlerDoesNotStallReading: a call that arrives alone runs
// on the goroutine that read it; when it blocks, reading must go on
// elsewhere, so a later call to another object is answered while the
// first still blocks.
func TestBlockedHandlerDoesNotStallReading(t *testing.T) {
	ctx, block, p, w := blockerSession(t)
	waited := make(chan error, 1)
	go func() {
		_, err := w.CallRemote(ctx, "wait") // alone: runs on the reader
		waited <- err
	}()
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if v, err := p.CallRemote(ctx, "ping"); err != nil || v != "pong" {
			t.Fatalf("ping while wait blocks = %v, %v", v, err)
		}
	}
	select {
	case err := <-waited:
		t.Fatalf("wait returned before it was released: %v", err)
	default:
	}
	close(block)
	if err := <-waited; err != nil {
		t.Fatalf("wait: %v", err)
	}
	// wait outlasted the watchdog: it no longer runs on the reader (the
	// server notes that just after it has sent the answer), ping still
	// does.
	deadline := time.Now().Add(10 * time.Second)
	for pb.RunsInline(&waiter{}, "wait") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if pb.RunsInline(&waiter{}, "wait") || !pb.RunsInline(&pinger{}, "ping") {
		t.Errorf("runs inline: wait %v (want false), ping %v (want true)",
			pb.RunsInline(&waiter{}, "wait"), pb.RunsInline(&pinger{}, "ping"))
	}
}

func (b *blocker) RemoteWait(ctx context.Context) {
	select {
	case <-b.block:
	case <-ctx.Done():
	}
}

// TestSlowMethodForgiven: a method caught once on the reader (here
// marked by hand, as a pause of the whole process could) runs on
// workers, and inline again after enough quick calls there.
func TestSlowMethodForgiven(t *testing.T) {
	ctx, _, p, _ := blockerSession(t)
	pb.MarkSlow(&pinger{}, "ping")
	ping := func() {
		t.Helper()
		if v, err := p.CallRemote(ctx, "ping"); err != nil || v != "pong" {
			t.Fatalf("ping = %v, %v", v, err)
		}
	}
	for i := 0; i < pb.QuickRunsToForgive-1; i++ {
		ping()
	}
	time.Sleep(10 * time.Millisecond) // the server counts after it answers
	if pb.RunsInline(&pinger{}, "ping") {
		t.Fatalf("ping runs inline again after %d quick calls", pb.QuickRunsToForgive-1)
	}
	// Forgiven after 16 quick calls in a row; under -race on a busy
	// machine a call can take longer than a quick one, which starts the
	// count again, so allow some more.
	deadline := time.Now().Add(10 * time.Second)
	for n := pb.QuickRunsToForgive - 1; ; n++ {
		ping()
		time.Sleep(time.Millisecond) // the server counts after it answers
		if pb.RunsInline(&pinger{}, "ping") {
			break
		}
		if n >= 20*pb.QuickRunsToForgive || time.Now().After(deadline) {
			t.Fatalf("ping still not inline after %d quick calls", n+1)
		}
	}
}

// TestLoginRunsOffReader: the login root's and the challengers' calls,
// which call the Portal, never run on the reader.
func TestLoginRunsOffReader(t *testing.T) {
	if pb.LoginRunsInline() {
		t.Fatal("login calls may run on the reader")
	}
}

// RemoteQuick answers at once.
func (w *waiter) RemoteQuick() string { return "quick" }

// TestAnswersBeforeABlockedCallLeave pipelines quick calls and a call
// that blocks on one object. The reader runs quick calls itself and
// writes their answers once it is done with the calls of a read, so the
// answers made before the blocking call must still leave while it
// blocks; the call queued behind it must wait for it.
func TestAnswersBeforeABlockedCallLeave(t *testing.T) {
	ctx, block, p, w := blockerSession(t)
	var before []*pb.Future
	for i := 0; i < 20; i++ {
		f, err := w.CallRemoteAsync(ctx, "quick")
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, f)
	}
	waited, err := w.CallRemoteAsync(ctx, "wait")
	if err != nil {
		t.Fatal(err)
	}
	after, err := w.CallRemoteAsync(ctx, "quick")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range before {
		if v, err := f.Wait(ctx); err != nil || v != "quick" {
			t.Fatalf("quick call %d before wait = %v, %v", i, v, err)
		}
	}
	if v, err := p.CallRemote(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("ping while wait blocks = %v, %v", v, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if v, err := after.Wait(short); err == nil {
		t.Fatalf("the call queued behind wait answered before it: %v", v)
	}
	close(block)
	if _, err := waited.Wait(ctx); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

// TestIdleConnectionsPark lets both sides of a connection fall silent
// until their readers park (on Linux no goroutine then waits for the
// connection; elsewhere a fresh one does), then checks that calls still
// work in both directions, that a busy connection keeps working while
// its idle deadline passes again and again, and that hanging up a
// parked connection ends it on the other side.
func TestIdleConnectionsPark(t *testing.T) {
	defer pb.SetIdlePark(30 * time.Millisecond)()
	srv, addr := serve(t, echo.Config())
	b := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)
	root := b.Root()
	if v, err := root.CallRemote(ctx, "echo", "before"); err != nil || v != "before" {
		t.Fatalf("echo = %v, %v", v, err)
	}

	// Both readers (client and server) park once silent for 30 ms.
	parked := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if runtime.GOOS == "linux" {
				if n := pb.ParkedCount(); n >= want {
					return
				}
			} else {
				var sb strings.Builder
				pprof.Lookup("goroutine").WriteTo(&sb, 2)
				if n := strings.Count(sb.String(), "created by github.com/gospread/spread/pb.(*Broker).readFrom"); n >= want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d readers parked (%d on Linux)", want, pb.ParkedCount())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	parked(2)

	// The server calls back into the client's object, so both parked
	// readers must wake.
	v, err := root.CallRemote(ctx, "callback", &clientObj{}, "after")
	if err != nil || v != "after" {
		t.Fatalf("callback after parking = %v, %v", v, err)
	}
	// Busy across many deadlines: calls every few milliseconds.
	for i := 0; i < 40; i++ {
		if v, err := root.CallRemote(ctx, "echo", int64(i)); err != nil || v != int64(i) {
			t.Fatalf("echo %d = %v, %v", i, v, err)
		}
		time.Sleep(3 * time.Millisecond)
	}

	// Park again, then hang up: the server's parked reader wakes on the
	// hang-up and the connection ends there too.
	parked(2)
	if n := srv.Connections(); n != 1 {
		t.Fatalf("%d server connections, want 1", n)
	}
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server kept a parked connection the client closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseWhileDecoding closes a broker from code that runs while its
// reader decodes an answer (a registered type's function). The reader
// then holds the socket's read lock, which closing waits for: Close
// must still return, and the call must end.
func TestCloseWhileDecoding(t *testing.T) {
	_, addr := serve(t, echo.Config())
	var b atomic.Pointer[pb.Broker]
	closed := make(chan struct{})
	reg := jelly.NewRegistry()
	if err := reg.RegisterFunc(echo.PointTag, func(state any) (any, error) {
		b.Load().Close()
		close(closed)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	// Not dial: its cleanup would wait for a Close that hangs.
	br, err := pb.Dial(ctx, addr, &pb.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	b.Store(br)
	callDone := make(chan error, 1)
	go func() {
		_, err := br.Root().CallRemote(ctx, "point", int64(1), int64(2))
		callDone <- err
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close called while decoding did not return")
	}
	select {
	case <-callDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end after Close")
	}
	if _, err := br.Root().CallRemote(ctx, "echo", "x"); err == nil {
		t.Fatal("a call after Close succeeded")
	}
}

// TestLargeMessagesAcrossReads sends strings that take many full read
// buffers, between small calls, both ways: the reader reads on at once
// after a full buffer and waits for the poller after a partial one.
func TestLargeMessagesAcrossReads(t *testing.T) {
	_, addr := serve(t, echo.Config())
	b := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)
	for _, n := range []int{1, 16<<10 - 40, 16 << 10, 16<<10 + 1, 100 << 10, 250 << 10} {
		s := strings.Repeat("abcdefghij", n/10+1)[:n]
		v, err := b.Root().CallRemote(ctx, "echo", s)
		if err != nil {
			t.Fatalf("echo of %d bytes: %v", n, err)
		}
		if v != s {
			t.Fatalf("echo of %d bytes came back as %d bytes", n, len(fmt.Sprint(v)))
		}
		if v, err := b.Root().CallRemote(ctx, "echo", "small"); err != nil || v != "small" {
			t.Fatalf("echo after %d bytes = %v, %v", n, v, err)
		}
	}
}
