package cluster

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Stats are the bus's counters since New, for metrics.
type Stats struct {
	Node      string
	Connected bool // NATS reachable now
	Nodes     int  // other live nodes
	Queued    int  // messages waiting in the outgoing queue

	Published  uint64 // messages handed to NATS
	Dropped    uint64 // refused by a full outgoing queue
	Failed     uint64 // refused by NATS (reconnect buffer full, closed)
	Delivered  uint64 // messages from other nodes handed to the Handler
	Duplicates uint64 // messages dropped as already delivered
	Lost       uint64 // gaps in other nodes' sequence numbers
	Malformed  uint64 // messages or states that did not parse
	States     uint64 // state messages (heartbeats) published
	Outages    uint64 // times the NATS connection was lost
	NodesLost  uint64 // nodes taken for gone after Timeout of silence

	// Lag is the time from Publish on the sending node to delivery
	// here, on the sender's clock.
	Lag Histogram
}

// Histogram is a cumulative histogram in seconds, as Prometheus has it.
type Histogram struct {
	Count   uint64
	Sum     float64   // seconds
	Bounds  []float64 // upper bounds, seconds
	Buckets []uint64  // cumulative counts, one per bound
}

// LagBounds are the upper bounds of Stats.Lag's buckets, in seconds.
var LagBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type counters struct {
	connected                                                                           atomic.Bool
	published, dropped, failed, delivered, duplicates, lost, malformed, states, outages atomic.Uint64
	nodesLost                                                                           atomic.Uint64
	lagCount                                                                            atomic.Uint64
	lagSum                                                                              atomic.Int64 // nanoseconds
	lagBuckets                                                                          []atomic.Uint64
	lastDropLog, lastFailLog, lastBadLog, lastDupNodeLog                                atomic.Int64
}

func (c *counters) init() { c.lagBuckets = make([]atomic.Uint64, len(LagBounds)) }

func (c *counters) observeLag(ns int64) {
	if ns < 0 {
		ns = 0
	}
	c.lagCount.Add(1)
	c.lagSum.Add(ns)
	s := float64(ns) / 1e9
	for i, ub := range LagBounds {
		if s <= ub {
			c.lagBuckets[i].Add(1)
			return
		}
	}
}

// Stats returns the bus's counters now.
func (b *Bus) Stats() Stats {
	c := &b.st
	s := Stats{
		Node:       b.cfg.Node,
		Connected:  c.connected.Load(),
		Nodes:      len(b.Nodes()),
		Queued:     len(b.out),
		Published:  c.published.Load(),
		Dropped:    c.dropped.Load(),
		Failed:     c.failed.Load(),
		Delivered:  c.delivered.Load(),
		Duplicates: c.duplicates.Load(),
		Lost:       c.lost.Load(),
		Malformed:  c.malformed.Load(),
		States:     c.states.Load(),
		Outages:    c.outages.Load(),
		NodesLost:  c.nodesLost.Load(),
	}
	s.Lag.Count = c.lagCount.Load()
	s.Lag.Sum = float64(c.lagSum.Load()) / 1e9
	s.Lag.Bounds = LagBounds
	s.Lag.Buckets = make([]uint64, len(LagBounds))
	var cum uint64
	for i := range LagBounds {
		cum += c.lagBuckets[i].Load()
		s.Lag.Buckets[i] = cum
	}
	return s
}

// logger logs, and can hold back repeats of one message.
type logger struct{ *slog.Logger }

// every logs msg at Warn unless it was logged through last less than
// gap ago.
func (l logger) every(last *atomic.Int64, gap time.Duration, msg string, args ...any) {
	now := time.Now().UnixNano()
	prev := last.Load()
	if prev != 0 && now-prev < int64(gap) {
		return
	}
	if !last.CompareAndSwap(prev, now) {
		return
	}
	l.Warn(msg, args...)
}
