package pb

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/banana"
)

// Verbs of PB's top-level expressions.
const (
	verbVersion          = "version"
	verbMessage          = "message"
	verbCacheMessage     = "cachemessage"
	verbAnswer           = "answer"
	verbError            = "error"
	verbDecref           = "decref"
	verbDecache          = "decache"
	verbUncache          = "uncache"
	verbDidNotUnderstand = "didNotUnderstand"
)

// protocolVersion is PB's version number; Twisted 22.4 sends 6.
const protocolVersion = 6

// Broker is one PB connection, on either side. It has one reader
// goroutine and one serialized writer (see the package doc, and
// sched.go's header for which goroutine does what). Its methods are
// safe for concurrent use.
type Broker struct {
	conn     net.Conn
	cfg      *settings
	isServer bool
	server   *Server

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the connection is gone and cleaned up

	// handshake
	ready chan struct{} // closed when the dialect is settled

	sch connSched // the reading (sched.go)

	readyOnce sync.Once
	dialect   banana.Dialect
	dec       *banana.Decoder

	w writer

	mu         sync.Mutex
	closed     bool
	closeErr   error
	nextReq    int64
	pending    map[int64]*pendingCall
	nextLUID   int64
	exports    exportTable
	root       any
	rootMade   bool
	imports    map[int64]*RemoteReference
	caches     map[int64]*heldCache
	cacheIDs   map[any]int64
	queues     map[any]*serialQueue // besides queue1 (sched.go)
	queue1     serialQueue          // the queue of one object, when queue1Used
	queue1Key  any
	queue1Used bool
	inflight   int
	peerRoot   *RemoteReference

	abandoned atomic.Int64   // answers dropped because the caller gave up
	cleanups  sync.WaitGroup // logouts and StoppedObserving started by decref/decache

	needsPassword atomic.Bool // the server refused a challenge login for want of the password (Login)

	// limits (limits.go, deadlines.go)
	exprEnd      int64        // the decoder's offset after the last expression (reader)
	callBytes    int64        // wire bytes of counted calls in flight, under mu
	inCharged    atomic.Int64 // unfinished input counted in the process budget
	partialSince atomic.Int64 // monoNow when the unfinished message began, or 0
	msgArmed     atomic.Bool
	msgTimer     atomic.Pointer[time.Timer]
	idleWatched  bool         // IdleTimeout is on: the reader notes lastInput
	lastInput    atomic.Int64 // monoNow of the last read
	idleTimer    atomic.Pointer[time.Timer]
	loginTimer   atomic.Pointer[time.Timer]
	loggedIn     atomic.Bool
	ip           netip.Addr              // the peer's address, for the server's counts
	unauthCount  bool                    // counted as not logged in by the server, under server.mu
	logger       atomic.Pointer[connLog] // made when first used (plog)
}

func newBroker(conn net.Conn, cfg *settings, isServer bool, srv *Server) *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		conn:     conn,
		cfg:      cfg,
		isServer: isServer,
		server:   srv,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		dec:      banana.NewDecoder(cfg.Banana),
		// The maps are made when first written: an idle connection
		// should cost little.
	}
	b.idleWatched = srv != nil && cfg.lim.IdleTimeout > 0
	b.w.init(b)
	b.peerRoot = &RemoteReference{b: b, root: true}
	return b
}

// Context returns a context that ends when the connection ends. Handlers
// get a context derived from it.
func (b *Broker) Context() context.Context { return b.ctx }

// Done is closed when the connection has ended and every pending call,
// reference and logout has been dealt with.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Err returns why the connection ended, or nil while it is up.
func (b *Broker) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closeErr
}

// RemoteAddr returns the peer's address.
func (b *Broker) RemoteAddr() net.Addr { return b.conn.RemoteAddr() }

// Dialect returns the negotiated banana dialect.
func (b *Broker) Dialect() banana.Dialect { return b.dialect }

// Root returns the peer's root object. It is never reference counted.
func (b *Broker) Root() *RemoteReference { return b.peerRoot }

// Secure reports whether the connection is protected: TLS, or a loopback
// peer. Spread's password login is only offered on secure connections.
func (b *Broker) Secure() bool {
	if _, ok := b.conn.(*tls.Conn); ok {
		return true
	}
	if a, ok := b.conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.IsLoopback()
	}
	if _, ok := b.conn.RemoteAddr().(*net.UnixAddr); ok {
		return true
	}
	return false
}

// Close ends the connection: pending calls fail with a
// ConnectionLostError, logouts run, and Close waits until that is done.
func (b *Broker) Close() error {
	b.shutdown(ErrClosed)
	<-b.done
	return nil
}

// closeConn closes the socket. While the reader decodes inside
// RawConn.Read (rawReader), closing waits for the reader to leave it: if
// this is the reader itself (a type's unjelly function that closes the
// broker), waiting would never end, so the socket is closed on another
// goroutine, and the reader's wait ends as soon as it has begun.
func (b *Broker) closeConn() {
	if b.sch.consuming.Load() {
		go b.conn.Close()
		return
	}
	b.conn.Close()
}

// shutdown ends the connection once, for the given reason.
func (b *Broker) shutdown(reason error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.closeErr = reason
	pending := b.pending
	b.pending = nil
	exports := b.exports.all()
	b.exports = exportTable{}
	imports := b.imports
	b.imports = nil
	b.mu.Unlock()

	b.stopTimers()
	b.w.close()
	b.unpark()
	b.closeConn()
	b.cancel()
	b.releaseInput()
	b.readyOnce.Do(func() { close(b.ready) })

	lost := &ConnectionLostError{Cause: reason}
	for _, p := range pending {
		p.deliver(nil, lost)
	}
	for _, r := range imports {
		r.dead.Store(true)
	}
	// Cacheables stop observing; avatars log out. User code, no lock held.
	for _, e := range exports {
		if e.cache != nil {
			e.cache.StoppedObserving(e.observer.perspective, e.observer)
		}
	}
	for _, e := range exports {
		if a, ok := e.obj.(*avatarRef); ok {
			a.runLogout()
		}
	}
	b.cleanups.Wait()
	b.flushLogSummary()
	if b.server != nil {
		b.server.forget(b)
	}
	close(b.done)
}
