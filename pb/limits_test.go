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

type limChild struct {
	pb.Referenceable
	n int
}

func (c *limChild) RemotePing() string { return "pong" }

type limRoot struct {
	pb.Referenceable
	b     *pb.Broker
	mu    sync.Mutex
	n     int
	child *limChild

	gate    chan struct{} // slowNew waits for it
	started chan struct{} // slowNew says it started
}

func (r *limRoot) RemoteSlowNew() *limChild {
	r.started <- struct{}{}
	<-r.gate
	return r.next()
}

func (r *limRoot) next() *limChild {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return &limChild{n: r.n}
}

func (r *limRoot) RemoteNew() *limChild     { return r.next() }
func (r *limRoot) RemotePair() []any        { return []any{r.next(), r.next()} }
func (r *limRoot) RemoteChild() *limChild   { return r.child }
func (r *limRoot) RemoteTwice() []any       { return []any{r.child, r.child, r.child} }
func (r *limRoot) RemoteEcho(x any) any     { return x }
func (r *limRoot) RemoteIsChild(x any) bool { return x == any(r.child) }
func (r *limRoot) RemoteTooBig() []any      { return []any{r.next(), make([]byte, 700000)} }
func (r *limRoot) RemoteCount(ctx context.Context) int64 {
	return int64(pb.ExportCount(r.b))
}

// limServer serves a limRoot per connection and hands the test each
// connection's root (and so its server-side broker).
func limServer(t *testing.T, cfg *pb.Config) (string, <-chan *limRoot) {
	roots := make(chan *limRoot, 16)
	if cfg == nil {
		cfg = &pb.Config{}
	}
	cfg.Logger = testLogger()
	cfg.Root = func(b *pb.Broker) any {
		r := &limRoot{b: b, child: &limChild{}, gate: make(chan struct{}), started: make(chan struct{}, 1)}
		roots <- r
		return r
	}
	_, addr := serve(t, cfg)
	return addr, roots
}

// rootOf makes the first call on b (so the server builds the root) and
// returns that root.
func rootOf(t *testing.T, b *pb.Broker, roots <-chan *limRoot) *limRoot {
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

// eventually polls cond (bounded) and fails with msg if it never holds.
func eventually(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal(msg)
}

func TestMaxRefs(t *testing.T) {
	addr, roots := limServer(t, &pb.Config{MaxRefs: 4})
	b := dial(t, addr, nil)
	root := rootOf(t, b, roots)
	ctx := ctxT(t)
	var refs []*pb.RemoteReference
	for i := 0; i < 4; i++ {
		v, err := b.Root().CallRemote(ctx, "new")
		if err != nil {
			t.Fatalf("new() #%d: %v", i+1, err)
		}
		refs = append(refs, v.(*pb.RemoteReference))
	}
	_, err := b.Root().CallRemote(ctx, "new")
	var re *pb.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Value, "Maximum PB reference count exceeded") {
		t.Fatalf("fifth new() = %v, want a clear MaxRefs error", err)
	}
	// The connection stays usable, and the refused export left nothing
	// behind.
	if v, err := b.Root().CallRemote(ctx, "echo", "ok"); err != nil || v != "ok" {
		t.Fatalf("echo after the refusal: %v, %v", v, err)
	}
	if n := pb.ExportCount(root.b); n != 4 {
		t.Fatalf("server exports %d objects, want 4", n)
	}
	// An answer that fails half way (its first reference fits, its second
	// does not) must not leave the first exported: the peer never got it
	// and could never release it.
	refs[0].Release()
	eventually(t, "release did not reach the server", func() bool { return pb.ExportCount(root.b) == 3 })
	if _, err := b.Root().CallRemote(ctx, "pair"); !errors.As(err, &re) {
		t.Fatalf("pair() with one slot left = %v, want an error", err)
	}
	if n := pb.ExportCount(root.b); n != 3 {
		t.Fatalf("after a refused pair() the server exports %d objects, want 3 (a half-sent answer leaked an export)", n)
	}
	// Same for an answer that jelly accepts but banana cannot send.
	if _, err := b.Root().CallRemote(ctx, "tooBig"); !errors.As(err, &re) {
		t.Fatalf("tooBig() = %v, want an error", err)
	}
	if n := pb.ExportCount(root.b); n != 3 {
		t.Fatalf("after an unsendable answer the server exports %d objects, want 3", n)
	}
	for _, r := range refs[1:] {
		r.Release()
	}
	eventually(t, "releases did not reach the server", func() bool { return pb.ExportCount(root.b) == 0 })
	if _, err := b.Root().CallRemote(ctx, "new"); err != nil {
		t.Fatalf("new() after releasing: %v", err)
	}
}

func TestOutgoingCallLeaksNoExport(t *testing.T) {
	// A call whose arguments export a reference but then cannot be sent
	// must not leave the reference exported on the caller's side.
	addr, roots := limServer(t, nil)
	b := dial(t, addr, nil)
	rootOf(t, b, roots)
	_, err := b.Root().CallRemote(ctxT(t), "echo", &limChild{}, make([]byte, 700000))
	if err == nil {
		t.Fatal("a call with a 700000-byte string was sent")
	}
	if n := pb.ExportCount(b); n != 0 {
		t.Fatalf("the client exports %d objects after a call that was never sent", n)
	}
}

func TestReferenceOnWrongConnection(t *testing.T) {
	addr, roots := limServer(t, nil)
	b1 := dial(t, addr, nil)
	b2 := dial(t, addr, nil)
	rootOf(t, b1, roots)
	rootOf(t, b2, roots)
	ctx := ctxT(t)
	v, err := b1.Root().CallRemote(ctx, "child")
	if err != nil {
		t.Fatal(err)
	}
	ref := v.(*pb.RemoteReference)
	_, err = b2.Root().CallRemote(ctx, "echo", ref)
	if err == nil || !strings.Contains(err.Error(), "another") {
		t.Fatalf("sending a reference on another connection: %v, want a clear local error", err)
	}
	var re *pb.RemoteError
	if errors.As(err, &re) {
		t.Fatalf("the error came from the peer (%v); it must fail before sending", err)
	}
	if v, err := b2.Root().CallRemote(ctx, "echo", "fine"); err != nil || v != "fine" {
		t.Fatalf("b2 after the refusal: %v, %v", v, err)
	}
	// The same id forged on another connection is not that object.
	p := dialRaw(t, addr, 0)
	p.negotiate()
	p.send(message(1, ref.ID(), "ping", 1))
	p.expectError(1, "Invalid Object ID")
	// On its own connection the reference goes home as the original.
	if v, err := b1.Root().CallRemote(ctx, "isChild", ref); err != nil || v != true {
		t.Fatalf("isChild(ref) on its own connection = %v, %v", v, err)
	}
}

func TestDecrefSemantics(t *testing.T) {
	addr, roots := limServer(t, nil)
	b := dial(t, addr, nil)
	root := rootOf(t, b, roots)
	ctx := ctxT(t)

	// Duplicates of one remote in one answer: one proxy on the holder,
	// one live reference on the owner.
	v, err := b.Root().CallRemote(ctx, "twice")
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	r0, ok0 := l[0].(*pb.RemoteReference)
	r1, ok1 := l[1].(*pb.RemoteReference)
	r2, ok2 := l[2].(*pb.RemoteReference)
	if !ok0 || !ok1 || !ok2 || r0 != r1 || r1 != r2 {
		t.Fatalf("twice() = %#v, want one proxy three times", l)
	}
	if n := pb.ImportCount(b); n != 1 {
		t.Fatalf("client holds %d proxies, want 1", n)
	}
	eventually(t, "the owner's count did not settle at 1", func() bool { return pb.ExportRefs(root.b, root.child) == 1 })
	// Again, with the proxy already held: still one.
	if _, err := b.Root().CallRemote(ctx, "child"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the owner's count did not settle at 1", func() bool { return pb.ExportRefs(root.b, root.child) == 1 })
	if v, err := r0.CallRemote(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("ping = %v, %v", v, err)
	}

	// Release: the owner forgets the object; the proxy refuses calls
	// locally; the id is dead on the wire.
	id := r0.ID()
	if err := r0.Release(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the owner did not forget the object", func() bool { return pb.ExportRefs(root.b, root.child) == 0 })
	if pb.ImportCount(b) != 0 {
		t.Fatalf("client still holds %d proxies", pb.ImportCount(b))
	}
	if _, err := r0.CallRemote(ctx, "ping"); err == nil || !strings.Contains(err.Error(), "released") {
		t.Fatalf("call through a released proxy: %v", err)
	}
	if err := r0.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	// The server never saw a second decref: the count is not negative
	// and a fresh export works.
	v, err = b.Root().CallRemote(ctx, "child")
	if err != nil {
		t.Fatal(err)
	}
	fresh := v.(*pb.RemoteReference)
	if fresh.ID() == id {
		t.Fatalf("re-export reused id %d", id)
	}
	if pb.ExportRefs(root.b, root.child) != 1 {
		t.Fatalf("owner count %d after re-export, want 1", pb.ExportRefs(root.b, root.child))
	}
	if v, err := fresh.CallRemote(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("ping on the fresh proxy = %v, %v", v, err)
	}
}

func TestReleasedIdIsInvalidOnTheWire(t *testing.T) {
	addr, _ := limServer(t, nil)
	p := dialRaw(t, addr, 0)
	p.negotiate()
	p.send(message(1, "root", "child", 1))
	_, v := p.reply(1)
	id := v.([]any)[1].(int64)
	p.send(message(2, id, "ping", 1))
	if kind, v := p.reply(2); kind != "answer" {
		t.Fatalf("ping before decref: %s %s", kind, pyRepr(v))
	}
	p.send([]any{"decref", id})
	p.send(message(3, id, "ping", 1))
	p.expectError(3, "Invalid Object ID")
}

// unknownCopy is a Copyable no peer registers.
type unknownCopy struct{}

func (unknownCopy) JellyType() string { return "spread.test.Unknown" }
func (unknownCopy) JellyState() any   { return map[string]any{"a": int64(1)} }

func (r *limRoot) RemoteNewAndUnknown() []any { return []any{r.next(), unknownCopy{}} }
func (r *limRoot) RemoteMany(n int64) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = r.next()
	}
	return out
}
func (r *limRoot) RemoteTake(xs ...any) int64 { return int64(len(xs)) }

func TestFailedDecodeReleasesItsReferences(t *testing.T) {
	addr, roots := limServer(t, nil)
	b := dial(t, addr, nil)
	root := rootOf(t, b, roots)
	ctx := ctxT(t)

	// An answer the client cannot decode after it has met a reference:
	// the call fails, the connection stays, and the reference goes back.
	if _, err := b.Root().CallRemote(ctx, "newAndUnknown"); err == nil {
		t.Fatal("an answer with an unregistered Copyable decoded")
	}
	if n := pb.ImportCount(b); n != 0 {
		t.Fatalf("the client keeps %d proxies from an answer it could not decode", n)
	}
	eventually(t, "the server still exports the reference of an undecodable answer",
		func() bool { return pb.ExportCount(root.b) == 0 })

	// Arguments the server cannot decode after a reference: the
	// server answers with an error and gives the reference back.
	_, err := b.Root().CallRemote(ctx, "take", &limChild{}, unknownCopy{})
	var re *pb.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("take(child, unknown) = %v, want a remote error", err)
	}
	eventually(t, "the client still exports the reference of undecodable arguments",
		func() bool { return pb.ExportCount(b) == 0 })
	if v, err := b.Root().CallRemote(ctx, "echo", "alive"); err != nil || v != "alive" {
		t.Fatalf("echo after the failures: %v, %v", v, err)
	}
}

func TestAbandonedAnswerReleasesItsReferences(t *testing.T) {
	addr, roots := limServer(t, nil)
	b := dial(t, addr, nil)
	root := rootOf(t, b, roots)
	gate, started := root.gate, root.started
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Root().CallRemote(ctx, "slowNew")
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("slowNew after cancel: %v", err)
	}
	close(gate)
	// The late answer carries a reference nobody will use: the client
	// must give it back. A second call to the root is answered after
	// slowNew's late answer, so the client has seen that one by then.
	if _, err := b.Root().CallRemote(ctxT(t), "echo", int64(1)); err != nil {
		t.Fatal(err)
	}
	if pb.Abandoned(b) != 1 {
		t.Fatalf("%d answers abandoned, want 1", pb.Abandoned(b))
	}
	eventually(t, "the server still exports the reference of an abandoned answer",
		func() bool { return pb.ExportCount(root.b) == 0 })
	if n := pb.ImportCount(b); n != 0 {
		t.Fatalf("the client keeps %d proxies from an abandoned answer", n)
	}
}

func TestMaxImports(t *testing.T) {
	addr, roots := limServer(t, nil)
	b := dial(t, addr, &pb.Config{MaxImports: 3, Logger: testLogger()})
	rootOf(t, b, roots)
	ctx := ctxT(t)
	if v, err := b.Root().CallRemote(ctx, "many", int64(3)); err != nil || len(v.([]any)) != 3 {
		t.Fatalf("many(3) = %v, %v", v, err)
	}
	_, err := b.Root().CallRemote(ctx, "many", int64(2))
	if err == nil {
		t.Fatal("a fourth and fifth proxy were accepted with MaxImports 3")
	}
	// Exceeding MaxImports is a protocol error: the connection ends.
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the connection survived exceeding MaxImports (call error: %v)", err)
	}
	var pe *pb.ProtocolError
	if !errors.As(b.Err(), &pe) || !strings.Contains(pe.Error(), "3") {
		t.Fatalf("connection ended with %v, want a ProtocolError naming the limit", b.Err())
	}
}

func TestRefusedCallGivesBackArgumentReferences(t *testing.T) {
	// A call that fails before its handler runs (unknown target) still
	// gives back the references in its arguments: one decref per
	// occurrence, so the caller's export counts stay right.
	addr, _ := limServer(t, nil)
	p := dialRaw(t, addr, 0)
	p.negotiate()
	p.send([]any{"message", int64(1), int64(9999), "ping", int64(1),
		[]any{"tuple", []any{"remote", int64(7)}, []any{"remote", int64(7)}}, []any{"dictionary"}})
	decrefs, errs := 0, 0
	for decrefs+errs < 3 {
		e, err := p.rd.next()
		if err != nil {
			t.Fatal(err)
		}
		l, _ := e.v.([]any)
		switch {
		case len(l) == 2 && isWord(l[0], "decref") && l[1] == int64(7):
			decrefs++
		case len(l) == 3 && isWord(l[0], "error"):
			if _, v := failureText(l[2]); v != "Invalid Object ID" {
				t.Fatalf("error %q", v)
			}
			errs++
		default:
			t.Fatalf("unexpected %s", pyRepr(e.v))
		}
	}
	if decrefs != 2 || errs != 1 {
		t.Fatalf("%d decrefs and %d errors, want 2 and 1", decrefs, errs)
	}
	p.expectEcho(2)
}

func TestLogoutWhenTheAvatarIsNeverDelivered(t *testing.T) {
	var mu sync.Mutex
	logins, logouts := 0, 0
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		mu.Lock()
		logins++
		mu.Unlock()
		return &limChild{}, func() {
			mu.Lock()
			logouts++
			mu.Unlock()
		}, nil
	})
	cfg := &pb.Config{Logger: testLogger(), MaxRefs: 1,
		Portal: cred.NewPortal(realm, checkers.NewAnonymous())}
	_, addr := serve(t, cfg)
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return logins, logouts
	}
	p := dialRaw(t, addr, 0)
	p.negotiate()
	// loginAnonymous with answerRequired 0: the avatar is made and
	// dropped, so its logout must run.
	p.send([]any{"message", int64(1), "root", "loginAnonymous", int64(0), []any{"tuple", []any{"None"}}, []any{"dictionary"}})
	eventually(t, "logout did not run for an avatar nobody asked for", func() bool {
		in, out := counts()
		return in == 1 && out == 1
	})
	// A login whose avatar cannot be exported (MaxRefs 1 is used up by
	// the first real login) fails, and its avatar logs out.
	p.send([]any{"message", int64(2), "root", "loginAnonymous", int64(1), []any{"tuple", []any{"None"}}, []any{"dictionary"}})
	if kind, v := p.reply(2); kind != "answer" {
		t.Fatalf("first login: %s %s", kind, pyRepr(v))
	}
	p.send([]any{"message", int64(3), "root", "loginAnonymous", int64(1), []any{"tuple", []any{"None"}}, []any{"dictionary"}})
	p.expectError(3, "Maximum PB reference count exceeded")
	eventually(t, "logout did not run for an avatar that could not be exported", func() bool {
		in, out := counts()
		return in == 3 && out == 2
	})
}
