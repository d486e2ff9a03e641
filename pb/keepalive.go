package pb

import (
	"context"
	"errors"
	"time"
)

// Detecting dead peers
//
// A peer can vanish without closing its connection: its machine loses
// power, a NAT forgets the flow, the process hangs. Two mechanisms find
// out:
//
//   - TCP keep-alive, on by default on both sides (Config.KeepAlive for
//     Dial; net.Listen's default for servers). It detects a dead machine
//     or a broken path within minutes, not a hung process.
//   - A [Probe]: an application-level call at an interval. A peer that
//     does not answer within the timeout has its connection closed with
//     [ErrPeerSilent], so that pending calls fail and a [Session]
//     reconnects. Any answer counts, an error answer included: a Twisted
//     peer that answers "no such method" is alive.
//
// A client starts a probe after Dial, or through SessionConfig.Probe. A
// server can start one per connection where it first sees the broker:
// in Config.Root (func(b *Broker) any), or, with a Portal, in its realm,
// from the mind: mind.Broker().StartProbe(&pb.Probe{Target: mind}).

// ErrPeerSilent is why a connection was closed by its Probe: the peer
// did not answer in time.
var ErrPeerSilent = errors.New("pb: the peer did not answer the liveness probe")

// Probe configures an application-level liveness check (see
// [Broker.StartProbe]).
type Probe struct {
	// Interval between probes. Default 30s.
	Interval time.Duration
	// Timeout for each answer. Default Interval.
	Timeout time.Duration
	// Method is the remote method called, with no arguments. Default
	// "ping". It need not exist: an error answer proves the peer alive
	// as well (a Twisted peer then logs the failed call, so a method the
	// peer has is quieter).
	Method string
	// Target is the object called. Nil means the peer's root.
	Target *RemoteReference
}

// StartProbe calls p.Method on p.Target every p.Interval until the
// connection ends, and closes the connection with ErrPeerSilent when an
// answer does not arrive within p.Timeout. A nil p means the defaults.
func (b *Broker) StartProbe(p *Probe) {
	var q Probe
	if p != nil {
		q = *p
	}
	if q.Interval <= 0 {
		q.Interval = 30 * time.Second
	}
	if q.Timeout <= 0 {
		q.Timeout = q.Interval
	}
	if q.Method == "" {
		q.Method = "ping"
	}
	if q.Target == nil {
		q.Target = b.Root()
	}
	go b.probe(q)
}

func (b *Broker) probe(q Probe) {
	t := time.NewTicker(q.Interval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(b.ctx, q.Timeout)
		_, err := q.Target.CallRemote(ctx, q.Method)
		timedOut := errors.Is(err, context.DeadlineExceeded) && b.ctx.Err() == nil
		cancel()
		if timedOut {
			b.cfg.log.Warn("pb: peer did not answer the liveness probe; closing", "peer", b.RemoteAddr().String(), "timeout", q.Timeout)
			b.shutdown(ErrPeerSilent)
			return
		}
	}
}
