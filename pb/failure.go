package pb

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
)

// Failures travel as Twisted's CopyableFailure: a copyable whose state
// is a dict with every key a Python client needs (docs/protocol.md, 3.7).

var failureCount atomic.Int64

const noTraceback = "Traceback unavailable\n"

// Extra keys of a failure's state that carry Spread's login codes.
const (
	failureCodeKey  = "spreadLoginCode"
	failureRetryKey = "spreadRetryAfter"
)

// defaultRegistry accepts only the failure class.
var defaultRegistry = newRegistry()

func newRegistry() *jelly.Registry {
	r := jelly.NewRegistry()
	registerFailure(r)
	return r
}

func registerFailure(r *jelly.Registry) {
	if r.Allowed(pyCopyableFailure) {
		return
	}
	// RegisterFunc only fails for a tag already taken, checked above.
	_ = r.RegisterFunc(pyCopyableFailure, decodeFailure)
}

// Failure is Twisted's CopyableFailure as a value: a Python exception
// type, its message and a traceback. Python PB applications pass
// failures as ordinary arguments (worker.complete(failure)); a *Failure
// in a call's arguments or answer travels as a CopyableFailure that a
// Python peer inspects with failure.check(ValueError) and
// failure.getErrorMessage(), and a CopyableFailure received as a value
// arrives as a *Failure (a parameter of type *Failure or any).
//
// A *Failure is also an error: returned by a handler, the caller gets
// that failure as the call's error. A failed call's error arrives as a
// *RemoteError, which [FailureOf] turns into a *Failure to pass on.
type Failure struct {
	// Type is the qualified Python class name, e.g. "builtins.ValueError".
	Type string
	// Value is str(exception): what getErrorMessage() returns.
	Value string
	// Traceback is the traceback text; "Traceback unavailable\n" when
	// empty on the way out.
	Traceback string
	// Parents is the class hierarchy that failure.check matches against,
	// Type first. Empty on the way out means the known hierarchy for Type
	// (Type, builtins.Exception, builtins.BaseException, builtins.object).
	Parents []string

	// code and retryAfter are Spread's login codes, carried over to the
	// *RemoteError of a failed call.
	code       string
	retryAfter time.Duration
}

// NewFailure returns a failure of Python type pyType (for example
// "builtins.ValueError", or an application's "myapp.errors.BuildFailed")
// with message msg.
func NewFailure(pyType, msg string) *Failure {
	return &Failure{Type: pyType, Value: msg, Parents: parentsOf(pyType)}
}

// FailureOf describes err as a Python peer would see it if a handler
// returned it: an *Error or *Failure keeps its type, a *RemoteError is
// passed on as it came, cred's errors become Twisted's cred errors, and
// any other error a twisted.spread.pb.Error with err's text.
func FailureOf(err error) *Failure {
	if err == nil {
		return nil
	}
	pyType, value, tb, parents := failureParts(err)
	return &Failure{Type: pyType, Value: value, Traceback: tb, Parents: parents}
}

func (f *Failure) Error() string { return "pb: failure " + f.Type + ": " + f.Value }

// ErrorMessage is Twisted's getErrorMessage: the exception's message.
func (f *Failure) ErrorMessage() string { return f.Value }

// Check reports whether the failure is of one of the given Python
// classes or a subclass, like Twisted's Failure.check.
func (f *Failure) Check(pyTypes ...string) bool {
	for _, t := range pyTypes {
		if f.Type == t {
			return true
		}
		for _, p := range f.Parents {
			if p == t {
				return true
			}
		}
	}
	return false
}

// JellyType and JellyState make a *Failure travel as a CopyableFailure.
func (f *Failure) JellyType() string { return pyCopyableFailure }

// JellyState is the CopyableFailure's state dict.
func (f *Failure) JellyState() any {
	parents := f.Parents
	if len(parents) == 0 {
		parents = parentsOf(f.Type)
	}
	tb := f.Traceback
	if tb == "" {
		tb = noTraceback
	}
	return failureState(f.Type, jelly.Lossy(f.Value), jelly.Lossy(tb), parents, false)
}

// failureParts describes err as the peer should see it.
func failureParts(err error) (pyType, value, tb string, parents []string) {
	tb = noTraceback
	var pe *Error
	var fe *Failure
	var re *RemoteError
	var ue *cred.UnhandledError
	var ie *jelly.InsecureError
	var pan *panicError
	switch {
	case errors.As(err, &pe):
		pyType, value, parents = pe.Type, pe.Message, pe.Parents
	case errors.As(err, &fe):
		pyType, value, parents = fe.Type, fe.Value, fe.Parents
		if fe.Traceback != "" {
			tb = fe.Traceback
		}
	case errors.As(err, &re):
		pyType, value, parents = re.Type, re.Value, re.Parents
	case errors.As(err, &ue):
		pyType, value = pyUnhandledCredential, "No checker for "+string(ue.Kind)
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		pyType, value = pyUnauthorizedLogin, ""
	case errors.As(err, &ie):
		pyType, value = pyInsecureJelly, err.Error()
	case errors.As(err, &pan):
		pyType, value = pyRuntimeError, pan.Error()
		if pan.stack != "" {
			tb = pan.stack
		}
	default:
		pyType, value = pyPBError, err.Error()
	}
	if len(parents) == 0 {
		parents = parentsOf(pyType)
	}
	return pyType, value, tb, parents
}

func failureState(pyType, value, tb string, parents []string, unsafe bool) *jelly.Dict {
	ps := make([]any, len(parents))
	for i, p := range parents {
		ps[i] = p
	}
	d := jelly.NewDict()
	d.Set("count", failureCount.Add(1))
	d.Set("type", []byte(pyType))
	d.Set("value", value)
	d.Set("captureVars", false)
	d.Set("frames", []any{})
	d.Set("stack", []any{})
	d.Set("tb", nil)
	d.Set("parents", ps)
	d.Set("pickled", int64(1))
	d.Set("unsafeTracebacks", unsafe)
	d.Set("traceback", tb)
	return d
}

// sendFailure answers request req with err as a CopyableFailure.
func (b *Broker) sendFailure(req int64, err error) {
	pyType, value, tb, parents := failureParts(err)
	d := failureState(pyType, jelly.Lossy(value), jelly.Lossy(tb), parents, b.cfg.UnsafeTracebacks)
	var pe *Error
	if errors.As(err, &pe) && pe.code != "" {
		// Spread's login codes: extra attributes of the CopiedFailure
		// for a Twisted peer, which ignores them.
		d.Set(failureCodeKey, pe.code)
		if pe.retryAfter > 0 {
			d.Set(failureRetryKey, pe.retryAfter)
		}
	}
	state, jerr := jelly.Marshal(d, nil)
	if jerr != nil {
		b.plog().Error("pb: cannot encode failure", "err", jerr)
		return
	}
	if serr := b.w.send([]any{verbError, req, []any{pyCopyableFailure, state}}); serr != nil && !errors.Is(serr, ErrClosed) {
		b.plog().Error("pb: cannot send failure", "err", serr)
	}
}

// decodeFailure builds a *Failure from a CopyableFailure's state.
func decodeFailure(state any) (any, error) {
	d, ok := state.(*jelly.Dict)
	if !ok {
		return nil, fmt.Errorf("pb: failure state is %s, not a dict", pyTypeName(state))
	}
	get := func(k string) any {
		if v, ok := d.Get(k); ok {
			return v
		}
		v, _ := d.Get([]byte(k))
		return v
	}
	e := &Failure{}
	e.Type, _ = jelly.String(get("type"))
	e.Value, _ = jelly.String(get("value"))
	e.Traceback, _ = jelly.String(get("traceback"))
	if ps, ok := sequence(get("parents")); ok {
		for _, p := range ps {
			if s, ok := jelly.String(p); ok {
				e.Parents = append(e.Parents, s)
			}
		}
	}
	if e.Type == "" {
		return nil, fmt.Errorf("pb: failure without a type")
	}
	if c, ok := jelly.String(get(failureCodeKey)); ok && len(c) <= 32 {
		e.code = c
	}
	if n, ok := get(failureRetryKey).(int64); ok && n > 0 && n <= 1<<31 {
		e.retryAfter = time.Duration(n) * time.Second
	}
	return e, nil
}

// failureError turns the decoded payload of an error reply into a Go
// error.
func failureError(v any) error {
	switch x := v.(type) {
	case *Failure:
		return &RemoteError{Type: x.Type, Value: x.Value, Traceback: x.Traceback, Parents: x.Parents, Code: x.code, RetryAfter: x.retryAfter}
	case *RemoteError:
		return x
	case error:
		return x
	}
	s, ok := jelly.String(v)
	if !ok {
		s = fmt.Sprint(v)
	}
	return &RemoteError{Type: "unknown", Value: s}
}
