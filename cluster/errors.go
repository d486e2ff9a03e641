package cluster

import "errors"

// The bus's errors.
var (
	// ErrQueueFull: the outgoing queue is full (the bus is slow or
	// absent); the message was not published.
	ErrQueueFull = errors.New("cluster: outgoing queue full: message not published to other brokers")
	// ErrClosed: the Bus has been closed.
	ErrClosed = errors.New("cluster: bus closed")
	// ErrBadName: an empty node or group name.
	ErrBadName = errors.New("cluster: node names and group names must be non-empty")
)
