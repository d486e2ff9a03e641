// Package park lets an idle connection wait without a goroutine. On
// Linux one goroutine per Parker, blocked in epoll_wait on its own
// thread, serves every parked connection of the process: a connection's
// reader registers the socket (Park) and ends; when the socket becomes
// readable or is hung up, the parker calls the wake function, which
// starts a new reader. The socket stays registered with Go's own poller
// too; the parker only decides when a reader goroutine is worth having.
// Elsewhere Park reports false and the caller goes on waiting on a
// goroutine of its own.
//
// The package knows nothing of PB: the owner of a parked socket is a
// value of the Parker's type T, handed back to the wake function.
package park

import "syscall"

// Slot is a connection's place in a Parker: its socket, its owner (the
// value the wake function gets), and the token of its registration or 0.
// It lives in the connection. The token is read and written only under
// the Parker's lock.
type Slot[T any] struct {
	raw   syscall.RawConn
	owner T
	token uint64
}

// Init sets the socket and the owner; a nil socket (not a plain socket)
// is never parked.
func (s *Slot[T]) Init(raw syscall.RawConn, owner T) { s.raw, s.owner = raw, owner }

// Raw returns the socket Init set.
func (s *Slot[T]) Raw() syscall.RawConn { return s.raw }
