package pb

import (
	"reflect"
	"sync"
	"time"
)

// A call that arrives alone (nothing else in flight, its object idle)
// runs on the reader goroutine itself, after the input that brought it
// is decoded: no worker is woken, which on a lightly loaded connection
// is most of what a call costs besides the system calls. So that
// reading never waits long for a handler, a watchdog hands the reading
// on to another goroutine when the call runs longer than inlineLimit,
// and a handler that waits for an answer from the peer hands it on at
// once (Future.Wait), since only a reader can deliver that answer.

// A method whose inline run outlasted the watchdog (or waited for the
// peer) is not run inline again: a long handler on the reader gains
// nothing, and its late hand-over preempts it and moves it between
// threads (measured: 6% more CPU for a 43 ms password hash).

// inlineLimit is how long the reader runs a call itself before another
// goroutine takes over the reading.
const inlineLimit = 100 * time.Microsecond

// slowCalls holds the (receiver type, method) pairs not to run inline.
// Bounded: a Dispatcher answers any name a peer makes up.
var slowCalls struct {
	sync.RWMutex
	m map[slowKey]struct{}
}

type slowKey struct {
	t    reflect.Type
	name string
}

const maxSlowCalls = 4096

// inlineOK reports whether a call of name on target may run inline.
func inlineOK(target any, name string) bool {
	slowCalls.RLock()
	_, slow := slowCalls.m[slowKey{reflect.TypeOf(target), name}]
	slowCalls.RUnlock()
	return !slow
}

// markSlow stops j's method from running inline.
func markSlow(j job) {
	c, ok := j.(*inCall)
	if !ok {
		return
	}
	k := slowKey{reflect.TypeOf(c.target), c.call.Method}
	slowCalls.Lock()
	if slowCalls.m == nil {
		slowCalls.m = make(map[slowKey]struct{})
	}
	if len(slowCalls.m) < maxSlowCalls {
		slowCalls.m[k] = struct{}{}
	}
	slowCalls.Unlock()
}

// Reader states (Broker.rstate).
const (
	readerReading   = iota // the reader goroutine reads
	readerInline           // it runs a call; the watchdog is armed
	readerTakenOver        // another goroutine reads now
)

// runInline runs t on the reader goroutine and reports whether that
// goroutine is still the reader afterwards. armed is the reader's idle
// deadline state, handed to a goroutine that takes over.
func (b *Broker) runInline(t task, armed bool) bool {
	// The timer belongs to the reader: take it, and give it back only if
	// this goroutine is still the reader afterwards.
	w := b.watchdog
	b.watchdog = nil
	b.inlineArmed = armed
	b.rstate.Store(readerInline)
	if w == nil {
		w = time.AfterFunc(inlineLimit, b.takeOver)
	} else {
		w.Reset(inlineLimit)
	}
	// Only the call itself runs here: calls queued behind it (a burst of
	// pipelined calls) go to a worker, so that the watchdog and the
	// memo judge one call, and the reader goes back to reading.
	next := b.runOne(t.key, t.s, t.j)
	w.Stop()
	if next != nil {
		spawn(task{b: b, key: t.key, s: t.s, j: next})
	}
	if !b.rstate.CompareAndSwap(readerInline, readerReading) {
		markSlow(t.j)
		return false
	}
	b.watchdog = w
	return true
}

// takeOver starts another reader if the reader is running a call.
func (b *Broker) takeOver() {
	if b.rstate.Load() == readerInline && b.rstate.CompareAndSwap(readerInline, readerTakenOver) {
		spawn(task{b: b, reader: true, armed: b.inlineArmed})
	}
}
