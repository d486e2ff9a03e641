package pb

import "context"

// Future is the answer to a call started with CallRemoteAsync.
type Future struct {
	b   *Broker
	req int64
	p   *pendingCall
	res *result
}

// CallRemoteAsync queues a call and returns at once. Calls queued from
// one goroutine reach the peer in that order, so a client can pipeline
// ordered messages and collect the answers later.
func (r *RemoteReference) CallRemoteAsync(ctx context.Context, method string, args ...any) (*Future, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	return r.b.send(ctx, verbMessage, r.objID(), method, args, true, nil)
}

// Wait returns the answer, or ctx's error if ctx ends first. After ctx
// ends the answer is dropped when it arrives. Wait may be called again
// after it has returned the answer.
func (f *Future) Wait(ctx context.Context) (any, error) {
	if f.res != nil {
		return f.res.v, f.res.err
	}
	// A handler running on this connection's reader cannot wait for the
	// answer there: hand the reading on first.
	f.b.takeOver()
	select {
	case res := <-f.p.ch:
		f.res = &res
		return res.v, res.err
	case <-ctx.Done():
		if f.b.forgetPending(f.req) {
			f.b.abandoned.Add(1)
		}
		return nil, ctx.Err()
	}
}
