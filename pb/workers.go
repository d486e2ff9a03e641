package pb

import "time"

// Calls run on worker goroutines shared by all brokers of the process.
// A worker that has finished its queue waits a while for the next one
// instead of ending, so a call usually starts on a goroutine that is
// already there and whose stack has already grown to what handlers
// need; starting a goroutine per call cost a stack growth and copy
// (runtime.newstack) on almost every call. Workers that stay unused for
// workerIdle end, so an idle server holds none.

// workerIdle is how long a worker without work waits before it ends.
const workerIdle = 2 * time.Second

// task is a serial queue to run, starting with its job j; or, with
// reader set, the reading of b's connection to take over (armed: the
// idle deadline is set; see inline.go); or, with fn set, a function to
// run (a logout).
type task struct {
	b      *Broker
	key    any
	s      *serialQueue
	j      job
	reader bool
	armed  bool
	fn     func()
}

// idleWorkers hands a task to a waiting worker. It is unbuffered: a
// send succeeds only when a worker is waiting for it.
var idleWorkers = make(chan task)

// spawn runs t on a waiting worker, or on a new one.
func spawn(t task) {
	select {
	case idleWorkers <- t:
	default:
		go worker(t)
	}
}

func worker(t task) {
	timer := time.NewTimer(workerIdle)
	defer timer.Stop()
	for {
		switch {
		case t.fn != nil:
			t.fn()
		case t.reader:
			t.b.readFrom(t.armed, true) // taking over the reading
		default:
			t.b.runQueued(t.key, t.s, t.j)
		}
		t = task{}
		timer.Reset(workerIdle)
		select {
		case t = <-idleWorkers:
		case <-timer.C:
			return
		}
	}
}
