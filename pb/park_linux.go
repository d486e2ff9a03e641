//go:build linux

package pb

import (
	"sync"
	"syscall"
	"time"
)

// An idle plain-TCP connection holds no goroutine at all on Linux: its
// reader registers the socket with the parker's epoll instance and
// ends; when the socket becomes readable (or is hung up) the parker
// starts a new reader. One goroutine, blocked in epoll_wait on its own
// thread, serves every parked connection of the process. The socket
// stays registered with Go's own poller too; the parker only decides
// when a reader goroutine is worth having.
type parker struct {
	once sync.Once
	epfd int
	err  error

	mu     sync.Mutex
	parked map[uint64]*Broker // by token, the epoll event's data
	next   uint64
}

var idleParker = parker{parked: make(map[uint64]*Broker)}

func (p *parker) start() {
	p.epfd, p.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if p.err == nil {
		go p.loop()
	}
}

// park registers b's socket and reports whether it did. After true the
// calling reader must end: the parker starts the next one.
func (b *Broker) park() bool {
	p := &idleParker
	startParker()
	if p.err != nil || b.raw == nil {
		return false
	}
	// b.mu orders park against shutdown: a broker that is closing is not
	// parked, and shutdown unparks a parked one before closing the socket.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	p.mu.Lock()
	p.next++
	token := p.next
	p.parked[token] = b
	b.parkToken = token
	p.mu.Unlock()
	var cerr error
	err := b.raw.Control(func(fd uintptr) {
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
		b.parkToken = 0
		p.mu.Unlock()
		return false
	}
	return true
}

// unpark takes b's socket out of the parker, if it is there. shutdown
// calls it before closing the socket.
func (b *Broker) unpark() {
	p := &idleParker
	p.mu.Lock()
	token := b.parkToken
	if token != 0 {
		delete(p.parked, token)
		b.parkToken = 0
	}
	p.mu.Unlock()
	if token != 0 {
		p.forget(b)
	}
}

// forget removes b's socket from the epoll set.
func (p *parker) forget(b *Broker) {
	b.raw.Control(func(fd uintptr) {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// loop wakes parked connections whose sockets became readable.
func (p *parker) loop() {
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
			b := p.parked[token]
			if b != nil {
				delete(p.parked, token)
				b.parkToken = 0
			}
			p.mu.Unlock()
			if b == nil {
				continue // unparked by shutdown meanwhile
			}
			p.forget(b)
			go b.readFrom(false, false)
		}
	}
}

func startParker() { idleParker.once.Do(idleParker.start) }

// parkedCount returns how many connections are parked (for tests).
func parkedCount() int {
	p := &idleParker
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
