package pb

import "context"

// Sync returns once every call to obj that this side had received
// before Sync was called has finished (or called Go), or when ctx or the
// connection ends. A client uses it after its last answer arrived to be
// sure the calls the peer made before that answer (for example chat
// lines sent to its mind) have run.
func (b *Broker) Sync(ctx context.Context, obj any) error {
	done := make(chan struct{})
	b.enqueue(obj, &syncMark{done: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return &ConnectionLostError{Cause: b.Err()}
	}
}

// syncMark is the job Sync queues: it runs when the calls before it have.
type syncMark struct {
	st   callState
	done chan struct{}
}

func (m *syncMark) state() *callState { return &m.st }
func (m *syncMark) run(*callState)    { close(m.done) }
