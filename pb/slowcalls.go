package pb

import (
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
)

// A method whose inline run outlasted the watchdog (or waited for the
// peer) is not run inline again for a while: a long handler on the
// reader gains nothing, and its late hand-over preempts it and moves it
// between threads, which costs a password hash CPU (BENCHMARKS.md,
// step 4).
// Workers then time its calls; after quickRunsToForgive quick ones in a
// row it may run inline again, so that a call caught once by a pause of
// the whole process (a busy machine, a collection) does not move its
// method off the reader for good.

const (
	// quickRun is the longest call that counts as quick.
	quickRun = watchTick / 4
	// quickRunsToForgive is how many quick calls in a row on workers
	// let a method run inline again.
	quickRunsToForgive = 16
	// maxSlowCalls bounds the memo: a Dispatcher answers any name a peer
	// makes up.
	maxSlowCalls = 4096
)

// slowCalls holds the (receiver type, method) pairs not to run inline.
// Readers load it without a lock; changes replace the map under
// slowCallsMu.
var (
	slowCalls   atomic.Pointer[map[slowKey]*slowCall]
	slowCallsMu sync.Mutex
)

type slowKey struct {
	t    reflect.Type
	name string
}

// slowCall counts the quick runs in a row of a slow method.
type slowCall struct{ quick atomic.Int32 }

func slowCallOf(target any, name string) *slowCall {
	m := slowCalls.Load()
	if m == nil {
		return nil
	}
	return (*m)[slowKey{reflect.TypeOf(target), name}]
}

// offReader is implemented by Spread's own objects whose calls never run
// on the reader: the login root and its challengers, which call the
// Portal, whose checkers and realm may hash or query a database. Run on
// the reader, they also grew every reader's stack during a burst of
// logins, and the process kept that peak as the idle memory of every
// logged-in connection. On workers an in-memory login costs a little
// more CPU; BENCHMARKS.md, step 12, has both figures.
type offReader interface{ offReader() }

// inlineOK reports whether a call of name on target may run inline.
func inlineOK(target any, name string) bool {
	if _, ok := target.(offReader); ok {
		return false
	}
	return slowCallOf(target, name) == nil
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
	if sc := slowCallOf(c.target, c.call.Method); sc != nil {
		sc.quick.Store(0)
		return
	}
	k := slowKey{reflect.TypeOf(c.target), c.call.Method}
	updateSlowCalls(func(m map[slowKey]*slowCall) {
		if m[k] == nil && len(m) < maxSlowCalls {
			m[k] = &slowCall{}
		}
	})
}

// runTimed runs j on a worker (see runOne). When j's method is known as
// slow, it times the handler, and lets the method run inline again
// after enough quick calls.
func (b *Broker) runTimed(key any, s *serialQueue, j job) job {
	c, ok := j.(*inCall)
	if !ok {
		return b.runOne(key, s, j, false)
	}
	target, name := c.target, c.call.Method // j is not ours once it ran
	sc := slowCallOf(target, name)
	if sc == nil {
		return b.runOne(key, s, j, false)
	}
	st := j.state()
	st.timed = true
	next := b.runOne(key, s, j, false)
	if st.took >= quickRun {
		sc.quick.Store(0)
	} else if sc.quick.Add(1) == quickRunsToForgive {
		k := slowKey{reflect.TypeOf(target), name}
		updateSlowCalls(func(m map[slowKey]*slowCall) {
			if m[k] == sc {
				delete(m, k)
			}
		})
	}
	return next
}

// updateSlowCalls replaces the memo with a changed copy.
func updateSlowCalls(change func(map[slowKey]*slowCall)) {
	slowCallsMu.Lock()
	defer slowCallsMu.Unlock()
	m := make(map[slowKey]*slowCall)
	if old := slowCalls.Load(); old != nil {
		m = maps.Clone(*old)
	}
	change(m)
	slowCalls.Store(&m)
}
