package pb

// The scheduler: which goroutine reads a connection, which one runs
// each incoming call, and which one writes its answer.
//
// This header is the design note for the whole machine; the code below
// it is the machine. Its two process-wide mechanisms live in packages of
// their own (pb/internal/workers, the worker pool, and pb/internal/park,
// the epoll parker); everything about one connection lives in the
// Broker (Broker.sch, below, and the writer, writer.go). The figures
// behind each choice are in BENCHMARKS.md, cited by step number.
//
// # The call path
//
// decode → queue → run → answer:
//
//   - decode (reader.go, call.go's incomingCall): the reader decodes a
//     read's worth of input; each call becomes an inCall, its arguments
//     decoded in arrival order on the reader.
//   - queue (queueCall): the call joins the serial queue of its target
//     object. A call to a busy object waits there; a call to an idle
//     object starts its queue, on the reader or on a worker (below).
//   - run (runOne, inCall.run): the handler runs with a callState as its
//     context. When it returns (or calls Go) the next call of the queue
//     runs, on the same goroutine.
//   - answer (answerPath, writer.go): the answer leaves by one of three
//     write paths (below).
//
// # Which goroutine runs my handler
//
//  1. Calls to the login root and its challengers (offReader) run on a
//     worker: the Portal's checkers may hash or query a database.
//  2. The first call of a read that starts an idle object's queue and
//     whose method is not in the slow-method memo runs on the reader,
//     once the whole read is decoded. The reader then runs the calls
//     queued behind it on that object, for as long as their methods are
//     not in the memo either (the first that is goes to a worker, with
//     the rest of the queue).
//  3. Every other call that starts an idle object's queue runs on a
//     worker from the pool.
//  4. A call to a busy object runs on the goroutine that runs that
//     object's queue, after the calls before it; or on a new worker
//     when the handler before it calls Go.
//  5. A handler on the reader that runs across two watchdog ticks
//     (1-2 ms), or waits for an answer from the peer (Future.Wait, so
//     every CallRemote), stops being the reader: another goroutine takes
//     over the reading, and this one goes on as a worker.
//  6. A RemoteCache's constructor and its SetCacheState run on the
//     reader while the value that carries them is decoded. Cleanups that
//     a decref or decache starts (a logout, StoppedObserving) run on a
//     worker; the logouts of a closing connection run on the goroutine
//     that closes it.
//
// No handler runs under a lock of the broker, the writer or the
// scheduler.
//
// # The reading: states and hand-offs
//
// A connection has at most one reader at a time: the goroutine that
// holds the reading. Its state (sch.rstate) is a turn number times two,
// plus one while the reader runs calls:
//
//	             deferred call                    watchdog / Future.Wait
//	  reading ----------------> running ------------------------------> taken over
//	  (even)  <---------------- (odd)    (next turn; a worker reads,      (worker)
//	     |      answers written            the old reader finishes
//	     |                                 its queue as a worker)
//	     | idlePark of silence                 socket readable
//	     +-----------------------> parked ------------------------> reading
//	                             (no goroutine)  (wakeReader: a new goroutine)
//
//   - reading (rstate even): in readFrom, waiting for input or decoding
//     it. On a plain TCP connection it decodes inside RawConn.Read's
//     callback (sch.consuming set; see rawReader), waits for the poller
//     after a short read instead of reading until EAGAIN, and leaves the
//     callback when it has something else to do.
//   - running (rstate odd): runInline runs the call that decoding set
//     aside (sch.deferred) and the quick calls behind it, then writes
//     their answers in one write and reads again.
//   - taken over: the watchdog (tick) or a Future.Wait on the reader
//     (takeOver) advances the turn (odd → next even) and hands the
//     reading to a worker (task.reader). The old goroutine sees the new
//     turn when its call returns, marks the method slow and finishes the
//     queue as a worker. The turn number keeps it from mistaking the new
//     reader's running state for its own.
//   - parked: a plain TCP connection silent for idlePark (250 ms) has no
//     reader. On Linux the reader registers the socket with the parker
//     and ends; the parker's goroutine starts a new reader when the
//     socket is readable (wakeReader). Elsewhere the reader goes on
//     waiting on a fresh goroutine (the smallest stack).
//   - closed: shutdown unparks the socket before closing it.
//
// The watchdog is one timer for the process that ticks every watchTick
// while some reader has run calls since the last tick; a broker whose
// reader runs calls is in its set (sch.watched) until a tick finds it
// idle. Each tick compares a reader's count of calls run (inlineSeq)
// with the last tick's: a reader in the running state with the same
// count has run one call for a whole tick, and is taken over.
//
// The slow-method memo (process-wide, by receiver type and method name)
// holds the methods that were taken over: they run on workers, which
// time them; quickRunsToForgive quick runs in a row take a method out of
// the memo again, since a pause of the whole process can catch a quick
// method.
//
// # Workers
//
// A worker is a goroutine of the pool (pb/internal/workers) that runs a
// task: an object's queue from a given call (runQueued), the reading
// after a take-over, or a cleanup. A worker that finished its task waits
// workerIdle (2 s) for another, so calls start on grown stacks; then it
// ends, so an idle process holds none.
//
// # The three write paths
//
// Answers and every other message are encoded into the writer's buffer
// in order (writer.go); answerPath picks who moves them to the socket:
//
//   - answerLater: a call the reader runs. The reader writes the
//     answers of all the calls it ran in one write when it is done with
//     them (or the take-over lets them leave at once).
//   - answerNow: a call that was alone in flight, on a worker. Nothing
//     would share the write, so the handler's goroutine writes it at
//     once, unless a flush is running.
//   - answerFlusher: the rest. A flusher goroutine, which exists only
//     while there is something to write, yields once (so that answers
//     about to be queued share the write) and flushes.
//
// A goroutine that waits with a ctx never writes to the socket.
//
// # Locks
//
//   - b.mu guards the serial queues (b.queues, b.queue1...) and
//     the counts of calls in flight, with the broker's tables. It is
//     held only to change them: never while user code runs, never
//     around a write to the socket.
//   - The writer's w.mu guards its buffer and flush state; the socket
//     write runs without it.
//   - The parker's lock guards every Slot's token. park takes b.mu and
//     then the parker's lock (a closing broker is not parked); shutdown
//     sets b.closed, then unparks without b.mu.
//   - The watchdog's lock guards its broker set. A tick reads brokers'
//     atomics under it and takes readers over after releasing it.
//   - The memo is read without a lock (an atomic pointer to a map);
//     changes copy the map under memo.mu.
//   - Reader-only state (sch.deferred, sch.read, sch.armed) is touched
//     only by the goroutine that holds the reading; sch.armed crosses to
//     a taking-over goroutine through the rstate atomic.
//
// Process-wide state: the worker pool (pool), the parker (parker), the
// watchdog (watchdog), the memo (memo) and the read buffers (readBufs,
// reader.go). Everything else is per connection.

import (
	"context"
	"errors"
	"maps"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/pb/internal/park"
	"github.com/gospread/spread/pb/internal/workers"
)

// connSched is the reading's state, in the connection's Broker. The
// serial queues are in the Broker too, beside the tables b.mu guards
// (Broker.queues, queue1...).
type connSched struct {
	// The reading. read, deferred and armed belong to the goroutine
	// that holds the reading.
	read      func(consume func([]byte) bool) error
	deferred  task        // a call the reader runs once the read is decoded
	consuming atomic.Bool // the reader decodes inside RawConn.Read (rawReader)
	rstate    atomic.Uint64
	inlineSeq atomic.Uint64      // counts the calls the reader runs
	armed     bool               // the idle deadline is set; handed over with the reading
	watched   atomic.Bool        // in the watchdog's set
	slot      park.Slot[*Broker] // the socket (nil unless plain TCP), and its place in the parker
}

// Timings.
const (
	// watchTick is the watchdog's period: a call that runs on the reader
	// for between one and two ticks hands the reading on. One tick for
	// the process, instead of a timer per run (BENCHMARKS.md, step 8).
	watchTick = time.Millisecond
	// quickRun is the longest call that counts as quick.
	quickRun = watchTick / 4
	// quickRunsToForgive is how many quick calls in a row on workers
	// take a method out of the memo (BENCHMARKS.md, step 9).
	quickRunsToForgive = 16
	// maxSlowCalls bounds the memo: a Dispatcher answers any name a peer
	// makes up.
	maxSlowCalls = 4096
	// workerIdle is how long a worker without work waits before it ends.
	workerIdle = 2 * time.Second
)

// idlePark is how long a connection must be silent before its reader
// parks it. The reader's stack grows while it decodes the handshake and
// the login, and the runtime keeps it that size for as long as the
// goroutine lives: most of what an idle connection would cost. It is
// short because a burst of new connections otherwise holds all those
// stacks at once, and the process keeps that peak as retained heap
// (BENCHMARKS.md, step 5).
var idlePark atomic.Int64 // a time.Duration; tests shorten it

func init() { idlePark.Store(int64(250 * time.Millisecond)) }

// task is what a worker runs: the serial queue s of key, starting with
// its job j; or, with reader set, the reading of b's connection (armed:
// the idle deadline is set); or, with fn set, a function (a cleanup).
type task struct {
	b      *Broker
	key    any
	s      *serialQueue
	j      job
	reader bool
	armed  bool
	fn     func()
}

// The worker pool and the parker, made in init (they refer to the
// functions that use them).
var (
	pool   *workers.Pool[task]
	parker *park.Parker[*Broker]
)

func init() {
	pool = workers.New(runTask, workerIdle)
	parker = park.New(wakeReader)
}

// spawn runs t on a worker.
func spawn(t task) { pool.Go(t) }

func runTask(t task) {
	switch {
	case t.fn != nil:
		t.fn()
	case t.reader:
		t.b.readFrom(t.armed, true) // taking over the reading
	default:
		t.b.runQueued(t.key, t.s, t.j)
	}
}

// wakeReader starts a reader for a parked connection whose socket is
// readable. It runs on the parker's goroutine.
func wakeReader(b *Broker) { go b.readFrom(false, false) }

// ---- The reading ----

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
	read, raw := b.reader()
	b.sch.read = read
	b.sch.slot.Init(raw, b)
	b.readFrom(false, false)
}

// readFrom is the reader's loop. On a plain TCP connection a read
// deadline of idlePark is armed once this goroutine has handled input
// after the handshake: when it passes with nothing read since it was
// armed, the reader parks the connection. The deadline is armed at most
// once per idlePark, not per read. When decoding set a call aside, the
// reader runs it (runInline).
func (b *Broker) readFrom(armed, active bool) {
	parkable := b.sch.slot.Raw() != nil
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
		return ferr == nil && b.sch.deferred.j == nil && (armed || !parkable || !b.isReady())
	}
	for {
		if parkable && active && !armed && b.isReady() {
			b.conn.SetReadDeadline(time.Now().Add(time.Duration(idlePark.Load())))
			armed, active = true, false
		}
		fed, ferr = false, nil
		err := b.sch.read(consume)
		if fed {
			active = true
			if t := b.sch.deferred; t.j != nil {
				b.sch.deferred = task{}
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

// park hands b's socket to the parker and reports whether it did; after
// true the calling reader must end.
func (b *Broker) park() bool {
	// b.mu orders park against shutdown: a broker that is closing is not
	// parked, and shutdown unparks a parked one before closing the socket.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	return parker.Park(&b.sch.slot)
}

// unpark takes b's socket out of the parker, if it is there.
func (b *Broker) unpark() { parker.Unpark(&b.sch.slot) }

// ---- Queueing ----

// A job is something run in an object's serial queue: an incoming call,
// or a Sync marker.
type job interface {
	state() *callState
	run(ctx *callState)
}

// serialQueue runs the jobs of one object one after the other, in
// arrival order. A handler that calls Go lets the next one start.
type serialQueue struct {
	busy bool
	q    []job
}

// queueCall queues c, decoded by the reader, behind the earlier calls
// to its target. When the target was idle, the call starts: set aside
// for the reader when it may run there (rules 1 and 2 of the header),
// else on a worker.
func (b *Broker) queueCall(c *inCall) {
	t, ok := b.queueJob(c.target, c)
	if !ok {
		return
	}
	if b.sch.deferred.j == nil && inlineOK(c.target, c.call.Method) {
		b.sch.deferred = t
	} else {
		spawn(t)
	}
}

// enqueue runs j when every earlier job on key has finished (or called
// Go).
func (b *Broker) enqueue(key any, j job) {
	if t, ok := b.queueJob(key, j); ok {
		spawn(t)
	}
}

// queueJob queues j behind the earlier jobs on key. When key's queue was
// idle it returns the task that starts it (ok).
func (b *Broker) queueJob(key any, j job) (t task, ok bool) {
	key = queueKey(key) // the root or a RemoteCache may be unhashable
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.queueLocked(key)
	if s.busy {
		s.q = append(s.q, j)
		return task{}, false
	}
	s.busy = true
	return task{b: b, key: key, s: s, j: j}, true
}

// queueLocked returns key's queue, made if needed. Most connections
// have calls queued on one object at a time: that queue lives in the
// Broker (queue1) and costs no allocation. Call with b.mu held.
func (b *Broker) queueLocked(key any) *serialQueue {
	q := b
	if q.queue1Used && q.queue1Key == key {
		return &q.queue1
	}
	if s := q.queues[key]; s != nil {
		return s
	}
	if !q.queue1Used {
		q.queue1Used, q.queue1Key = true, key
		return &q.queue1
	}
	if q.queues == nil {
		q.queues = make(map[any]*serialQueue)
	}
	s := &serialQueue{}
	q.queues[key] = s
	return s
}

// dequeue takes the next job of s, or marks s idle and returns nil.
func (b *Broker) dequeue(key any, s *serialQueue) job {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(s.q) == 0 {
		b.dropQueueLocked(key, s)
		return nil
	}
	next := s.q[0]
	s.q[0] = nil
	s.q = s.q[1:]
	return next
}

// dropQueueLocked forgets key's queue s, which is empty.
func (b *Broker) dropQueueLocked(key any, s *serialQueue) {
	q := b
	s.busy = false
	if s == &q.queue1 {
		q.queue1Used, q.queue1Key = false, nil
		if cap(s.q) > 16 {
			s.q = nil // a burst is over: keep no long backing array
		} else {
			s.q = s.q[:0]
		}
		return
	}
	if q.queues[key] == s {
		delete(q.queues, key)
	}
}

// ---- Running ----

// runQueued runs j and then, on the same goroutine, the jobs queued
// behind it, so that a pipeline of calls to one object costs no new
// goroutine per call. It runs on a worker.
func (b *Broker) runQueued(key any, s *serialQueue, j job) {
	for j != nil {
		j = b.runTimed(key, s, j)
	}
}

// runOne runs j, the head of s, and returns the job queued behind it
// for the caller to run, or nil (none, or Go already started it).
// inline tells that the reader runs j and writes its answer later.
func (b *Broker) runOne(key any, s *serialQueue, j job, inline bool) job {
	st := j.state()
	st.Context, st.b, st.key, st.s, st.inline = b.ctx, b, key, s, inline
	j.run(st)
	if !st.release() {
		return nil // Go already started the next job elsewhere
	}
	return b.dequeue(key, s)
}

// Go lets the calls queued behind the current call on the same object
// start now, before this handler returns. Handlers that block for long
// (a chat message fanning out to many minds, a call back into the peer)
// may use it when their order does not matter. Calling it outside a
// handler, or twice, does nothing.
func Go(ctx context.Context) {
	st, ok := ctx.Value(callKey{}).(*callState)
	if !ok || !st.release() {
		return
	}
	if next := st.b.dequeue(st.key, st.s); next != nil {
		spawn(task{b: st.b, key: st.key, s: st.s, j: next})
	}
}

// runInline runs t's queue on the reader goroutine, as long as its calls
// may run inline, then writes their answers. It reports whether this
// goroutine is still the reader afterwards. armed is the reader's idle
// deadline state, handed to a goroutine that takes over.
func (b *Broker) runInline(t task, armed bool) bool {
	sch := &b.sch
	sch.armed = armed
	sch.inlineSeq.Add(1)          // before the state: see tick
	turn := sch.rstate.Load() | 1 // only the reader changes an even state
	sch.rstate.Store(turn)
	if !sch.watched.Load() {
		b.watch()
	}
	for j := t.j; j != nil; {
		next := b.runOne(t.key, t.s, j, true)
		if sch.rstate.Load() != turn {
			// Taken over while j ran: this goroutine is a worker now,
			// and j's answer is on its way out.
			markSlow(j)
			b.w.kick()
			b.runQueued(t.key, t.s, next)
			return false
		}
		if next != nil && !jobInlineOK(next) {
			spawn(task{b: b, key: t.key, s: t.s, j: next})
			break
		}
		sch.inlineSeq.Add(1)
		j = next
	}
	// The answers of the calls run here; the watchdog still covers a
	// write that blocks on a peer that does not read.
	if b.w.startFlush() {
		b.w.flush()
	}
	return sch.rstate.CompareAndSwap(turn, turn&^1)
}

// takeOver starts another reader if the reader is running calls, and
// lets the answers it has made so far leave. Future.Wait calls it: only
// a reader can deliver the answer a handler waits for.
func (b *Broker) takeOver() {
	if s := b.sch.rstate.Load(); s&1 == 1 {
		b.takeOverFrom(s)
	}
}

func (b *Broker) takeOverFrom(turn uint64) {
	if b.sch.rstate.CompareAndSwap(turn, turn+1) {
		spawn(task{b: b, reader: true, armed: b.sch.armed})
		b.w.kick()
	}
}

// answerMode is the write path of an answer (see the header).
type answerMode int

const (
	answerFlusher answerMode = iota
	answerNow
	answerLater
)

// answerPath picks the write path of the answer of the call st, given
// whether it was the only call in flight.
func answerPath(st *callState, alone bool) answerMode {
	switch {
	case st.inline:
		return answerLater
	case alone:
		return answerNow
	}
	return answerFlusher
}

// ---- The watchdog ----

// watchdog is the process-wide watchdog: the brokers whose reader has
// run calls lately, each with its inlineSeq at the last tick.
var watchdog struct {
	mu      sync.Mutex
	brokers map[*Broker]uint64
	t       *time.Timer
	ticking bool
}

// unseen is the inlineSeq recorded for a broker that has just been
// added to the watchdog: no real count equals it.
const unseen = ^uint64(0)

// watch adds b to the watchdog's brokers and starts the ticks.
func (b *Broker) watch() {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if watchdog.brokers == nil {
		watchdog.brokers = make(map[*Broker]uint64)
	}
	if _, ok := watchdog.brokers[b]; !ok {
		watchdog.brokers[b] = unseen
	}
	b.sch.watched.Store(true)
	if !watchdog.ticking {
		watchdog.ticking = true
		if watchdog.t == nil {
			watchdog.t = time.AfterFunc(watchTick, tick)
		} else {
			watchdog.t.Reset(watchTick)
		}
	}
}

// tick takes the reading over from each reader that runs the same call
// as at the last tick, and forgets the brokers whose reader ran nothing
// since then. It keeps ticking while any broker is left.
func tick() {
	type stall struct {
		b    *Broker
		turn uint64
	}
	var stalled []stall
	watchdog.mu.Lock()
	for b, seen := range watchdog.brokers {
		// The state first: a reader counts a run before it marks the
		// state inline, so an inline state read here comes with its
		// count.
		st := b.sch.rstate.Load()
		seq := b.sch.inlineSeq.Load()
		switch {
		case seq != seen:
			watchdog.brokers[b] = seq
		case st&1 == 1:
			stalled = append(stalled, stall{b, st})
		default:
			// Idle since the last tick. A reader that starts a run now
			// either is seen here or finds watched false and adds b
			// again (after this tick).
			b.sch.watched.Store(false)
			if b.sch.inlineSeq.Load() != seq {
				b.sch.watched.Store(true)
				watchdog.brokers[b] = unseen
				continue
			}
			delete(watchdog.brokers, b)
		}
	}
	if len(watchdog.brokers) > 0 {
		watchdog.t.Reset(watchTick)
	} else {
		watchdog.ticking = false
	}
	watchdog.mu.Unlock()
	for _, s := range stalled {
		s.b.takeOverFrom(s.turn)
	}
}

// ---- The slow-method memo ----

// memo holds the (receiver type, method) pairs not to run on the
// reader: a long handler there gains nothing, and its late hand-over
// preempts it and moves it between threads, which costs a password hash
// CPU (BENCHMARKS.md, step 4). Readers load it without a lock; changes
// replace the map under mu.
var memo struct {
	slow atomic.Pointer[map[slowKey]*slowCall]
	mu   sync.Mutex
}

type slowKey struct {
	t    reflect.Type
	name string
}

// slowCall counts the quick runs in a row of a slow method.
type slowCall struct{ quick atomic.Int32 }

func slowCallOf(target any, name string) *slowCall {
	m := memo.slow.Load()
	if m == nil {
		return nil
	}
	return (*m)[slowKey{reflect.TypeOf(target), name}]
}

// offReader is implemented by Spread's own objects whose calls never run
// on the reader: the login root and its challengers, which call the
// Portal, whose checkers and realm may hash or query a database. Run on
// the reader, they also grew every reader's stack during a burst of
// logins, and the process kept that peak as the idle memory of every
// logged-in connection (BENCHMARKS.md, step 12).
type offReader interface{ offReader() }

// inlineOK reports whether a call of name on target may run inline.
func inlineOK(target any, name string) bool {
	if _, ok := target.(offReader); ok {
		return false
	}
	return slowCallOf(target, name) == nil
}

// jobInlineOK reports whether j, queued behind a call the reader runs,
// may run on the reader too.
func jobInlineOK(j job) bool {
	c, ok := j.(*inCall)
	return !ok || inlineOK(c.target, c.call.Method)
}

// markSlow puts j's method in the memo, or starts its count of quick
// runs again.
func markSlow(j job) {
	c, ok := j.(*inCall)
	if !ok {
		return
	}
	if sc := slowCallOf(c.target, c.call.Method); sc != nil {
		sc.quick.Store(0)
		return
	}
	k := slowKey{reflect.TypeOf(c.target), c.call.Method}
	updateMemo(func(m map[slowKey]*slowCall) {
		if m[k] == nil && len(m) < maxSlowCalls {
			m[k] = &slowCall{}
		}
	})
}

// runTimed runs j on a worker (see runOne). When j's method is in the
// memo, it times the handler, and takes the method out of the memo
// after enough quick calls in a row.
func (b *Broker) runTimed(key any, s *serialQueue, j job) job {
	c, ok := j.(*inCall)
	if !ok {
		return b.runOne(key, s, j, false)
	}
	target, name := c.target, c.call.Method // j is not ours once it ran
	sc := slowCallOf(target, name)
	if sc == nil {
		return b.runOne(key, s, j, false)
	}
	st := j.state()
	st.timed = true
	next := b.runOne(key, s, j, false)
	if st.took >= quickRun {
		sc.quick.Store(0)
	} else if sc.quick.Add(1) == quickRunsToForgive {
		k := slowKey{reflect.TypeOf(target), name}
		updateMemo(func(m map[slowKey]*slowCall) {
			if m[k] == sc {
				delete(m, k)
			}
		})
	}
	return next
}

// updateMemo replaces the memo with a changed copy.
func updateMemo(change func(map[slowKey]*slowCall)) {
	memo.mu.Lock()
	defer memo.mu.Unlock()
	m := make(map[slowKey]*slowCall)
	if old := memo.slow.Load(); old != nil {
		m = maps.Clone(*old)
	}
	change(m)
	memo.slow.Store(&m)
}
