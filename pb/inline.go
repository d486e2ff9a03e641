package pb

import "time"

// A call that arrives alone (nothing else in flight, its object idle)
// runs on the reader goroutine itself, after the input that brought it
// is decoded: no worker is woken, which on a lightly loaded connection
// is most of what a call costs besides the system calls. So that
// reading never waits long for a handler, a watchdog hands the reading
// on to another goroutine when the call runs longer than inlineLimit,
// and a handler that waits for an answer from the peer hands it on at
// once (Future.Wait), since only a reader can deliver that answer.

// inlineLimit is how long the reader runs a call itself before another
// goroutine takes over the reading.
const inlineLimit = 100 * time.Microsecond

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
	b.runQueued(t.key, t.s, t.j)
	w.Stop()
	if !b.rstate.CompareAndSwap(readerInline, readerReading) {
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
