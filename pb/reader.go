package pb

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/jelly"
)

// readBufSize is the size of a read buffer. Banana decodes
// incrementally, so a small buffer costs only extra reads.
const readBufSize = 16 << 10

// readBufs holds read buffers between reads, for the whole process: an
// idle connection holds none (see rawReader).
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

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

// reader returns the function readFrom (sched.go) reads with. It reads, hands
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
		r.b.sch.consuming.Store(true)
		stay := r.consume((*buf)[:n])
		r.b.sch.consuming.Store(false)
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
// reader goroutine and never runs user code (but see rule 6 in
// sched.go's header).
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
