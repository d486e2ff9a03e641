package cluster

import (
	"log/slog"
	"time"
)

// Config configures a Bus. A nil *Config, or a zero field, means the
// default.
type Config struct {
	// Servers are the NATS URLs (nats://HOST:PORT). Default
	// nats://127.0.0.1:4222.
	Servers []string

	// Node names this broker in the cluster; it must be unique among
	// the brokers that run at one time. Default: the host name and the
	// process id.
	Node string

	// Prefix is the first token of every subject. Default "spread".
	// Brokers with different prefixes on one NATS server do not see each
	// other.
	Prefix string

	// Logger receives the bus's events. Nil means slog.Default().
	Logger *slog.Logger

	// Heartbeat is how often a node publishes its state even when it
	// has not changed. Default 1s.
	Heartbeat time.Duration

	// Timeout is how long a node may stay silent before the others
	// take it for gone. Default 3 heartbeats.
	Timeout time.Duration

	// StateDelay coalesces state changes: a change is published at most
	// this long after it happened. Default 20ms.
	StateDelay time.Duration

	// MaxQueued bounds the outgoing queue, in messages. Default 65536.
	MaxQueued int

	// ReconnectBuffer is what the NATS client keeps, in bytes, while it
	// is disconnected. Default 8 MiB.
	ReconnectBuffer int
}

type settings struct {
	Config
	log *slog.Logger
}

func resolve(c *Config, defaultNode func() string) *settings {
	s := &settings{}
	if c != nil {
		s.Config = *c
	}
	s.Servers = append([]string(nil), s.Servers...)
	if len(s.Servers) == 0 {
		s.Servers = []string{"nats://127.0.0.1:4222"}
	}
	if s.Node == "" {
		s.Node = defaultNode()
	}
	if s.Prefix == "" {
		s.Prefix = "spread"
	}
	if s.Heartbeat <= 0 {
		s.Heartbeat = time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = 3 * s.Heartbeat
	}
	if s.StateDelay <= 0 {
		s.StateDelay = 20 * time.Millisecond
	}
	if s.MaxQueued <= 0 {
		s.MaxQueued = 65536
	}
	if s.ReconnectBuffer <= 0 {
		s.ReconnectBuffer = 8 << 20
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}
