package main

// CPU pinning for measurements of small per-request costs: with the
// server on a CPU of its own (GOMAXPROCS=1) and the load generator on the
// others, neither takes CPU time from the other, and no idle Go scheduler
// spins looking for work on the server's behalf. A difference of a few
// microseconds per request then stands out of the run-to-run noise.

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// canPin reports whether there are CPUs enough to give the server one of
// its own.
func canPin() bool { return runtime.NumCPU() >= 2 }

// serverCPU is the CPU a pinned server runs on: the last one.
func serverCPU() int { return runtime.NumCPU() - 1 }

// pinThreads sets the CPU affinity of every thread of process pid. A
// thread started during the walk inherits its creator's mask, so a
// second walk catches any that began before their creator was pinned.
func pinThreads(pid int, set *unix.CPUSet) error {
	for pass := 0; pass < 2; pass++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d of %d: %w", tid, pid, err)
			}
		}
	}
	return nil
}

// pinServer puts every thread of a server process on serverCPU.
func pinServer(pid int) error {
	var set unix.CPUSet
	set.Set(serverCPU())
	return pinThreads(pid, &set)
}

// pinHarness keeps this process off serverCPU, with one P per CPU left,
// until the returned function restores the previous mask and GOMAXPROCS.
func pinHarness() (restore func(), err error) {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, err
	}
	var set unix.CPUSet
	for c := 0; c < serverCPU(); c++ {
		set.Set(c)
	}
	self := os.Getpid()
	if err := pinThreads(self, &set); err != nil {
		return nil, err
	}
	procs := runtime.GOMAXPROCS(set.Count())
	return func() {
		pinThreads(self, &old)
		runtime.GOMAXPROCS(procs)
	}, nil
}
