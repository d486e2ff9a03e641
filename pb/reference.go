package pb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/gospread/spread/jelly"
)

// RemoteReference is a proxy for an object the peer owns: its root, a
// Referenceable, an avatar, a view point, or a client's mind.
//
// A proxy holds one reference on the peer. Call Release when it is no
// longer needed; the peer then forgets the object (for an avatar: logs
// the user out). Proxies die with their connection.
//
// Lifetime: a proxy received in a call's arguments (a progress
// listener, a callback) belongs to the receiver. It stays usable after
// the handler returns, for as long as the receiver keeps it, until the
// receiver calls Release or the connection ends; nothing releases it
// behind the receiver's back. Each connection has one proxy per peer
// object, so the same object received twice is the same
// *RemoteReference, and one Release gives it up. A receiver that keeps
// proxies should Release those it no longer needs (the peer counts them
// against its limits, Twisted's 1024 by default), and may use
// NotifyOnDisconnect to forget them when their connection ends.
type RemoteReference struct {
	b        *Broker
	id       int64
	root     bool
	released atomic.Bool
	dead     atomic.Bool
}

// Kw holds keyword arguments. Pass it as the last argument of
// CallRemote; keys travel as Python str in sorted order.
type Kw map[string]any

// Broker returns the connection the reference belongs to.
func (r *RemoteReference) Broker() *Broker { return r.b }

// ID returns the peer's id for the object ("root" has 0).
func (r *RemoteReference) ID() int64 { return r.id }

func (r *RemoteReference) String() string {
	if r.root {
		return "RemoteReference(root)"
	}
	return fmt.Sprintf("RemoteReference(%d)", r.id)
}

// CallRemote calls method on the remote object and waits for its
// answer, ctx's end, or the connection's end. A trailing Kw argument
// supplies keyword arguments. A failure on the peer returns a
// *RemoteError; a lost connection a *ConnectionLostError.
func (r *RemoteReference) CallRemote(ctx context.Context, method string, args ...any) (any, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	return r.b.call(ctx, verbMessage, r.objID(), method, args, true, nil)
}

// CallRemoteNoAnswer sends a call that the peer must not answer
// (Twisted's pbanswer=False). It returns once the call is queued.
func (r *RemoteReference) CallRemoteNoAnswer(method string, args ...any) error {
	if err := r.usable(); err != nil {
		return err
	}
	_, err := r.b.call(context.Background(), verbMessage, r.objID(), method, args, false, nil)
	return err
}

// NotifyOnDisconnect arranges for f to run, on its own goroutine, when
// the reference's connection ends (Twisted's
// RemoteReference.notifyOnDisconnect). If the connection has already
// ended, f runs at once. The returned stop cancels the notification
// (Twisted's dontNotifyOnDisconnect) and reports whether it did so
// before f started. Releasing the reference does not cancel it.
func (r *RemoteReference) NotifyOnDisconnect(f func()) (stop func() bool) {
	return context.AfterFunc(r.b.ctx, f)
}

// Release gives up this proxy: the peer receives decref. Later calls
// through it fail. Releasing the root or a released proxy does nothing.
func (r *RemoteReference) Release() error {
	if r.root || r.released.Swap(true) {
		return nil
	}
	b := r.b
	b.mu.Lock()
	if b.imports[r.id] == r {
		delete(b.imports, r.id)
	}
	closed := b.closed
	b.mu.Unlock()
	if closed || r.dead.Load() {
		return nil
	}
	return b.w.send([]any{verbDecref, r.id})
}

func (r *RemoteReference) usable() error {
	if r.released.Load() {
		return fmt.Errorf("pb: call through released %v", r)
	}
	if r.dead.Load() {
		return &ConnectionLostError{Cause: r.b.Err()}
	}
	return nil
}

func (r *RemoteReference) objID() any {
	if r.root {
		return "root"
	}
	return r.id
}

// pendingCall waits for one answer.
type pendingCall struct {
	ch chan result
}

type result struct {
	v   any
	err error
}

func (p *pendingCall) deliver(v any, err error) {
	select {
	case p.ch <- result{v, err}:
	default:
	}
}

// call sends one message (or cachemessage) and, if answer is set, waits.
func (b *Broker) call(ctx context.Context, verb string, obj any, method string, args []any, answer bool, perspective any) (any, error) {
	f, err := b.send(ctx, verb, obj, method, args, answer, perspective)
	if err != nil || !answer {
		return nil, err
	}
	return f.Wait(ctx)
}

// send queues one message (or cachemessage). Messages are queued in the
// order send is called. With answer set, the returned Future receives
// the reply.
func (b *Broker) send(ctx context.Context, verb string, obj any, method string, args []any, answer bool, perspective any) (*Future, error) {
	select {
	case <-b.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var kw Kw
	if n := len(args); n > 0 {
		if k, ok := args[n-1].(Kw); ok {
			kw = k
			args = args[:n-1]
		}
	}
	opts, refs := b.outgoing(perspective)
	var kwSexp any
	argsSexp, err := jelly.Marshal(jelly.Tuple(args), opts)
	if err == nil {
		kwSexp, err = jelly.Marshal(kwDict(kw), opts)
	}
	if err != nil {
		refs.rollback()
		if errors.Is(err, ErrClosed) {
			// Exporting a reference found the connection closed.
			return nil, &ConnectionLostError{Cause: b.Err()}
		}
		return nil, err
	}
	f := &Future{b: b}
	b.mu.Lock()
	if b.closed {
		err := b.closeErr
		b.mu.Unlock()
		return nil, &ConnectionLostError{Cause: err}
	}
	b.nextReq++
	f.req = b.nextReq
	flag := int64(0)
	if answer {
		flag = 1
		f.p = &pendingCall{ch: make(chan result, 1)}
		if b.pending == nil {
			b.pending = make(map[int64]*pendingCall)
		}
		b.pending[f.req] = f.p
	}
	// Queue under b.mu so that request ids reach the wire in order.
	err = b.w.send([]any{verb, f.req, obj, method, flag, argsSexp, kwSexp})
	b.mu.Unlock()
	if err != nil {
		b.forgetPending(f.req)
		refs.rollback() // the peer never saw these ids
		return nil, err
	}
	return f, nil
}

func (b *Broker) forgetPending(req int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.pending[req]; ok {
		delete(b.pending, req)
		return true
	}
	return false
}

func kwDict(kw Kw) *jelly.Dict {
	d := jelly.NewDict()
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Set(k, kw[k])
	}
	return d
}

// reply handles an answer or error from the peer.
func (b *Broker) reply(l []any, isError bool) error {
	req, ok := l[1].(int64)
	if !ok {
		return protoErr(nil, "reply with a non-int request id")
	}
	b.mu.Lock()
	p := b.pending[req]
	delete(b.pending, req)
	issued := b.nextReq
	b.mu.Unlock()
	if p == nil {
		if req >= 1 && req <= issued {
			// The caller gave up (ctx) or the call was fire-and-forget.
			// Nobody gets the value; give back its references.
			b.discard(l[2])
			return nil
		}
		return protoErr(nil, "reply to request %d that was never sent", req)
	}
	opts, refs := b.incoming()
	v, err := jelly.Unmarshal(l[2], opts)
	if err != nil {
		refs.releaseImports()
		var pe *ProtocolError
		if errors.As(err, &pe) {
			p.deliver(nil, pe)
			return pe // e.g. more than MaxImports references
		}
		p.deliver(nil, fmt.Errorf("pb: decoding the answer: %w", err))
		return nil
	}
	if isError {
		p.deliver(nil, failureError(v))
		return nil
	}
	p.deliver(v, nil)
	return nil
}
