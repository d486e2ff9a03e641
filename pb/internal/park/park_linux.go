//go:build linux

package park

import (
	"sync"
	"syscall"
	"time"
)

// Parker holds parked sockets. Its methods are safe for concurrent use.
type Parker[T any] struct {
	wake func(T)

	once sync.Once
	epfd int
	err  error

	mu     sync.Mutex
	parked map[uint64]*Slot[T] // by token, the epoll event's data
	next   uint64
}

// New returns a Parker that calls wake, on its own goroutine, for each
// parked socket that becomes readable. wake must not block: it should
// start a goroutine.
func New[T any](wake func(T)) *Parker[T] {
	return &Parker[T]{wake: wake, parked: make(map[uint64]*Slot[T])}
}

// Start starts the parker's goroutine, once; it then lives as long as
// the process. Park starts it too.
func (p *Parker[T]) Start() { p.once.Do(p.start) }

func (p *Parker[T]) start() {
	p.epfd, p.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if p.err == nil {
		go p.loop()
	}
}

// Park registers slot's socket, and reports whether it did. After true
// the caller must stop reading: the parker calls wake with slot's owner
// once the socket is readable. The caller must order Park against
// closing the socket (Unpark first).
func (p *Parker[T]) Park(slot *Slot[T]) bool {
	p.Start()
	raw := slot.raw
	if p.err != nil || raw == nil {
		return false
	}
	p.mu.Lock()
	p.next++
	token := p.next
	p.parked[token] = slot
	slot.token = token
	p.mu.Unlock()
	var cerr error
	err := raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
			Fd:     int32(uint32(token)),
			Pad:    int32(uint32(token >> 32)),
		}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		p.mu.Lock()
		delete(p.parked, token)
		slot.token = 0
		p.mu.Unlock()
		return false
	}
	return true
}

// Unpark takes the socket of slot out of the parker, if it is there;
// wake will not be called for it. Call it before closing the socket.
func (p *Parker[T]) Unpark(slot *Slot[T]) {
	p.mu.Lock()
	token := slot.token
	if token != 0 {
		delete(p.parked, token)
		slot.token = 0
	}
	p.mu.Unlock()
	if token != 0 {
		p.forget(slot.raw)
	}
}

// forget removes a socket from the epoll set.
func (p *Parker[T]) forget(raw syscall.RawConn) {
	raw.Control(func(fd uintptr) {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// loop wakes parked connections whose sockets became readable.
func (p *Parker[T]) loop() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			// Not expected; parked readers would never wake. Keep trying
			// rather than strand them, without spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			s := p.parked[token]
			if s != nil {
				delete(p.parked, token)
				s.token = 0
			}
			p.mu.Unlock()
			if s == nil {
				continue // unparked meanwhile
			}
			p.forget(s.raw)
			p.wake(s.owner)
		}
	}
}

// Count returns how many sockets are parked.
func (p *Parker[T]) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
