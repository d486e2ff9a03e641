package workers

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWorkerTakesTheNextTask runs tasks one after the other: each runs
// once, in order, and the worker that ran the first takes the others
// instead of new goroutines starting.
func TestWorkerTakesTheNextTask(t *testing.T) {
	var ran []int
	done := make(chan struct{})
	p := New(func(n int) {
		ran = append(ran, n)
		done <- struct{}{}
	}, time.Minute)
	p.Go(0)
	<-done
	for i := 1; i < 50; i++ {
		p.waiting <- i // blocks until the worker waits for a task
		<-done
	}
	for i, n := range ran {
		if n != i {
			t.Fatalf("tasks ran in the order %v", ran)
		}
	}
	if len(ran) != 50 {
		t.Fatalf("%d tasks ran, want 50", len(ran))
	}
	if n := p.started.Load(); n != 1 {
		t.Fatalf("%d workers started, want 1", n)
	}
}

// TestIdleWorkersEnd checks that workers end after the idle time.
func TestIdleWorkersEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	block := make(chan struct{})
	p := New(func(int) { <-block; wg.Done() }, 20*time.Millisecond)
	wg.Add(10)
	for i := 0; i < 10; i++ {
		p.Go(i)
	}
	if n := p.started.Load(); n != 10 {
		t.Fatalf("%d workers for 10 blocked tasks, want 10", n)
	}
	close(block)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after the idle time, %d before", n, before)
	}
}
