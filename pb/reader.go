package pb

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/jelly"
)

// readBufSize is the size of a read buffer. Banana decodes
// incrementally, so a small buffer costs only extra reads.
const readBufSize = 16 << 10

// readBufs holds read buffers between reads: an idle connection holds
// none (see rawReader).
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// start launches the reader goroutine and, for a server, sends the
// dialect offer.
func (b *Broker) start() {
	if b.isServer {
		b.w.sendRaw(banana.AppendOffer(nil, b.cfg.Dialects...))
	}
	go b.readLoop()
}

func (b *Broker) readLoop() {
	b.conn.SetReadDeadline(time.Now().Add(b.cfg.HandshakeTimeout))
	b.read, b.raw = b.reader()
	b.readFrom(false, false)
}

// idlePark is how long a connection must be silent before its reader
// parks it (see park). The reader's stack grows while it decodes the
// handshake and the login, and the runtime keeps it that size for as
// long as the goroutine lives: most of what an idle connection would
// cost. It is short because a burst of new connections (10,000 logging
// in within seconds) otherwise holds all those stacks at once, and the
// process keeps that peak as retained heap, which every idle connection
// then pays for (BENCHMARKS.md, step 5, measured 1 s against 250 ms).
var idlePark atomic.Int64 // a time.Duration; tests shorten it

func init() { idlePark.Store(int64(250 * time.Millisecond)) }

// readFrom is the reader's loop. On a plain TCP connection a read
// deadline of idlePark is armed once this goroutine has handled input
// after the handshake: when it passes with nothing read since it was
// armed, the reader parks the connection (see park: on Linux no
// goroutine waits for it at all) or, where it cannot, goes on waiting
// on a fresh goroutine without a deadline. The deadline is armed at most
// once per idlePark, not per read.
//
// When a read brings calls to an idle object, the reader runs them
// itself, and the quick calls queued behind them (see inline.go).
func (b *Broker) readFrom(armed, active bool) {
	parkable := b.raw != nil
	var ferr error
	fed := false
	// consume decodes what a read brought. It reports whether the reader
	// has nothing else to do before the next read: no call to run, no
	// error, no deadline to arm.
	consume := func(p []byte) bool {
		fed = true
		prev := b.dec.Buffered()
		ferr = b.dec.Feed(p, b.expression)
		if ferr == nil {
			ferr = b.afterFeed(prev, len(p))
		}
		return ferr == nil && b.deferred.j == nil && (armed || !parkable || !b.isReady())
	}
	for {
		if parkable && active && !armed && b.isReady() {
			b.conn.SetReadDeadline(time.Now().Add(time.Duration(idlePark.Load())))
			armed, active = true, false
		}
		fed, ferr = false, nil
		err := b.read(consume)
		if fed {
			active = true
			if t := b.deferred; t.j != nil {
				b.deferred = task{}
				if ferr != nil {
					spawn(t)
				} else if !b.runInline(t, armed) {
					return // another goroutine reads now
				}
			}
			if ferr != nil {
				b.badInput(ferr)
				return
			}
		}
		if err == nil {
			continue
		}
		if armed && errors.Is(err, os.ErrDeadlineExceeded) {
			armed = false
			if active {
				continue // busy during the last idlePark: arm again
			}
			b.conn.SetReadDeadline(time.Time{})
			if !b.park() {
				go b.readFrom(false, false)
			}
			return
		}
		b.readFailed(err)
		return
	}
}

// badInput ends the connection after input that could not be decoded.
// It is kept out of line, like expression's error paths.
//
//go:noinline
func (b *Broker) badInput(err error) {
	var pe *ProtocolError
	var be *BudgetError
	if !errors.As(err, &pe) && !errors.As(err, &be) {
		err = protoErr(err, "bad input")
	}
	b.logEnd("pb: closing connection", err)
	b.shutdown(err)
}

// readFailed ends the connection after a read error.
func (b *Broker) readFailed(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	if !b.isReady() {
		// Say what did not happen: a plaintext client of a TLS server
		// (or a non-PB peer) otherwise sees a bare "i/o timeout".
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = protoErr(err, "no PB dialect negotiation within %v (is the peer a PB server, and does it expect TLS?)", b.cfg.HandshakeTimeout)
		}
	}
	b.shutdown(err)
}

// isReady reports whether the dialect is settled.
func (b *Broker) isReady() bool {
	select {
	case <-b.ready:
		return true
	default:
		return false
	}
}

// reader returns the function readFrom reads with. It reads, hands
// what it read to consume, and returns once consume reports something
// to do, or on an error. On a plain TCP connection it reads the socket
// itself (see rawReader); such a reader is parkable (see readFrom).
// Other connections (TLS, where a read deadline that passes mid-record
// is best avoided) read once per call, as usual.
func (b *Broker) reader() (read func(consume func([]byte) bool) error, raw syscall.RawConn) {
	plain := func(consume func([]byte) bool) error {
		buf := readBufs.Get().(*[]byte)
		n, err := b.conn.Read(*buf)
		if n > 0 {
			consume((*buf)[:n])
		}
		readBufs.Put(buf)
		return err
	}
	tc, ok := b.conn.(*net.TCPConn)
	if !ok {
		return plain, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return plain, nil
	}
	r := &rawReader{b: b, rc: rc}
	r.try = r.tryRead
	return r.read, rc
}

// rawReader reads a plain TCP socket through its RawConn:
//
//   - It waits for data without holding a buffer and takes one from the
//     pool only once data is there, so an idle connection holds none.
//   - After a read that emptied the socket (it filled less than the
//     buffer), it waits for the poller to say that more came instead of
//     trying a read that would fail with EAGAIN: one system call fewer
//     per burst of input. This works only while it stays inside one
//     RawConn.Read, which forgets earlier readiness when it starts; so
//     consume runs inside it, and the reader leaves it whenever consume
//     has something to do (a call to run, an error).
//
// Inside RawConn.Read the socket's read lock is held, and closing the
// socket waits for it: shutdown checks consuming (see closeConn).
type rawReader struct {
	b       *Broker
	rc      syscall.RawConn
	consume func([]byte) bool
	err     error
	try     func(fd uintptr) bool // tryRead, bound once
}

func (r *rawReader) read(consume func([]byte) bool) error {
	r.consume, r.err = consume, nil
	err := r.rc.Read(r.try)
	r.consume = nil
	if err != nil {
		return err
	}
	return r.err
}

// tryRead is the RawConn.Read callback: false means wait until the
// socket is readable and call again.
func (r *rawReader) tryRead(fd uintptr) bool {
	for {
		buf := readBufs.Get().(*[]byte)
		var n int
		var err error
		for {
			n, err = syscall.Read(int(fd), *buf)
			if err != syscall.EINTR {
				break
			}
		}
		switch {
		case err == syscall.EAGAIN:
			readBufs.Put(buf)
			return false
		case err != nil:
			readBufs.Put(buf)
			r.err = &net.OpError{Op: "read", Net: "tcp", Err: err}
			return true
		case n == 0:
			readBufs.Put(buf)
			r.err = io.EOF
			return true
		}
		r.b.consuming.Store(true)
		stay := r.consume((*buf)[:n])
		r.b.consuming.Store(false)
		full := n == len(*buf)
		readBufs.Put(buf)
		if !stay {
			return true
		}
		if !full {
			return false // emptied: wait for the poller, not for EAGAIN
		}
	}
}

// expression handles one top-level banana expression. It runs on the
// reader goroutine and never runs user code.
func (b *Broker) expression(v any) error {
	end := b.dec.Offset()
	size := end - b.exprEnd
	b.exprEnd = end
	select {
	case <-b.ready:
	default:
		return b.negotiate(v)
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return protoErr(nil, "top-level expression is not a non-empty list")
	}
	verb, ok := jelly.String(l[0]) // vocabulary words decode as strings
	if !ok {
		return protoErr(nil, "verb is not a byte string")
	}
	switch verb {
	case verbVersion:
		if len(l) != 2 {
			return fieldsErr(verb, len(l), 2)
		}
		if n, ok := l[1].(int64); !ok || n != protocolVersion {
			return versionErr(l[1])
		}
		return nil
	case verbMessage, verbCacheMessage:
		if len(l) != 7 {
			return fieldsErr(verb, len(l), 7)
		}
		return b.incomingCall(l, verb == verbCacheMessage, size)
	case verbAnswer, verbError:
		if len(l) != 3 {
			return fieldsErr(verb, len(l), 3)
		}
		return b.reply(l, verb == verbError)
	case verbDecref:
		if len(l) != 2 {
			return fieldsErr(verb, len(l), 2)
		}
		b.decref(l[1])
		return nil
	case verbDecache:
		if len(l) != 2 {
			return fieldsErr(verb, len(l), 2)
		}
		b.decache(l[1])
		return nil
	case verbUncache:
		if len(l) != 2 {
			return fieldsErr(verb, len(l), 2)
		}
		b.uncache(l[1])
		return nil
	case verbDidNotUnderstand:
		b.notUnderstood(l)
		return nil
	}
	return unknownVerbErr(verb)
}

// The error paths of expression are functions of their own, kept out of
// line: their arguments would otherwise take room in expression's frame,
// which is on the reader's stack under every decoded message (see
// rawReader).

//go:noinline
func fieldsErr(verb string, n, want int) error {
	return protoErr(nil, "%s: %d fields, want %d", verb, n, want)
}

//go:noinline
func versionErr(v any) error {
	return protoErr(nil, "version mismatch: peer speaks %v, we speak %d", v, protocolVersion)
}

//go:noinline
func unknownVerbErr(verb string) error {
	return protoErr(nil, "unknown verb %q", sanitize(verb))
}

//go:noinline
func (b *Broker) notUnderstood(l []any) {
	b.plog().Warn("pb: peer did not understand", "peer", b.conn.RemoteAddr().String(), "what", peerValue(l[1:]))
}

// negotiate handles the dialect exchange: the server reads the client's
// choice, the client reads the server's offer.
func (b *Broker) negotiate(v any) error {
	var d banana.Dialect
	var err error
	if b.isServer {
		d, err = banana.AcceptChoice(v, b.cfg.Dialects...)
		if err != nil {
			return protoErr(err, "dialect negotiation")
		}
		b.settle(d)
	} else {
		d, err = banana.ChooseDialect(v, b.cfg.Dialects...)
		if err != nil {
			return protoErr(err, "dialect negotiation")
		}
		b.w.sendRaw(banana.AppendChoice(nil, d))
		b.settle(d)
	}
	return b.w.send([]any{verbVersion, int64(protocolVersion)})
}

func (b *Broker) settle(d banana.Dialect) {
	b.dialect = d
	b.dec.SetDialect(d)
	b.w.setDialect(d)
	b.conn.SetReadDeadline(time.Time{})
	b.readyOnce.Do(func() { close(b.ready) })
}

// sanitize shortens and cleans peer-supplied text for logs and errors.
func sanitize(p string) string {
	if len(p) > 64 {
		p = p[:64]
	}
	if !utf8.ValidString(p) {
		return fmt.Sprintf("%x", p)
	}
	return string(p)
}
