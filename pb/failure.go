package pb

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
)

// Failures travel as Twisted's CopyableFailure: a copyable whose state
// is a dict with every key a Python client needs (pb-protocol.md 3.7).

var failureCount atomic.Int64

const noTraceback = "Traceback unavailable\n"

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

// failureOf describes err as the peer should see it.
func (b *Broker) failureOf(err error) (pyType, value, tb string, parents []string) {
	tb = noTraceback
	var pe *Error
	var re *RemoteError
	var ue *cred.UnhandledError
	var ie *jelly.InsecureError
	var pan *panicError
	switch {
	case errors.As(err, &pe):
		pyType, value, parents = pe.Type, pe.Message, pe.Parents
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

// sendFailure answers request req with err as a CopyableFailure.
func (b *Broker) sendFailure(req int64, err error) {
	pyType, value, tb, parents := b.failureOf(err)
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
	d.Set("unsafeTracebacks", b.cfg.UnsafeTracebacks)
	d.Set("traceback", tb)
	state, jerr := jelly.Marshal(d, nil)
	if jerr != nil {
		b.plog().Error("pb: cannot encode failure", "err", jerr)
		return
	}
	if serr := b.w.send([]any{verbError, req, []any{pyCopyableFailure, state}}); serr != nil && !errors.Is(serr, ErrClosed) {
		b.plog().Error("pb: cannot send failure", "err", serr)
	}
}

// decodeFailure builds a *RemoteError from a CopyableFailure's state.
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
	e := &RemoteError{}
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
	return e, nil
}

// failureError turns the decoded payload of an error reply into a Go
// error.
func failureError(v any) error {
	switch x := v.(type) {
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
