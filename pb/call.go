package pb

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"unicode/utf8"

	"github.com/gospread/spread/jelly"
)

// Call describes one incoming call. Objects that implement Dispatcher
// receive it whole; reflection-dispatched methods see only their
// arguments.
type Call struct {
	// Method is the name the peer called, without prefix.
	Method string
	// Args are the positional arguments, decoded.
	Args []any
	// Kwargs are the keyword arguments (string keys), never nil.
	Kwargs *jelly.Dict
	// Perspective is the calling avatar for avatar and view calls.
	Perspective any
	// Broker is the connection the call came on.
	Broker *Broker
}

// Dispatcher is implemented by objects that want to handle calls
// themselves instead of by method reflection.
type Dispatcher interface {
	Dispatch(ctx context.Context, c *Call) (any, error)
}

type callKey struct{}

type callState struct {
	once    sync.Once
	release func()
}

// Go lets the calls queued behind the current call on the same object
// start now, before this handler returns. Handlers that block for long
// (a chat message fanning out to many minds, a call back into the peer)
// may use it when their order does not matter. Calling it outside a
// handler, or twice, does nothing.
func Go(ctx context.Context) {
	if s, ok := ctx.Value(callKey{}).(*callState); ok {
		s.once.Do(s.release)
	}
}

// serialQueue runs the calls to one object one after the other, in
// arrival order. A handler that calls Go lets the next one start.
type serialQueue struct {
	busy bool
	q    []func(st *callState)
}

// enqueue runs f when every earlier call on key has finished (or called
// Go).
func (b *Broker) enqueue(key any, f func(st *callState)) {
	key = queueKey(key) // the root or a RemoteCache may be unhashable
	b.mu.Lock()
	s := b.queues[key]
	if s == nil {
		s = &serialQueue{}
		b.queues[key] = s
	}
	if s.busy {
		s.q = append(s.q, f)
		b.mu.Unlock()
		return
	}
	s.busy = true
	b.mu.Unlock()
	go b.runQueued(key, s, f)
}

// dequeue takes the next call of s, or marks s idle and returns nil.
func (b *Broker) dequeue(key any, s *serialQueue) func(st *callState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(s.q) == 0 {
		s.busy = false
		if b.queues[key] == s {
			delete(b.queues, key)
		}
		return nil
	}
	next := s.q[0]
	s.q[0] = nil
	s.q = s.q[1:]
	return next
}

// runQueued runs f and then, on the same goroutine, the calls queued
// behind it, so that a pipeline of calls to one object costs no new
// goroutine per call. A handler that calls Go hands the queue to a new
// goroutine at that moment instead.
func (b *Broker) runQueued(key any, s *serialQueue, f func(st *callState)) {
	for f != nil {
		st := &callState{}
		st.release = func() {
			if next := b.dequeue(key, s); next != nil {
				go b.runQueued(key, s, next)
			}
		}
		f(st)
		f = nil
		st.once.Do(func() { f = b.dequeue(key, s) })
	}
}

// incomingCall handles message and cachemessage on the reader
// goroutine: it decodes the arguments in arrival order, then queues the
// handler.
func (b *Broker) incomingCall(l []any, cache bool) error {
	req, ok := l[1].(int64)
	if !ok {
		return protoErr(nil, "message with a non-int request id")
	}
	name, ok := wireText(l[3])
	if !ok || !utf8.ValidString(name) {
		return protoErr(nil, "method name is not a UTF-8 byte string")
	}
	answer := truthy(l[4])

	fail := func(err error) error {
		if answer {
			b.sendFailure(req, err)
		}
		return nil
	}

	target, perspective, err := b.target(l[2], cache)
	if err != nil {
		b.discard(l[5], l[6]) // give back references in the arguments
		return fail(err)
	}

	b.mu.Lock()
	if b.inflight >= b.cfg.MaxCallsInFlight {
		b.mu.Unlock()
		b.discard(l[5], l[6])
		b.cfg.log.Warn("pb: refusing call: too many in flight", "peer", b.conn.RemoteAddr().String(), "max", b.cfg.MaxCallsInFlight)
		return fail(&Error{Type: pyPBError, Message: fmt.Sprintf("too many calls in flight (max %d)", b.cfg.MaxCallsInFlight)})
	}
	b.inflight++
	b.mu.Unlock()

	c := &Call{Method: name, Perspective: perspective, Broker: b}
	args, kwargs, err := b.decodeArgs(l[5], l[6])
	if err != nil {
		b.callDone()
		var pe *ProtocolError
		if errors.As(err, &pe) {
			return pe // e.g. more than MaxImports references
		}
		return fail(err)
	}
	c.Args, c.Kwargs = args, kwargs

	b.enqueue(target, func(st *callState) {
		defer b.callDone()
		ctx := context.WithValue(b.ctx, callKey{}, st)
		v, err := b.invoke(ctx, target, c, cache)
		if !answer {
			if err != nil {
				b.logHandlerError(c, err)
			}
			if a, ok := v.(*avatarRef); ok {
				// A login nobody waits for (answerRequired 0): the avatar
				// never reaches the peer, so the session ends here.
				a.runLogout()
			}
			return
		}
		if err != nil {
			b.logHandlerError(c, err)
			b.sendFailure(req, err)
			return
		}
		opts, refs := b.outgoing(answerPerspective(target, perspective))
		sexp, err := jelly.Marshal(v, opts)
		if err != nil {
			refs.rollback()
			b.cfg.log.Error("pb: cannot encode answer", "method", name, "err", err)
			b.sendFailure(req, &Error{Type: pyPBError, Message: "cannot encode the answer: " + err.Error()})
			return
		}
		if err := b.w.send([]any{verbAnswer, req, sexp}); err != nil {
			refs.rollback()
			if !errors.Is(err, ErrClosed) {
				b.cfg.log.Error("pb: cannot send answer", "method", name, "err", err)
				b.sendFailure(req, &Error{Type: pyPBError, Message: "cannot encode the answer: " + err.Error()})
			}
		}
	})
	return nil
}

func (b *Broker) callDone() {
	b.mu.Lock()
	b.inflight--
	b.mu.Unlock()
}

func answerPerspective(target, perspective any) any {
	if a, ok := target.(*avatarRef); ok {
		return a.avatar
	}
	return perspective
}

func truthy(v any) bool {
	switch x := v.(type) {
	case int64:
		return x != 0
	case bool:
		return x
	case nil:
		return false
	}
	return true
}

// target finds the local object a message is for.
func (b *Broker) target(objID any, cache bool) (obj any, perspective any, err error) {
	invalid := &Error{Type: pyPBError, Message: "Invalid Object ID"}
	if cache {
		id, ok := objID.(int64)
		if !ok {
			return nil, nil, invalid
		}
		b.mu.Lock()
		h := b.caches[id]
		b.mu.Unlock()
		if h == nil {
			return nil, nil, invalid
		}
		return h.obj, nil, nil
	}
	switch id := objID.(type) {
	case []byte:
		if string(id) == "root" && b.isServer {
			return b.rootObject(), nil, nil
		}
		return nil, nil, invalid
	case int64:
		b.mu.Lock()
		e := b.exports[id]
		b.mu.Unlock()
		if e == nil || e.cache != nil {
			return nil, nil, invalid
		}
		switch o := e.obj.(type) {
		case *viewPoint:
			return o, o.perspective, nil
		case *avatarRef:
			return o, o.avatar, nil
		}
		return e.obj, nil, nil
	}
	return nil, nil, invalid
}

func (b *Broker) rootObject() any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.rootMade {
		b.rootMade = true
		switch {
		case b.cfg.Portal != nil:
			b.root = newLoginRoot(b)
		case b.cfg.Root != nil:
			b.root = b.cfg.Root(b)
		}
	}
	return b.root
}

// decodeArgs decodes a call's arguments. If that fails, the references
// met on the way are given back.
func (b *Broker) decodeArgs(argsSexp, kwSexp any) ([]any, *jelly.Dict, error) {
	opts, r := b.incoming()
	args, kw, err := decodeArgsWith(opts, argsSexp, kwSexp)
	if err != nil {
		r.releaseImports()
	}
	return args, kw, err
}

func decodeArgsWith(opts *jelly.Options, argsSexp, kwSexp any) ([]any, *jelly.Dict, error) {
	av, err := jelly.Unmarshal(argsSexp, opts)
	if err != nil {
		return nil, nil, err
	}
	var args []any
	switch a := av.(type) {
	case jelly.Tuple:
		args = []any(a)
	case []any:
		args = a
	default:
		return nil, nil, TypeError("arguments must be a tuple, not " + pyTypeName(av))
	}
	kv, err := jelly.Unmarshal(kwSexp, opts)
	if err != nil {
		return nil, nil, err
	}
	kw, ok := kv.(*jelly.Dict)
	if !ok {
		return nil, nil, TypeError("keyword arguments must be a dict, not " + pyTypeName(kv))
	}
	return args, kw, nil
}

// invoke runs the handler, turning a panic into an error.
func (b *Broker) invoke(ctx context.Context, target any, c *Call, cache bool) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			b.cfg.log.Error("pb: handler panicked", "method", c.Method, "panic", fmt.Sprint(p), "stack", string(stack))
			e := &panicError{value: fmt.Sprint(p)}
			if b.cfg.UnsafeTracebacks {
				e.stack = string(stack)
			}
			v, err = nil, e
		}
	}()
	if d, ok := target.(Dispatcher); ok {
		return d.Dispatch(ctx, c)
	}
	switch t := target.(type) {
	case *viewPoint:
		if d, ok := t.view.(Dispatcher); ok {
			return d.Dispatch(ctx, c)
		}
		return callMethod(ctx, t.view, "View", c, true)
	case *avatarRef:
		if d, ok := t.avatar.(Dispatcher); ok {
			return d.Dispatch(ctx, c)
		}
		return callMethod(ctx, t.avatar, "Perspective", c, false)
	}
	if cache {
		return callMethod(ctx, target, "Observe", c, false)
	}
	if target == nil {
		return nil, &Error{Type: pyPBError, Message: "Invalid Object ID"}
	}
	return callMethod(ctx, target, "Remote", c, false)
}

type panicError struct {
	value string
	stack string
}

func (e *panicError) Error() string { return "pb: handler panicked: " + e.value }

func (b *Broker) logHandlerError(c *Call, err error) {
	var pe *Error
	if errors.As(err, &pe) {
		return // an intended failure, like Twisted's pb.Error: not logged
	}
	b.cfg.log.Info("pb: call failed", "method", c.Method, "err", err)
}
