package pb

import (
	"sync"
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
// reading on to another goroutine when one call (or the write of the
// answers) runs across two of its ticks, and a handler that waits for
// an answer from the peer hands it on at once (Future.Wait), since only
// a reader can deliver that answer. The old reader then goes on as a
// worker with the calls queued behind, and the answers already made
// leave without waiting for it.
//
// The watchdog is one timer for the whole process, which ticks every
// watchTick while some reader has run calls since the last tick. A
// timer per reader, armed and stopped around every run, cost more than
// the call itself (the figures are in BENCHMARKS.md, step 8).

// watchTick is the watchdog's period: a call that runs on the reader for
// between one and two ticks hands the reading on.
const watchTick = time.Millisecond

// The reader's state (Broker.rstate) is a turn number times two, plus
// one while the reader runs calls. A take-over starts a new turn, so a
// goroutine that was the reader can tell, once its call returns, that
// the reading has moved on even if the new reader runs calls by then.

// runInline runs t's queue on the reader goroutine, as long as its calls
// may run inline, then writes their answers. It reports whether that
// goroutine is still the reader afterwards. armed is the reader's idle
// deadline state, handed to a goroutine that takes over.
func (b *Broker) runInline(t task, armed bool) bool {
	b.inlineArmed = armed
	b.inlineSeq.Add(1)          // before the state: see tick
	turn := b.rstate.Load() | 1 // only the reader changes an even state
	b.rstate.Store(turn)
	if !b.watched.Load() {
		b.watch()
	}
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
	return b.rstate.CompareAndSwap(turn, turn&^1)
}

// watchdog is the process-wide watchdog: the brokers whose reader has
// run calls lately, each with its inlineSeq at the last tick.
var watchdog struct {
	mu      sync.Mutex
	brokers map[*Broker]uint64
	t       *time.Timer
	ticking bool
}

// unseen is the inlineSeq recorded for a broker that has just been
// added to the watchdog: no real count equals it.
const unseen = ^uint64(0)

// watch adds b to the watchdog's brokers and starts the ticks.
func (b *Broker) watch() {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if watchdog.brokers == nil {
		watchdog.brokers = make(map[*Broker]uint64)
	}
	if _, ok := watchdog.brokers[b]; !ok {
		watchdog.brokers[b] = unseen
	}
	b.watched.Store(true)
	if !watchdog.ticking {
		watchdog.ticking = true
		if watchdog.t == nil {
			watchdog.t = time.AfterFunc(watchTick, tick)
		} else {
			watchdog.t.Reset(watchTick)
		}
	}
}

// tick takes the reading over from each reader that runs the same call
// as at the last tick, and forgets the brokers whose reader ran nothing
// since then. It keeps ticking while any broker is left.
func tick() {
	type stall struct {
		b    *Broker
		turn uint64
	}
	var stalled []stall
	watchdog.mu.Lock()
	for b, seen := range watchdog.brokers {
		// The state first: a reader counts a run before it marks the
		// state inline, so an inline state read here comes with its
		// count.
		st := b.rstate.Load()
		seq := b.inlineSeq.Load()
		switch {
		case seq != seen:
			watchdog.brokers[b] = seq
		case st&1 == 1:
			stalled = append(stalled, stall{b, st})
		default:
			// Idle since the last tick. A reader that starts a run now
			// either is seen here or finds watched false and adds b
			// again (after this tick).
			b.watched.Store(false)
			if b.inlineSeq.Load() != seq {
				b.watched.Store(true)
				watchdog.brokers[b] = unseen
				continue
			}
			delete(watchdog.brokers, b)
		}
	}
	if len(watchdog.brokers) > 0 {
		watchdog.t.Reset(watchTick)
	} else {
		watchdog.ticking = false
	}
	watchdog.mu.Unlock()
	for _, s := range stalled {
		s.b.takeOverFrom(s.turn)
	}
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
