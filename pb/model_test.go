package pb_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/pb"
)

// modelRoot records the order its calls start in and offers handlers
// that block until the test lets them go.
type modelRoot struct {
	pb.Referenceable
	mu      sync.Mutex
	seen    []int64
	child   *modelChild
	started chan string   // a blocking handler has started
	release chan struct{} // closed by the test to let blockers return
	ctxDone chan struct{} // closed when a handler saw its ctx end

	waitDone bool // set when wait returns
}

type modelChild struct{ pb.Referenceable }

func (c *modelChild) RemotePing() string { return "pong" }

func newModelRoot() *modelRoot {
	return &modelRoot{
		child:   &modelChild{},
		started: make(chan string, 16),
		release: make(chan struct{}),
		ctxDone: make(chan struct{}),
	}
}

func (r *modelRoot) RemoteRecord(n int64) int64 {
	r.mu.Lock()
	r.seen = append(r.seen, n)
	r.mu.Unlock()
	return n
}

func (r *modelRoot) RemoteChild() *modelChild { return r.child }

func (r *modelRoot) RemoteEcho(x any) any { return x }

// RemoteWait blocks without calling Go.
func (r *modelRoot) RemoteWait(ctx context.Context) string {
	r.started <- "wait"
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.waitDone = true
	r.mu.Unlock()
	return "waited"
}

// RemoteWaitGo blocks after letting later calls start.
func (r *modelRoot) RemoteWaitGo(ctx context.Context) string {
	pb.Go(ctx)
	pb.Go(ctx) // twice does nothing
	r.started <- "waitGo"
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	return "waited"
}

// RemoteAfterWait reports whether wait had returned when it started.
func (r *modelRoot) RemoteAfterWait() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waitDone
}

func (r *modelRoot) RemotePanic() string { panic("kaboom") }

// RemoteUntilClosed returns when its ctx ends (the connection's end).
func (r *modelRoot) RemoteUntilClosed(ctx context.Context) {
	r.started <- "untilClosed"
	<-ctx.Done()
	close(r.ctxDone)
}

func modelServer(t *testing.T) (string, <-chan *modelRoot) {
	roots := make(chan *modelRoot, 4)
	cfg := &pb.Config{Logger: testLogger(), Root: func(*pb.Broker) any {
		r := newModelRoot()
		roots <- r
		return r
	}}
	_, addr := serve(t, cfg)
	return addr, roots
}

func modelRootOf(t *testing.T, b *pb.Broker, roots <-chan *modelRoot) *modelRoot {
	t.Helper()
	if _, err := b.Root().CallRemote(ctxT(t), "echo", int64(0)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-roots:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no root")
	}
	return nil
}

func waitStarted(t *testing.T, r *modelRoot, want string) {
	t.Helper()
	select {
	case got := <-r.started:
		if got != want {
			t.Fatalf("%s started, want %s", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not start", want)
	}
}

func TestCallsStartInArrivalOrder(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	root := modelRootOf(t, b, roots)
	ctx := ctxT(t)

	// 50 pipelined calls from one goroutine, answers collected after.
	const n = 50
	futures := make([]*pb.Future, n)
	for i := range futures {
		f, err := b.Root().CallRemoteAsync(ctx, "record", int64(i))
		if err != nil {
			t.Fatal(err)
		}
		futures[i] = f
	}
	for i, f := range futures {
		if v, err := f.Wait(ctx); err != nil || v != int64(i) {
			t.Fatalf("record(%d) = %v, %v", i, v, err)
		}
	}
	// 50 fire-and-forget calls and a final answered one.
	for i := n; i < 2*n; i++ {
		if err := b.Root().CallRemoteNoAnswer("record", int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Root().CallRemote(ctx, "record", int64(2*n)); err != nil {
		t.Fatal(err)
	}
	root.mu.Lock()
	seen := append([]int64(nil), root.seen...)
	root.mu.Unlock()
	if len(seen) != 2*n+1 {
		t.Fatalf("handler saw %d calls, want %d", len(seen), 2*n+1)
	}
	for i, v := range seen {
		if v != int64(i) {
			t.Fatalf("calls started out of order: %v", seen)
		}
	}
}

func TestBlockingHandlerDoesNotStallOtherObjects(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	root := modelRootOf(t, b, roots)
	ctx := ctxT(t)
	cv, err := b.Root().CallRemote(ctx, "child")
	if err != nil {
		t.Fatal(err)
	}
	child := cv.(*pb.RemoteReference)

	wait, err := b.Root().CallRemoteAsync(ctx, "wait")
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, root, "wait")
	// The root is busy; its child answers. (If it did not, this call
	// would hang until ctx's 10 s and fail.)
	if v, err := child.CallRemote(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("ping while the root blocks: %v, %v", v, err)
	}
	// A second call to the busy root waits for wait to return: it runs
	// after it.
	after, err := b.Root().CallRemoteAsync(ctx, "afterWait")
	if err != nil {
		t.Fatal(err)
	}
	close(root.release)
	if v, err := wait.Wait(ctx); err != nil || v != "waited" {
		t.Fatalf("wait = %v, %v", v, err)
	}
	if v, err := after.Wait(ctx); err != nil || v != true {
		t.Fatalf("afterWait = %v, %v; a call to the same object started before the previous one returned", v, err)
	}
}

func TestGoLetsTheNextCallStart(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	root := modelRootOf(t, b, roots)
	ctx := ctxT(t)
	waitGo, err := b.Root().CallRemoteAsync(ctx, "waitGo")
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, root, "waitGo")
	// Same object, while waitGo still blocks. (Without Go this would
	// hang until ctx ends.)
	if v, err := b.Root().CallRemote(ctx, "echo", "through"); err != nil || v != "through" {
		t.Fatalf("echo while waitGo blocks: %v, %v", v, err)
	}
	close(root.release)
	if v, err := waitGo.Wait(ctx); err != nil || v != "waited" {
		t.Fatalf("waitGo = %v, %v", v, err)
	}
}

func TestHandlerPanic(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	modelRootOf(t, b, roots)
	ctx := ctxT(t)
	_, err := b.Root().CallRemote(ctx, "panic")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.RuntimeError" || !re.Check("builtins.Exception") {
		t.Fatalf("panic() = %v, want a builtins.RuntimeError", err)
	}
	if re.Traceback != "Traceback unavailable\n" {
		t.Fatalf("a panic leaked a traceback by default: %q", re.Traceback)
	}
	// The connection and the object's call queue live on.
	for i := 0; i < 3; i++ {
		if v, err := b.Root().CallRemote(ctx, "echo", int64(i)); err != nil || v != int64(i) {
			t.Fatalf("echo after a panic: %v, %v", v, err)
		}
	}
}

func TestHandlerContextEndsWithConnection(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	root := modelRootOf(t, b, roots)
	f, err := b.Root().CallRemoteAsync(ctxT(t), "untilClosed")
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, root, "untilClosed")
	b.Close()
	select {
	case <-root.ctxDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end with the connection")
	}
	if _, err := f.Wait(ctxT(t)); !errors.Is(err, pb.ErrConnectionLost) {
		t.Fatalf("pending call after Close = %v, want connection lost", err)
	}
}

func TestCallContextEndsFirst(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	root := modelRootOf(t, b, roots)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Root().CallRemote(ctx, "wait")
		errc <- err
	}()
	waitStarted(t, root, "wait")
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("CallRemote after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CallRemote did not return when its ctx ended")
	}
	// The answer comes late and is dropped; the next call to the same
	// object is answered after it, on a working connection.
	close(root.release)
	if v, err := b.Root().CallRemote(ctxT(t), "afterWait"); err != nil || v != true {
		t.Fatalf("afterWait = %v, %v", v, err)
	}
	if n := pb.Abandoned(b); n != 1 {
		t.Fatalf("%d answers abandoned, want 1", n)
	}
	if err := b.Err(); err != nil {
		t.Fatalf("connection ended: %v", err)
	}
}
