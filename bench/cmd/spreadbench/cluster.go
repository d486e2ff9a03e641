package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/natstest"
	"github.com/gospread/spread/pb"
)

// The cluster section: chat brokers joined by NATS (spreadbench serve
// -kind chat -cluster URL), every process on this machine.
//
//   - fan-out: one message to o.clusterMembers members on one broker
//     (no cluster), then to 3x as many spread round-robin over three
//     brokers; the time from the send until the last member's mind has
//     it.
//   - throughput: one sender pipelines sends (up to 256 in flight) to a
//     group with one member on each of three brokers; the rate at which
//     the members on the other two brokers receive them.
//   - hop: one message at a time to a group with a member on the
//     sender's broker and one on another; the latency of each, and the
//     difference of their medians (the cross-broker hop).
func runCluster(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	nats, err := natstest.NewServer()
	if err != nil {
		m := &Measurement{Section: "cluster", Name: "nats-server", Error: err.Error()}
		return append(out, m)
	}
	defer nats.Kill()
	type step struct {
		name    string
		brokers int
		run     func(context.Context, *options, []*server, *Measurement) error
	}
	n := o.clusterMembers
	steps := []step{
		{"fan-out, 1 broker", 1, func(ctx context.Context, o *options, srvs []*server, m *Measurement) error {
			m.Params = map[string]any{"members": n, "brokers": 1}
			return clusterFanout(ctx, o, srvs, n, m)
		}},
		{"fan-out, 3 brokers", 3, func(ctx context.Context, o *options, srvs []*server, m *Measurement) error {
			m.Params = map[string]any{"members": 3 * n, "brokers": 3}
			return clusterFanout(ctx, o, srvs, 3*n, m)
		}},
		{"throughput, 3 brokers", 3, clusterThroughput},
		{"hop", 2, clusterHop},
	}
	for _, s := range steps {
		if !o.want("cluster " + s.name) {
			continue
		}
		m := &Measurement{Section: "cluster", Name: s.name}
		out = append(out, m)
		logf("cluster: %s", s.name)
		var srvs []*server
		for i := 0; i < s.brokers; i++ {
			args := []string{o.self, "serve", "-kind", "chat", "-users", strconv.Itoa(3 * n)}
			if s.brokers > 1 {
				args = append(args, "-cluster", nats.URL(), "-node", fmt.Sprintf("b%d", i))
			}
			srv, err := startServer(ctx, fmt.Sprintf("spread chat broker %d", i), o.benchDir, args...)
			if err != nil {
				m.Error = err.Error()
				break
			}
			srvs = append(srvs, srv)
		}
		if m.Error == "" {
			if err := s.run(ctx, o, srvs, m); err != nil {
				m.Error = err.Error()
			}
		}
		for _, srv := range srvs {
			srv.stop()
		}
		if m.Error != "" {
			logf("cluster: %s: %s", s.name, m.Error)
		}
		m.summarize()
	}
	return out
}

// clusterMember is one logged-in member of the group #bench.
type clusterMember struct {
	b     *pb.Broker
	group *pb.RemoteReference
}

// joinAll logs users user0..user<n-1> in, round-robin over addrs, each
// with minds[i], and joins #bench.
func joinAll(ctx context.Context, addrs []string, n int, mind func(i int) any) ([]clusterMember, func(), error) {
	ms := make([]clusterMember, n)
	closeAll := func() {
		for _, m := range ms {
			if m.b != nil {
				m.b.Close()
			}
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				b, err := pb.Dial(lctx, addrs[i%len(addrs)], nil)
				if err != nil {
					cancel()
					errs[w] = err
					return
				}
				ms[i].b = b
				a, err := b.Login(lctx, &cred.UsernamePassword{Username: fmt.Sprintf("user%d", i), Password: []byte("pw")}, mind(i))
				if err == nil {
					var g any
					g, err = a.CallRemote(lctx, "joinGroup", "#bench")
					ms[i].group, _ = g.(*pb.RemoteReference)
				}
				cancel()
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			closeAll()
			return nil, nil, fmt.Errorf("joining: %w", e)
		}
	}
	return ms, closeAll, nil
}

// waitMembers waits until member 0's group lists n members (the
// brokers have exchanged their states).
func waitMembers(ctx context.Context, g *pb.RemoteReference, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := g.CallRemote(ctx, "members")
		if err != nil {
			return err
		}
		if l, _ := v.([]any); len(l) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the member list has %d of %d members after 30 s", len(v.([]any)), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func addrsOf(srvs []*server) []string {
	out := make([]string, len(srvs))
	for i, s := range srvs {
		out[i] = s.addr
	}
	return out
}

// clusterFanout also measures each broker's CPU per message: on a
// machine with a core per broker, the time to the last member follows
// the busiest broker's share, which the sum and the maximum show.
func clusterFanout(ctx context.Context, o *options, srvs []*server, n int, m *Measurement) error {
	addrs := addrsOf(srvs)
	f := &fanState{want: int64(n), done: make(chan struct{}, 1)}
	t0 := time.Now()
	ms, closeAll, err := joinAll(ctx, addrs, n, func(int) any { return &fanMind{f: f} })
	if err != nil {
		return err
	}
	defer closeAll()
	if err := waitMembers(ctx, ms[0].group, n); err != nil {
		return err
	}
	logf("cluster: %d members on %d brokers joined in %.1f s", n, len(addrs), time.Since(t0).Seconds())
	sender := ms[0].group
	one := func(seq int) (time.Duration, error) {
		f.got.Store(0)
		select {
		case <-f.done:
		default:
		}
		start := time.Now()
		if _, err := sender.CallRemote(ctx, "send", "fan-out "+strconv.Itoa(seq)); err != nil {
			return 0, err
		}
		select {
		case <-f.done:
		case <-time.After(30 * time.Second):
			return 0, fmt.Errorf("message %d reached %d of %d members in 30 s", seq, f.got.Load(), n)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return time.Duration(f.last.Load() - start.UnixNano()), nil
	}
	seq := 0
	for wend := time.Now().Add(o.warmup); time.Now().Before(wend) || seq == 0; seq++ {
		if _, err := one(seq); err != nil {
			return err
		}
	}
	for r := 0; r < o.runs; r++ {
		var lat []int64
		cpu0 := make([]time.Duration, len(srvs))
		for i, s := range srvs {
			cpu0[i] = cpuOf(s.Pid())
		}
		busy0, _ := machineBusy()
		rs := time.Now()
		for end := rs.Add(o.duration); time.Now().Before(end) || len(lat) < 3; seq++ {
			d, err := one(seq)
			if err != nil {
				return err
			}
			lat = append(lat, int64(d))
		}
		var sum, most time.Duration
		for i, s := range srvs {
			c := cpuOf(s.Pid()) - cpu0[i]
			sum += c
			most = max(most, c)
		}
		busy1, err := machineBusy()
		if err != nil {
			return err
		}
		// Every CPU second the machine spent (brokers, NATS, the members
		// in this process, the kernel), per message: divided by the CPUs,
		// the shortest fan-out time these CPUs allow.
		machine := float64((busy1 - busy0).Microseconds()) / float64(len(lat))
		slices.Sort(lat)
		m.Runs = append(m.Runs, map[string]float64{
			"machine_cpu_us_per_message":        machine,
			"cpu_floor_ms":                      machine / float64(runtime.NumCPU()) / 1000,
			"messages_per_s":                    float64(len(lat)) / time.Since(rs).Seconds(),
			"p50_ms":                            percentile(lat, 50) / 1e6,
			"p99_ms":                            percentile(lat, 99) / 1e6,
			"server_cpu_us_per_message":         float64(sum.Microseconds()) / float64(len(lat)),
			"busiest_server_cpu_us_per_message": float64(most.Microseconds()) / float64(len(lat)),
		})
	}
	logf("cluster: fan-out to %d members on %d brokers: p50 %.2f ms", n, len(addrs), m.Runs[len(m.Runs)-1]["p50_ms"])
	return nil
}

// countMind counts lines.
type countMind struct {
	pb.Referenceable
	n atomic.Int64
}

func (c *countMind) RemotePrint(string) { c.n.Add(1) }

func clusterThroughput(ctx context.Context, o *options, srvs []*server, m *Measurement) error {
	addrs := addrsOf(srvs)
	minds := make([]*countMind, len(addrs))
	ms, closeAll, err := joinAll(ctx, addrs, len(addrs), func(i int) any { minds[i] = &countMind{}; return minds[i] })
	if err != nil {
		return err
	}
	defer closeAll()
	if err := waitMembers(ctx, ms[0].group, len(addrs)); err != nil {
		return err
	}
	m.Params = map[string]any{"brokers": len(addrs), "in_flight": 256}
	remote := func() int64 {
		var s int64
		for _, c := range minds[1:] {
			s += c.n.Load()
		}
		return s
	}
	// The sender keeps 256 sends in flight.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var sent atomic.Int64
	errc := make(chan error, 1)
	go func() {
		inflight := make(chan *pb.Future, 256)
		go func() {
			for f := range inflight {
				if _, err := f.Wait(ctx); err != nil && sctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
		defer close(inflight)
		for i := 0; sctx.Err() == nil; i++ {
			f, err := ms[0].group.CallRemoteAsync(sctx, "send", "tp "+strconv.Itoa(i))
			if err != nil {
				return
			}
			sent.Add(1)
			inflight <- f
		}
	}()
	time.Sleep(o.warmup)
	for r := 0; r < o.runs; r++ {
		r0, t0 := remote(), time.Now()
		select {
		case err := <-errc:
			return err
		case <-time.After(o.duration):
		}
		got := remote() - r0
		m.Runs = append(m.Runs, map[string]float64{
			"messages_per_s": float64(got) / float64(len(addrs)-1) / time.Since(t0).Seconds(),
		})
	}
	stop()
	logf("cluster: throughput %.0f messages/s at each remote member", m.Runs[len(m.Runs)-1]["messages_per_s"])
	return nil
}

// stampMind notes when each line arrives.
type stampMind struct {
	pb.Referenceable
	ch chan time.Time
}

func (s *stampMind) RemotePrint(string) { s.ch <- time.Now() }

func clusterHop(ctx context.Context, o *options, srvs []*server, m *Measurement) error {
	addrs := addrsOf(srvs)
	// user0 (sender) and user2 on broker 0, user1 on broker 1.
	minds := make([]*stampMind, 3)
	ms, closeAll, err := joinAll(ctx, addrs, 3, func(i int) any { minds[i] = &stampMind{ch: make(chan time.Time, 16)}; return minds[i] })
	if err != nil {
		return err
	}
	defer closeAll()
	if err := waitMembers(ctx, ms[0].group, 3); err != nil {
		return err
	}
	one := func(seq int) (local, remote time.Duration, err error) {
		start := time.Now()
		if _, err := ms[0].group.CallRemote(ctx, "send", "hop "+strconv.Itoa(seq)); err != nil {
			return 0, 0, err
		}
		var tl, tr time.Time
		for _, x := range []struct {
			c *stampMind
			t *time.Time
		}{{minds[2], &tl}, {minds[1], &tr}, {minds[0], new(time.Time)}} {
			select {
			case *x.t = <-x.c.ch:
			case <-time.After(10 * time.Second):
				return 0, 0, fmt.Errorf("message %d not delivered in 10 s", seq)
			}
		}
		return tl.Sub(start), tr.Sub(start), nil
	}
	seq := 0
	for wend := time.Now().Add(o.warmup); time.Now().Before(wend) || seq == 0; seq++ {
		if _, _, err := one(seq); err != nil {
			return err
		}
	}
	for r := 0; r < o.runs; r++ {
		var loc, rem []int64
		for end := time.Now().Add(o.duration); time.Now().Before(end) || len(loc) < 3; seq++ {
			l, rt, err := one(seq)
			if err != nil {
				return err
			}
			loc, rem = append(loc, int64(l)), append(rem, int64(rt))
		}
		slices.Sort(loc)
		slices.Sort(rem)
		m.Runs = append(m.Runs, map[string]float64{
			"local_p50_us":  percentile(loc, 50) / 1e3,
			"local_p99_us":  percentile(loc, 99) / 1e3,
			"remote_p50_us": percentile(rem, 50) / 1e3,
			"remote_p99_us": percentile(rem, 99) / 1e3,
			"hop_p50_us":    (percentile(rem, 50) - percentile(loc, 50)) / 1e3,
			"hop_p99_us":    (percentile(rem, 99) - percentile(loc, 99)) / 1e3,
		})
	}
	last := m.Runs[len(m.Runs)-1]
	logf("cluster: hop p50 %.0f µs (local %.0f, remote %.0f)", last["hop_p50_us"], last["local_p50_us"], last["remote_p50_us"])
	return nil
}
