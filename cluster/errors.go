package cluster

import "errors"

// The bus's errors.
var (
	// ErrQueueFull: the outgoing queue is full (the bus is slow or
	// absent); the message was not published.
	ErrQueueFull = errors.New("cluster: outgoing queue full: message not published to other brokers")
	// ErrClosed: the Bus has been closed.
	ErrClosed = errors.New("cluster: bus closed")
	// ErrBadName: an empty group name, or one longer than MaxNameLen.
	ErrBadName = errors.New("cluster: a group name must be 1 to 1024 bytes")
)

// MaxNameLen bounds a group name in bytes (its subject must fit NATS's
// 4 KiB control line with room to spare).
const MaxNameLen = 1024
