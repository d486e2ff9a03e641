package pb

import (
	"fmt"
	"sync"
	"time"

	"github.com/gospread/spread/banana"
)

// writer serializes everything a broker sends. Senders encode into a
// shared buffer under a mutex; one goroutine moves the buffer to the
// socket. The buffer is bounded: a peer that stops reading is
// disconnected instead of growing memory.
type writer struct {
	b      *Broker
	mu     sync.Mutex
	enc    banana.Encoder
	out    []byte
	spare  []byte
	wake   chan struct{}
	closed bool
	quit   chan struct{}
	exited chan struct{}
}

func (w *writer) init(b *Broker) {
	w.b = b
	w.wake = make(chan struct{}, 1)
	w.quit = make(chan struct{})
	w.exited = make(chan struct{})
	w.enc = banana.Encoder{Dialect: banana.DialectNone}
}

func (w *writer) setDialect(d banana.Dialect) {
	w.mu.Lock()
	w.enc.Dialect = d
	w.mu.Unlock()
}

// send encodes v and queues it. An encoding error leaves nothing queued
// and is returned; a full queue closes the connection.
func (w *writer) send(v any) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	n := len(w.out)
	out, err := w.enc.Append(w.out, v)
	if err != nil {
		w.out = out[:n]
		w.mu.Unlock()
		return err
	}
	w.out = out
	over := len(out) > w.b.cfg.MaxQueuedBytes
	w.mu.Unlock()
	if over {
		err := protoErr(nil, "peer is not reading: more than %d bytes queued", w.b.cfg.MaxQueuedBytes)
		w.b.cfg.log.Warn("pb: disconnecting slow peer", "peer", w.b.conn.RemoteAddr().String(), "queued_max", w.b.cfg.MaxQueuedBytes)
		go w.b.shutdown(err)
		return err
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// sendRaw queues bytes that are already encoded (the dialect offer).
func (w *writer) sendRaw(p []byte) {
	w.mu.Lock()
	w.out = append(w.out, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine.
func (w *writer) run() {
	defer close(w.exited)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			w.flush() // best effort: what was queued before the close
			return
		}
		if err := w.flush(); err != nil {
			go w.b.shutdown(fmt.Errorf("pb: write: %w", err))
			return
		}
	}
}

func (w *writer) flush() error {
	w.mu.Lock()
	buf := w.out
	w.out = w.spare[:0]
	w.spare = nil
	w.mu.Unlock()
	if len(buf) == 0 {
		w.mu.Lock()
		w.spare = buf
		w.mu.Unlock()
		return nil
	}
	w.b.conn.SetWriteDeadline(time.Now().Add(w.b.cfg.WriteTimeout))
	_, err := w.b.conn.Write(buf)
	if cap(buf) > 64<<10 {
		buf = nil // do not keep a large buffer for an idle connection
	}
	w.mu.Lock()
	w.spare = buf[:0]
	w.mu.Unlock()
	return err
}

// close stops the writer after a last flush attempt of what is queued.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	select {
	case <-w.exited:
	case <-time.After(time.Second):
	}
}
