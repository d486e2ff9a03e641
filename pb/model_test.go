package pb_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
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

// dispatchMap is a root whose Go type cannot be a map key.
type dispatchMap map[string]func() any

func (d dispatchMap) Dispatch(ctx context.Context, c *pb.Call) (any, error) {
	if f, ok := d[c.Method]; ok {
		return f(), nil
	}
	return nil, pb.ValueError("no method " + c.Method)
}

// valueAvatar is an avatar passed by value that cannot be a map key.
type valueAvatar struct {
	Name   string
	Groups []string
}

type modelGroup struct{ pb.Viewable }

func (g *modelGroup) ViewName(p valueAvatar) string { return p.Name }

func (a valueAvatar) PerspectiveGroup() *modelGroup { return &modelGroup{} }
func (a valueAvatar) PerspectiveName() string       { return a.Name }

func TestUnhashableUserValues(t *testing.T) {
	// A root of a map type: calls are queued per object, and the queue
	// must not use the root as a map key (that panicked on the reader
	// goroutine and killed the process).
	_, addr := serve(t, &pb.Config{Logger: testLogger(), Root: func(*pb.Broker) any {
		return dispatchMap{"hello": func() any { return "hi" }}
	}})
	b := dial(t, addr, nil)
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		if v, err := b.Root().CallRemote(ctx, "hello"); err != nil || v != "hi" {
			t.Fatalf("hello() = %v, %v", v, err)
		}
	}
	if err := b.Sync(ctx, dispatchMap{}); err != nil {
		t.Fatal(err)
	}
}

func TestUnhashableAvatar(t *testing.T) {
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return valueAvatar{Name: "anon", Groups: []string{"g"}}, func() {}, nil
	})
	_, addr := serve(t, &pb.Config{Logger: testLogger(), Portal: cred.NewPortal(realm, checkers.NewAnonymous())})
	b := dial(t, addr, nil)
	ctx := ctxT(t)
	av, err := b.Login(ctx, cred.Anonymous{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := av.CallRemote(ctx, "name"); err != nil || v != "anon" {
		t.Fatalf("name() = %v, %v", v, err)
	}
	// A Viewable is exported per perspective; this perspective cannot be
	// a map key, so the export is refused with a clear error instead of
	// a panic.
	_, err = av.CallRemote(ctx, "group")
	var re *pb.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Value, "perspective of type") {
		t.Fatalf("group() = %v, want a clear refusal", err)
	}
	if v, err := av.CallRemote(ctx, "name"); err != nil || v != "anon" {
		t.Fatalf("name() after the refusal = %v, %v", v, err)
	}
}

func TestCallsAfterCloseFailAsConnectionLost(t *testing.T) {
	addr, roots := modelServer(t)
	b := dial(t, addr, nil)
	modelRootOf(t, b, roots)
	b.Close()
	ctx := ctxT(t)
	for _, args := range [][]any{{"plain"}, {&modelChild{}}} {
		_, err := b.Root().CallRemote(ctx, "echo", args...)
		if !errors.Is(err, pb.ErrConnectionLost) {
			t.Errorf("echo(%T) after Close = %v, want a connection-lost error", args[0], err)
		}
	}
}
