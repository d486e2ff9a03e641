package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// fanState counts deliveries of the current message.
type fanState struct {
	want int64
	got  atomic.Int64
	last atomic.Int64 // UnixNano of the last delivery
	done chan struct{}
}

// fanMind is a chat member's mind: print(message) counts.
type fanMind struct {
	pb.Referenceable
	f *fanState
}

func (m *fanMind) RemotePrint(s string) {
	if m.f.got.Add(1) == m.f.want {
		m.f.last.Store(time.Now().UnixNano())
		select {
		case m.f.done <- struct{}{}:
		default:
		}
	}
}

// runFanout: o.fanoutMembers Go clients log in to a chat server and join
// one group; one member sends a message at a time; a message's time is
// from the send until the last member's mind has it.
func runFanout(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	for _, kind := range []string{"spread", "twisted"} {
		if !o.want(kind + " chat fan-out") {
			continue
		}
		m := &Measurement{Section: "fanout", Name: kind + " chat fan-out",
			Params: map[string]any{"members": o.fanoutMembers}}
		out = append(out, m)
		logf("fanout: %s, %d members", kind, o.fanoutMembers)
		if err := fanoutOne(ctx, o, kind, m); err != nil {
			m.Error = err.Error()
			logf("fanout: %s: %v", kind, err)
		}
		m.summarize()
		logf("fanout: %-8s %.2f ms to the last of %d members (p99 %.2f ms), server CPU %.0f µs/message",
			kind, m.med("p50_ms"), o.fanoutMembers, m.med("p99_ms"), m.med("server_cpu_us_per_message"))
	}
	return out
}

func fanoutOne(ctx context.Context, o *options, kind string, m *Measurement) error {
	n := o.fanoutMembers
	var srv *server
	var err error
	if kind == "spread" {
		srv, err = startServer(ctx, "spread chat server", o.benchDir,
			append([]string{o.self, "serve", "-kind", "chat", "-users", strconv.Itoa(n)}, o.profileArgs("fanout-spread")...)...)
	} else {
		srv, err = startServer(ctx, "twisted chat_server.py", o.benchDir,
			o.python, "-u", filepath.Join(o.benchDir, "py", "chat_server.py"), "--users", strconv.Itoa(n))
	}
	if err != nil {
		return err
	}
	defer srv.stop()

	f := &fanState{want: int64(n), done: make(chan struct{}, 1)}
	brokers := make([]*pb.Broker, n)
	groups := make([]*pb.RemoteReference, n)
	defer func() {
		for _, b := range brokers {
			if b != nil {
				b.Close()
			}
		}
	}()
	t0 := time.Now()
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
				b, err := pb.Dial(lctx, srv.addr, nil)
				if err != nil {
					cancel()
					errs[w] = err
					return
				}
				brokers[i] = b
				a, err := b.Login(lctx, &cred.UsernamePassword{Username: fmt.Sprintf("user%d", i), Password: []byte("pw")}, &fanMind{f: f})
				if err != nil {
					cancel()
					errs[w] = err
					return
				}
				g, err := a.CallRemote(lctx, "joinGroup", "#bench")
				cancel()
				if err != nil {
					errs[w] = err
					return
				}
				gr, ok := g.(*pb.RemoteReference)
				if !ok {
					errs[w] = fmt.Errorf("joinGroup returned %T", g)
					return
				}
				groups[i] = gr
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return fmt.Errorf("joining: %w", e)
		}
	}
	logf("fanout: %s: %d members joined in %.1f s", kind, n, time.Since(t0).Seconds())

	sender := groups[0]
	// one sends a message and waits until every member has it.
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
	wend := time.Now().Add(o.warmup)
	for time.Now().Before(wend) || seq == 0 {
		if _, err := one(seq); err != nil {
			return err
		}
		seq++
	}
	for r := 0; r < o.runs; r++ {
		var lat []int64
		cpu0 := cpuOf(srv.Pid())
		rs := time.Now()
		end := rs.Add(o.duration)
		for k := 0; k < 1_000_000 && (time.Now().Before(end) || len(lat) < 3); k++ {
			d, err := one(seq)
			if err != nil {
				return err
			}
			seq++
			lat = append(lat, int64(d))
		}
		el := time.Since(rs)
		cpu := cpuOf(srv.Pid()) - cpu0
		slices.Sort(lat)
		m.Runs = append(m.Runs, map[string]float64{
			"messages":                  float64(len(lat)),
			"messages_per_s":            float64(len(lat)) / el.Seconds(),
			"deliveries_per_s":          float64(len(lat)*n) / el.Seconds(),
			"p50_ms":                    percentile(lat, 50) / 1e6,
			"p99_ms":                    percentile(lat, 99) / 1e6,
			"server_cpu_us_per_message": float64(cpu.Microseconds()) / float64(len(lat)),
		})
	}
	return nil
}
