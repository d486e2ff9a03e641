package pb

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Calls whose method is known to be quick run on the reader goroutine
// itself, after the input that brought them is decoded: no worker is
// woken and no flusher either, since the reader writes the answers of
// the calls it ran in one write once they are all done. On a lightly
// loaded connection waking those goroutines is most of what a call
// costs besides the system calls; with many calls pipelined, one write
// then carries all the answers of one read.
//
// So that reading never waits long for a handler, a watchdog hands the
// reading on to another goroutine when one call runs longer than
// inlineLimit (between one and two limits, in fact: it checks that the
// reader has moved on to another call since its last check), and a
// handler that waits for an answer from the peer hands it on at once
// (Future.Wait), since only a reader can deliver that answer. The old
// reader then goes on as a worker with the calls queued behind, and the
// answers already made leave without waiting for it.

// A method whose inline run outlasted the watchdog (or waited for the
// peer) is not run inline again: a long handler on the reader gains
// nothing, and its late hand-over preempts it and moves it between
// threads (measured: 6% more CPU for a 43 ms password hash).

// inlineLimit is how long the reader runs one call itself before another
// goroutine takes over the reading.
const inlineLimit = 100 * time.Microsecond

// slowCalls holds the (receiver type, method) pairs not to run inline.
// Readers load it without a lock; markSlow replaces it. Bounded: a
// Dispatcher answers any name a peer makes up.
var (
	slowCalls   atomic.Pointer[map[slowKey]struct{}]
	slowCallsMu sync.Mutex // serializes markSlow
)

type slowKey struct {
	t    reflect.Type
	name string
}

const maxSlowCalls = 4096

// inlineOK reports whether a call of name on target may run inline.
func inlineOK(target any, name string) bool {
	m := slowCalls.Load()
	if m == nil {
		return true
	}
	_, slow := (*m)[slowKey{reflect.TypeOf(target), name}]
	return !slow
}

// jobInlineOK reports whether j, queued behind a call the reader runs,
// may run on the reader too.
func jobInlineOK(j job) bool {
	c, ok := j.(*inCall)
	return !ok || inlineOK(c.target, c.call.Method)
}

// markSlow stops j's method from running inline.
func markSlow(j job) {
	c, ok := j.(*inCall)
	if !ok {
		return
	}
	k := slowKey{reflect.TypeOf(c.target), c.call.Method}
	slowCallsMu.Lock()
	defer slowCallsMu.Unlock()
	old := slowCalls.Load()
	if old == nil {
		old = &map[slowKey]struct{}{}
	}
	if _, ok := (*old)[k]; ok || len(*old) >= maxSlowCalls {
		return
	}
	m := make(map[slowKey]struct{}, len(*old)+1)
	for k := range *old {
		m[k] = struct{}{}
	}
	m[k] = struct{}{}
	slowCalls.Store(&m)
}

// The reader's state (Broker.rstate) is a turn number times two, plus
// one while the reader runs calls. A take-over starts a new turn, so a
// goroutine that was the reader can tell, once its call returns, that
// the reading has moved on even if the new reader runs calls by then.

// runInline runs t's queue on the reader goroutine, as long as its calls
// may run inline, then writes their answers. It reports whether that
// goroutine is still the reader afterwards. armed is the reader's idle
// deadline state, handed to a goroutine that takes over.
func (b *Broker) runInline(t task, armed bool) bool {
	// The timer belongs to the reader: take it, and give it back only if
	// this goroutine is still the reader afterwards.
	w := b.watchdog
	b.watchdog = nil
	b.inlineArmed = armed
	turn := b.rstate.Load() | 1 // only the reader changes an even state
	b.rstate.Store(turn)
	b.inlineSeq.Add(1)
	if w == nil {
		w = &watchdog{b: b}
		w.t = time.AfterFunc(time.Hour, w.fire)
	}
	w.turn.Store(turn)
	w.t.Reset(inlineLimit)
	for j := t.j; j != nil; {
		next := b.runOne(t.key, t.s, j, true)
		if b.rstate.Load() != turn {
			// Taken over while j ran: this goroutine is a worker now,
			// and j's answer is on its way out.
			markSlow(j)
			b.w.kick()
			b.runQueued(t.key, t.s, next)
			return false
		}
		if next != nil && !jobInlineOK(next) {
			spawn(task{b: b, key: t.key, s: t.s, j: next})
			break
		}
		b.inlineSeq.Add(1)
		j = next
	}
	// The answers of the calls run here; the watchdog still covers a
	// write that blocks on a peer that does not read.
	if b.w.startFlush() {
		b.w.flush()
	}
	w.t.Stop()
	if !b.rstate.CompareAndSwap(turn, turn&^1) {
		return false
	}
	b.watchdog = w
	return true
}

// watchdog takes the reading over from a reader that runs calls, when
// it has been running the same call (or write) since the last check.
type watchdog struct {
	b    *Broker
	t    *time.Timer
	turn atomic.Uint64 // the reader state it watches
	seen atomic.Uint64 // b.inlineSeq at the last check
}

func (w *watchdog) fire() {
	b, turn := w.b, w.turn.Load()
	if b.rstate.Load() != turn {
		return
	}
	if seq := b.inlineSeq.Load(); w.seen.Swap(seq) != seq {
		w.t.Reset(inlineLimit) // the reader moved on: check again later
		return
	}
	b.takeOverFrom(turn)
}

// takeOver starts another reader if the reader is running calls, and
// lets the answers it has made so far leave.
func (b *Broker) takeOver() {
	if s := b.rstate.Load(); s&1 == 1 {
		b.takeOverFrom(s)
	}
}

func (b *Broker) takeOverFrom(turn uint64) {
	if b.rstate.CompareAndSwap(turn, turn+1) {
		spawn(task{b: b, reader: true, armed: b.inlineArmed})
		b.w.kick()
	}
}
