package pb

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

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

// callState is the context a handler runs with: the broker's context,
// plus what Go needs to let the next call on the same object start.
// It lives inside the job it belongs to, so a call costs no extra
// allocation for its context.
type callState struct {
	context.Context
	released atomic.Bool
	b        *Broker
	key      any
	s        *serialQueue
	inline   bool // run by the reader, which writes the answer (sched.go)
	timed    bool // time the handler into took (the memo, sched.go)
	took     time.Duration
}

func (st *callState) Value(k any) any {
	if k == (callKey{}) {
		return st
	}
	return st.Context.Value(k)
}

// release lets the call queued behind this one start, once.
func (st *callState) release() bool {
	return st.released.CompareAndSwap(false, true)
}

// inCall is one incoming call on its way from the reader to the answer:
// one allocation holds what the call needs.
type inCall struct {
	call   Call
	st     callState
	req    any // the request id as decoded (an int64)
	answer bool
	cache  bool
	target any
	refs   refs
	opts   jelly.Options
	msg    [3]any
	size   int64 // bytes counted against the call budgets (or 0)
}

func (c *inCall) state() *callState { return &c.st }

// incomingCall handles message and cachemessage on the reader
// goroutine: it decodes the arguments in arrival order, then queues the
// call (decode → queue → run → answer; sched.go's header has the rest).
//
// size is the call's wire size: calls of callBytesFloor bytes or more
// are counted against Limits.MaxCallBytes and ProcessCallBytes.
func (b *Broker) incomingCall(l []any, cache bool, size int64) error {
	req, ok := l[1].(int64)
	if !ok {
		return protoErr(nil, "message with a non-int request id")
	}
	name, ok := methodName(l[3])
	if !ok {
		return protoErr(nil, "method name is not a UTF-8 byte string")
	}
	answer := truthy(l[4])

	target, perspective, err := b.target(l[2], cache)
	if err != nil {
		b.discard(l[5], l[6]) // give back references in the arguments
		if answer {
			b.sendFailure(req, err)
		}
		return nil
	}

	if size < callBytesFloor {
		size = 0
	}
	b.mu.Lock()
	if b.inflight >= b.cfg.MaxCallsInFlight {
		b.mu.Unlock()
		b.refuseBusy(l, req, answer)
		return nil
	}
	if size != 0 && !b.chargeCallLocked(size) {
		b.mu.Unlock()
		b.refuseBytes(l, req, answer)
		return nil
	}
	b.inflight++
	b.mu.Unlock()

	c := &inCall{
		call:   Call{Method: name, Perspective: perspective, Broker: b},
		req:    l[1],
		answer: answer,
		cache:  cache,
		target: target,
		refs:   refs{b: b},
		size:   size,
	}
	c.opts = jelly.Options{Registry: b.registry(), Refs: &c.refs}
	args, kwargs, err := decodeArgsWith(&c.opts, l[5], l[6])
	if err != nil {
		return b.badArgs(c, req, err)
	}
	c.call.Args, c.call.Kwargs = args, kwargs
	b.queueCall(c)
	return nil
}

// badArgs fails a call whose arguments cannot be decoded; a protocol
// error (e.g. more than MaxImports references) ends the connection.
// Kept out of line, like refuseBusy.
//
//go:noinline
func (b *Broker) badArgs(c *inCall, req int64, err error) error {
	c.refs.releaseImports()
	b.callDone(c.size)
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe
	}
	if c.answer {
		b.sendFailure(req, err)
	}
	return nil
}

// refuseBusy refuses a call over MaxCallsInFlight. It is a function of
// its own, kept out of line, so that its frame is not part of every
// call's decoding on the reader's stack (see rawReader).
//
//go:noinline
func (b *Broker) refuseBusy(l []any, req int64, answer bool) {
	b.discard(l[5], l[6])
	b.plog().Warn("pb: refusing call: too many in flight", "peer", b.conn.RemoteAddr().String(), "max", b.cfg.MaxCallsInFlight)
	if answer {
		b.sendFailure(req, &Error{Type: pyPBError, Message: fmt.Sprintf("too many calls in flight (max %d)", b.cfg.MaxCallsInFlight)})
	}
}

// run runs the handler (the run step of decode → queue → run → answer)
// and sends its answer by the write path answerPath picks (sched.go).
func (c *inCall) run(ctx *callState) {
	b := c.call.Broker
	var start time.Time
	if ctx.timed {
		start = time.Now()
	}
	v, err := b.invoke(ctx, c.target, &c.call, c.cache)
	b.countCall(err)
	if ctx.timed {
		ctx.took = time.Since(start)
	}
	if !c.answer {
		b.callDone(c.size)
		if err != nil {
			b.logHandlerError(&c.call, err)
		}
		if a, ok := v.(*avatarRef); ok {
			// A login nobody waits for (answerRequired 0): the avatar
			// never reaches the peer, so the session ends here.
			a.runLogout()
		}
		return
	}
	req := c.req.(int64)
	if err != nil {
		b.callDone(c.size)
		b.logHandlerError(&c.call, err)
		b.sendFailure(req, err)
		return
	}
	c.refs = refs{b: b, perspective: answerPerspective(c.target, c.call.Perspective)}
	sexp, err := jelly.Marshal(v, &c.opts)
	if err != nil {
		b.callDone(c.size)
		c.refs.rollback()
		b.plog().Error("pb: cannot encode answer", "method", c.call.Method, "err", err)
		b.sendFailure(req, &Error{Type: pyPBError, Message: "cannot encode the answer: " + err.Error()})
		return
	}
	c.msg = [3]any{verbAnswer, c.req, sexp}
	alone := b.callDone(c.size) == 0
	if err := b.w.sendAnswer(c.msg[:], answerPath(ctx, alone)); err != nil {
		c.refs.rollback()
		if !errors.Is(err, ErrClosed) {
			b.plog().Error("pb: cannot send answer", "method", c.call.Method, "err", err)
			b.sendFailure(req, &Error{Type: pyPBError, Message: "cannot encode the answer: " + err.Error()})
		}
	}
}

// callDone counts a call of size counted bytes as finished and returns
// how many are still in flight.
func (b *Broker) callDone(size int64) int {
	b.mu.Lock()
	b.inflight--
	n := b.inflight
	if size != 0 {
		b.callBytes -= size
		callBytes.Add(-size)
	}
	b.mu.Unlock()
	return n
}

// chargeCallLocked counts size bytes of a call against the connection's
// and the process's call budgets, or reports false when either would
// pass its limit. Call with b.mu held.
func (b *Broker) chargeCallLocked(size int64) bool {
	lim := &b.cfg.lim
	if over(b.callBytes+size, lim.MaxCallBytes) {
		return false
	}
	if over(callBytes.Add(size), lim.ProcessCallBytes) {
		callBytes.Add(-size)
		return false
	}
	b.callBytes += size
	return true
}

// refuseBytes refuses a call over the call byte budgets. Kept out of
// line, like refuseBusy.
//
//go:noinline
func (b *Broker) refuseBytes(l []any, req int64, answer bool) {
	b.discard(l[5], l[6])
	b.plog().Warn("pb: refusing call: too many bytes of calls in flight", "peer", b.conn.RemoteAddr().String(),
		"max_conn", b.cfg.lim.MaxCallBytes, "max_process", b.cfg.lim.ProcessCallBytes)
	if answer {
		b.sendFailure(req, &Error{Type: pyPBError, Message: "too many bytes of calls in flight, try again later"})
	}
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

// errInvalidID answers a message for an object the peer does not hold.
func errInvalidID() error { return &Error{Type: pyPBError, Message: "Invalid Object ID"} }

// target finds the local object a message is for.
func (b *Broker) target(objID any, cache bool) (obj any, perspective any, err error) {
	if cache {
		id, ok := objID.(int64)
		if !ok {
			return nil, nil, errInvalidID()
		}
		b.mu.Lock()
		h := b.caches[id]
		b.mu.Unlock()
		if h == nil {
			return nil, nil, errInvalidID()
		}
		return h.obj, nil, nil
	}
	switch id := objID.(type) {
	case []byte:
		if string(id) == "root" && b.isServer {
			return b.rootObject(), nil, nil
		}
		return nil, nil, errInvalidID()
	case string:
		if id == "root" && b.isServer {
			return b.rootObject(), nil, nil
		}
		return nil, nil, errInvalidID()
	case int64:
		b.mu.Lock()
		e := b.exports.get(id)
		b.mu.Unlock()
		if e == nil || e.cache != nil {
			return nil, nil, errInvalidID()
		}
		switch o := e.obj.(type) {
		case *viewPoint:
			return o, o.perspective, nil
		case *avatarRef:
			return o, o.avatar, nil
		}
		return e.obj, nil, nil
	}
	return nil, nil, errInvalidID()
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
		return nil, errInvalidID()
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
	b.plog().Info("pb: call failed", "peer", b.conn.RemoteAddr().String(), "method", c.Method, "err", err)
}
