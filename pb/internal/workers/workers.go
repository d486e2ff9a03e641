// Package workers is pb's pool of worker goroutines: a goroutine that
// has run a task waits a while for the next one instead of ending, so a
// task usually starts on a goroutine that is already there and whose
// stack has already grown to what the task needs. Starting a goroutine
// per task cost a stack growth and copy (runtime.newstack) on almost
// every call (BENCHMARKS.md, step 2). Workers that stay unused for the
// pool's idle time end, so an idle process holds none.
//
// The pool knows nothing of PB: a task is a value of the pool's type T,
// handed to the pool's run function. Tasks are passed by value through
// an unbuffered channel, so handing one to a waiting worker allocates
// nothing.
package workers

import (
	"sync/atomic"
	"time"
)

// Pool runs tasks of type T on pooled goroutines. Its methods are safe
// for concurrent use.
type Pool[T any] struct {
	run  func(T)
	idle time.Duration
	// waiting hands a task to a waiting worker. It is unbuffered: a send
	// succeeds only when a worker is waiting for it.
	waiting chan T
	started atomic.Int64 // workers started, for tests
}

// New returns a pool that runs each task with run, and whose workers end
// after idle without a task.
func New[T any](run func(T), idle time.Duration) *Pool[T] {
	return &Pool[T]{run: run, idle: idle, waiting: make(chan T)}
}

// Go runs t on a waiting worker, or on a new one. It never blocks.
func (p *Pool[T]) Go(t T) {
	select {
	case p.waiting <- t:
	default:
		p.started.Add(1)
		go p.worker(t)
	}
}

func (p *Pool[T]) worker(t T) {
	timer := time.NewTimer(p.idle)
	defer timer.Stop()
	var zero T
	for {
		p.run(t)
		t = zero // let what the task held go while this worker waits
		timer.Reset(p.idle)
		select {
		case t = <-p.waiting:
		case <-timer.C:
			return
		}
	}
}
