package pb

import (
	"runtime"
	"sync"
	"time"

	"github.com/gospread/spread/banana"
)

// writer serializes everything a broker sends. Senders encode into a
// shared buffer under a mutex; at most one flush at a time moves the
// buffer to the socket, so bytes leave in the order they were queued.
//
// There is no writer goroutine while a connection is idle: a send that
// finds the writer idle starts a goroutine that flushes until the buffer
// is empty, then ends. Answers take one of three write paths, which
// sched.go's header describes (answerPath picks one). A caller waiting
// with a ctx never writes to the socket, so it cannot block on a peer
// that does not read. The buffer is bounded: a peer that lets more than
// MaxQueuedBytes pile up is disconnected instead of growing memory.
type writer struct {
	b        *Broker
	mu       sync.Mutex
	enc      banana.Encoder
	out      []byte
	spare    []byte
	flushing bool
	idle     chan struct{} // made by close, closed when the current flush ends
	closed   bool
	writing  int   // bytes of the write under way
	charged  int64 // bytes counted in the process's queuedBytes
}

func (w *writer) init(b *Broker) {
	w.b = b
	w.enc = banana.Encoder{Dialect: banana.DialectNone}
}

func (w *writer) setDialect(d banana.Dialect) {
	w.mu.Lock()
	w.enc.Dialect = d
	w.mu.Unlock()
}

// enqueue encodes the message msg onto the buffer. An encoding error leaves nothing
// queued and is returned; a full buffer closes the connection.
func (w *writer) enqueue(msg []any) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	n := len(w.out)
	out, err := w.enc.AppendList(w.out, msg)
	if err != nil {
		w.out = out[:n]
		w.mu.Unlock()
		return err
	}
	w.out = out
	over := len(out) > w.b.cfg.MaxQueuedBytes
	var budget bool
	if len(out)+w.writing > queuedFree || w.charged != 0 {
		budget = w.chargeLocked()
	}
	w.mu.Unlock()
	if over || budget {
		return w.tooMuch(budget)
	}
	return nil
}

// chargeLocked counts the queued bytes beyond queuedFree in the
// process's budget and reports whether the process is over it while
// this connection's queue grows. Call with w.mu held.
func (w *writer) chargeLocked() bool {
	want := int64(0)
	if !w.closed {
		want = max(int64(len(w.out)+w.writing-queuedFree), 0)
	}
	delta := want - w.charged
	if delta == 0 {
		return false
	}
	w.charged = want
	total := queuedBytes.Add(delta)
	return delta > 0 && over(total, w.b.cfg.lim.ProcessQueuedBytes)
}

// tooMuch disconnects a peer that lets too much output pile up.
//
//go:noinline
func (w *writer) tooMuch(process bool) error {
	var err error
	if process {
		err = &BudgetError{What: "queued output", Limit: w.b.cfg.lim.ProcessQueuedBytes, Scope: "process"}
	} else {
		err = protoErr(nil, "peer is not reading: more than %d bytes queued", w.b.cfg.MaxQueuedBytes)
	}
	w.b.logEnd("pb: disconnecting slow peer", err)
	go w.b.shutdown(err)
	return err
}

// send queues the message msg and makes sure a flush runs. Safe on any goroutine,
// under locks too: it never writes to the socket itself.
func (w *writer) send(msg []any) error {
	if err := w.enqueue(msg); err != nil {
		return err
	}
	w.kick()
	return nil
}

// sendAnswer queues an answer and writes it by the path mode (see the
// three write paths in sched.go's header): answerLater leaves it for the
// reader, answerNow writes it at once on the calling goroutine (a
// handler's) unless a flush is already running, answerFlusher leaves it
// to a flusher goroutine with whatever other answers are queued
// meanwhile.
func (w *writer) sendAnswer(msg []any, mode answerMode) error {
	if err := w.enqueue(msg); err != nil {
		return err
	}
	switch mode {
	case answerFlusher:
		w.kick()
	case answerNow:
		if w.startFlush() {
			w.flush()
		}
	}
	return nil
}

// sendRaw queues bytes that are already encoded (the dialect offer and
// choice).
func (w *writer) sendRaw(p []byte) {
	w.mu.Lock()
	w.out = append(w.out, p...)
	w.mu.Unlock()
	w.kick()
}

// kick starts a flush unless one is running.
func (w *writer) kick() {
	if w.startFlush() {
		go w.drain()
	}
}

// startFlush claims the flush if none is running and there is something
// to write; the caller then runs flush.
func (w *writer) startFlush() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushing || len(w.out) == 0 {
		return false
	}
	w.flushing = true
	w.idle = nil
	return true
}

// drain runs a flush on its own goroutine. It yields once first, so
// that answers other goroutines are about to queue share the write (one
// syscall for many pipelined answers).
func (w *writer) drain() {
	runtime.Gosched()
	w.flush()
}

// flush writes until the buffer is empty, then ends the flush.
func (w *writer) flush() {
	for {
		w.mu.Lock()
		buf := w.out
		if len(buf) == 0 {
			w.endFlush()
			if cap(buf) > 64<<10 {
				w.out = nil // do not keep a large buffer for an idle connection
			}
			w.mu.Unlock()
			return
		}
		w.out = w.spare[:0]
		w.spare = nil
		w.writing = len(buf)
		w.mu.Unlock()

		w.b.conn.SetWriteDeadline(time.Now().Add(w.b.cfg.WriteTimeout))
		_, err := w.b.conn.Write(buf)

		w.mu.Lock()
		w.writing = 0
		if w.charged != 0 {
			w.chargeLocked()
		}
		if cap(buf) <= 64<<10 {
			w.spare = buf[:0]
		}
		if err != nil {
			w.out = nil
			w.endFlush()
			w.mu.Unlock()
			go w.b.shutdown(err)
			return
		}
		w.mu.Unlock()
	}
}

// endFlush marks the flush over and wakes a close waiting for it. Call
// with w.mu held.
func (w *writer) endFlush() {
	w.flushing = false
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// close refuses further sends and gives what is queued up to a second
// to leave, then returns; the caller closes the socket.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.chargeLocked() // gives back the connection's share for good
	w.mu.Unlock()
	w.b.conn.SetWriteDeadline(time.Now().Add(time.Second))
	w.kick()
	w.mu.Lock()
	flushing := w.flushing
	var idle chan struct{}
	if flushing {
		if w.idle == nil {
			w.idle = make(chan struct{})
		}
		idle = w.idle
	}
	w.mu.Unlock()
	if flushing {
		select {
		case <-idle:
		case <-time.After(time.Second):
		}
	}
}
