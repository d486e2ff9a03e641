package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxCallsPerWorker = 50_000_000 // bound on every load loop besides time
	maxSamplesPerRun  = 4_000_000  // latency samples kept per run, all workers
)

// runStats are the figures of one run of a load.
type runStats struct {
	calls      int64
	elapsed    time.Duration
	lat        []int64 // ns, sorted
	serverCPU  time.Duration
	clientCPU  time.Duration
	sysR, sysW int64 // the server's read and write system calls
}

func (r runStats) metrics(unit string) map[string]float64 {
	n := float64(r.calls)
	m := map[string]float64{
		unit + "s_per_s": n / r.elapsed.Seconds(),
		unit + "s":       n,
	}
	if n > 0 {
		m["server_cpu_us_per_"+unit] = float64(r.serverCPU.Microseconds()) / n
		if r.clientCPU > 0 {
			m["client_cpu_us_per_"+unit] = float64(r.clientCPU.Microseconds()) / n
		}
	}
	if len(r.lat) > 0 {
		m["p50_us"] = percentile(r.lat, 50) / 1e3
		m["p99_us"] = percentile(r.lat, 99) / 1e3
	}
	m["server_cpu_pct"] = 100 * r.serverCPU.Seconds() / r.elapsed.Seconds()
	if n > 0 && (r.sysR > 0 || r.sysW > 0) {
		m["server_reads_per_"+unit] = float64(r.sysR) / n
		m["server_writes_per_"+unit] = float64(r.sysW) / n
	}
	return m
}

// goLoad runs workers (each a blocking call) continuously: a warm-up,
// then o.runs runs of o.duration back to back. Server CPU is read from
// /proc/<serverPID>/stat at every run boundary; client CPU is this
// process's own.
func goLoad(ctx context.Context, o *options, serverPID int, workers []func() error) ([]runStats, error) {
	nruns := o.runs
	var phase atomic.Int32
	phase.Store(-1)
	type wstate struct {
		lat   [][]int64
		calls []int64
		err   error
	}
	ws := make([]*wstate, len(workers))
	perWorkerCap := maxSamplesPerRun / max(1, len(workers))
	var wg sync.WaitGroup
	errc := make(chan error, len(workers))
	for i, w := range workers {
		st := &wstate{lat: make([][]int64, nruns), calls: make([]int64, nruns)}
		ws[i] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < maxCallsPerWorker; n++ {
				if p := phase.Load(); int(p) >= nruns {
					return
				}
				t0 := time.Now()
				if err := w(); err != nil {
					if int(phase.Load()) < nruns {
						st.err = err
						errc <- err
					}
					return
				}
				d := time.Since(t0)
				if p := int(phase.Load()); p >= 0 && p < nruns {
					st.calls[p]++
					if len(st.lat[p]) < perWorkerCap {
						st.lat[p] = append(st.lat[p], int64(d))
					}
				}
			}
		}()
	}
	stop := func() { phase.Store(int32(nruns)); wg.Wait() }
	sleep := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := sleep(o.warmup); err != nil {
		stop()
		return nil, err
	}
	smp := make([]sample, nruns+1)
	for r := 0; r <= nruns; r++ {
		if r > 0 {
			if err := sleep(o.duration); err != nil {
				stop()
				return nil, err
			}
		}
		smp[r] = sampleOf(serverPID, os.Getpid())
		phase.Store(int32(r))
	}
	wg.Wait()
	out := make([]runStats, nruns)
	for r := 0; r < nruns; r++ {
		var lat []int64
		var calls int64
		for _, st := range ws {
			lat = append(lat, st.lat[r]...)
			calls += st.calls[r]
		}
		slices.Sort(lat)
		a, b := smp[r], smp[r+1]
		out[r] = runStats{calls: calls, elapsed: b.at.Sub(a.at), lat: lat, serverCPU: b.cpu - a.cpu}
		if serverPID != os.Getpid() {
			out[r].clientCPU = b.client - a.client
			out[r].sysR, out[r].sysW = b.sysR-a.sysR, b.sysW-a.sysW
		}
	}
	return out, nil
}

// pyResult is what bench/py/echo_load.py prints after "RESULT ".
type pyResult struct {
	Runs []struct {
		Calls   int64   `json:"calls"`
		Seconds float64 `json:"seconds"`
		P50us   float64 `json:"p50_us"`
		P99us   float64 `json:"p99_us"`
	} `json:"runs"`
	Error string `json:"error"`
}

// pyLoad runs a Twisted load client (bench/py/echo_load.py) against
// 127.0.0.1:port. The client prints "MARK i" at every run boundary; the
// harness reads the server's (and the client's) CPU when it sees it.
func pyLoad(ctx context.Context, o *options, serverPID, port, conns, inflight, nruns int) ([]runStats, error) {
	argv := []string{o.python, "-u", o.benchDir + "/py/echo_load.py",
		"--port", strconv.Itoa(port), "--conns", strconv.Itoa(conns), "--inflight", strconv.Itoa(inflight),
		"--warmup", fmt.Sprint(o.warmup.Seconds()), "--duration", fmt.Sprint(o.duration.Seconds()),
		"--runs", strconv.Itoa(nruns), "--payload", o.payload}
	p, err := startProc("echo_load.py", o.benchDir, nil, argv...)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	smp := make([]sample, nruns+1)
	seen := 0
	total := o.warmup + time.Duration(nruns)*o.duration + 60*time.Second
	var resLine string
	deadline := time.NewTimer(total)
	defer deadline.Stop()
loop:
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				break loop
			}
			switch {
			case strings.HasPrefix(l, "MARK "):
				i, _ := strconv.Atoi(strings.TrimPrefix(l, "MARK "))
				if i >= 0 && i <= nruns {
					smp[i] = sampleOf(serverPID, p.Pid())
					seen++
				}
			case strings.HasPrefix(l, "RESULT "):
				resLine = strings.TrimPrefix(l, "RESULT ")
				break loop
			}
		case <-deadline.C:
			return nil, fmt.Errorf("echo_load.py: no result within %s: %s", total, p.Stderr())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if resLine == "" {
		<-p.done
		return nil, fmt.Errorf("echo_load.py ended without a result: %s", p.Stderr())
	}
	var res pyResult
	if err := json.Unmarshal([]byte(resLine), &res); err != nil {
		return nil, fmt.Errorf("echo_load.py: %v", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("echo_load.py: %s", res.Error)
	}
	if len(res.Runs) != nruns || seen != nruns+1 {
		return nil, fmt.Errorf("echo_load.py: %d runs, %d marks", len(res.Runs), seen)
	}
	out := make([]runStats, nruns)
	for r := range out {
		rr := res.Runs[r]
		// The client's own percentiles stand in for the samples.
		a, b := smp[r], smp[r+1]
		out[r] = runStats{calls: rr.Calls, elapsed: time.Duration(rr.Seconds * float64(time.Second)),
			serverCPU: b.cpu - a.cpu, clientCPU: b.client - a.client, sysR: b.sysR - a.sysR, sysW: b.sysW - a.sysW}
		out[r].lat = []int64{int64(rr.P50us * 1e3), int64(rr.P99us * 1e3)}
	}
	return out, nil
}

func pyMetrics(r runStats) map[string]float64 {
	m := r.metrics("call")
	m["p50_us"] = float64(r.lat[0]) / 1e3
	m["p99_us"] = float64(r.lat[1]) / 1e3
	return m
}
