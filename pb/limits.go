package pb

import (
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits bounds what peers can make a process hold: connections, time
// before a login, time to finish a message, and bytes of buffered input,
// queued output and calls in flight, per connection and per process. A
// zero field means its default; a negative duration or count turns that
// limit off.
//
// The connection caps apply to a [Server]. A connection that would pass
// one is closed at once after accept (logged, at most a few lines a
// second). A connection counts as logged in once the login root of
// Config.Portal has given it an avatar; without a Portal there is no
// login and the caps on connections not logged in do not apply.
//
// The defaults keep a process with 20,000 files (RLIMIT_NOFILE) serving
// its logged-in users while a flood of connections that never log in
// arrives: at most 18,000 connections (the file limit less 10%, leaving
// files for the rest of the process), of which at most 4,500 (a
// quarter) not logged in, and 256 not logged in from one address.
//
// The process budgets are shared by every broker of the process; each
// broker compares the shared count with its own Limits.
type Limits struct {
	// MaxConns caps a server's open connections. Default: the soft
	// RLIMIT_NOFILE less 10% (at least 64 files kept), or 10,000 when it
	// cannot be read.
	MaxConns int
	// MaxConnsPerIP caps the open connections from one remote IP
	// address. Default MaxConns (no cap of its own).
	MaxConnsPerIP int
	// MaxUnauthConns caps the connections that have not logged in yet
	// (Portal servers). Default MaxConns/4.
	MaxUnauthConns int
	// MaxUnauthConnsPerIP caps the connections from one IP address that
	// have not logged in yet. Default 256.
	MaxUnauthConnsPerIP int

	// LoginTimeout closes a connection of a Portal server that has not
	// logged in within this time after it was accepted. Default 30s.
	LoginTimeout time.Duration
	// IdleTimeout closes a logged-in connection (any connection, on a
	// server without a Portal) from which nothing arrived for this
	// long. Default off.
	IdleTimeout time.Duration
	// MessageTimeout closes a connection that started a message and did
	// not finish it within this time: a half-sent message, or one
	// trickled a byte at a time. Default 30s.
	MessageTimeout time.Duration

	// ProcessInputBytes caps the bytes of unfinished messages buffered by
	// all brokers of the process (one connection's are capped by
	// banana's MaxExprBytes). When a read would pass it, a connection
	// that holds more than 16 KiB of unfinished message is closed.
	// Default 256 MiB.
	ProcessInputBytes int64
	// ProcessQueuedBytes caps the output waiting for peers to read it,
	// over all brokers of the process, counting each connection's bytes
	// beyond its first 64 KiB (one connection's are capped by
	// Config.MaxQueuedBytes). A peer whose queue grows past it is
	// disconnected. Default 512 MiB.
	ProcessQueuedBytes int64
	// MaxCallBytes caps the wire bytes of the incoming calls queued or
	// running on one connection, counting calls of 1 KiB or more (the
	// smaller ones are bounded by Config.MaxCallsInFlight). A call that
	// would pass it is refused with an error reply. This also bounds
	// handlers that wait for a peer that never answers (a callback
	// holding its arguments). Default 32 MiB.
	MaxCallBytes int64
	// ProcessCallBytes is MaxCallBytes over all brokers of the process.
	// Default 512 MiB.
	ProcessCallBytes int64

	// LogLinesPerMinute bounds the warnings one connection logs per
	// minute; the lines beyond are counted and summarized in one line.
	// Default 20.
	LogLinesPerMinute int
}

// Sizes below which the process budgets do not count (see Limits).
const (
	inputFloor     = 16 << 10 // an input-budget overrun closes connections holding more
	queuedFree     = 64 << 10 // each connection's first queued bytes are not counted
	callBytesFloor = 1 << 10  // calls smaller than this are not counted in bytes
)

// resolve returns l with the defaults filled in; a negative value stays
// negative (off).
func (l *Limits) resolve() Limits {
	var r Limits
	if l != nil {
		r = *l
	}
	if r.MaxConns == 0 {
		r.MaxConns = defaultMaxConns()
	}
	if r.MaxConnsPerIP == 0 {
		r.MaxConnsPerIP = r.MaxConns
	}
	if r.MaxUnauthConns == 0 {
		r.MaxUnauthConns = max(r.MaxConns/4, 1)
	}
	if r.MaxUnauthConnsPerIP == 0 {
		r.MaxUnauthConnsPerIP = 256
	}
	if r.LoginTimeout == 0 {
		r.LoginTimeout = 30 * time.Second
	}
	if r.MessageTimeout == 0 {
		r.MessageTimeout = 30 * time.Second
	}
	if r.ProcessInputBytes == 0 {
		r.ProcessInputBytes = 256 << 20
	}
	if r.ProcessQueuedBytes == 0 {
		r.ProcessQueuedBytes = 512 << 20
	}
	if r.MaxCallBytes == 0 {
		r.MaxCallBytes = 32 << 20
	}
	if r.ProcessCallBytes == 0 {
		r.ProcessCallBytes = 512 << 20
	}
	if r.LogLinesPerMinute == 0 {
		r.LogLinesPerMinute = 20
	}
	return r
}

// defaultMaxConns is the soft file limit less 10% (at least 64 files).
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<24 {
		return 10000
	}
	n := int(rl.Cur)
	return max(n-max(n/10, 64), 16)
}

// over reports whether n passes the limit max (a negative max is off).
func over[T int | int64](n, max T) bool { return max >= 0 && n > max }

// The process-wide budgets' counts (see Limits).
var (
	inputBytes  atomic.Int64 // unfinished input held by decoders
	queuedBytes atomic.Int64 // queued output beyond each connection's first queuedFree
	callBytes   atomic.Int64 // wire bytes of incoming calls in flight of callBytesFloor or more
)

// BudgetUse reports the bytes the process's brokers hold against the
// process budgets of [Limits]: unfinished input, queued output and calls
// in flight.
func BudgetUse() (input, queued, calls int64) {
	return inputBytes.Load(), queuedBytes.Load(), callBytes.Load()
}

// chargeDead marks a broker's input charge as released by shutdown.
const chargeDead = -1

// chargeInput accounts the decoder's unfinished input after a read. It
// reports an error when the process's input budget is exhausted and this
// connection holds a large share of it. Only the reader calls it.
func (b *Broker) chargeInput(n int64) error {
	old := b.inCharged.Load()
	if old == n || old == chargeDead {
		return nil
	}
	if !b.inCharged.CompareAndSwap(old, n) {
		return nil // shutdown released it meanwhile
	}
	total := inputBytes.Add(n - old)
	if n > old && n > inputFloor && over(total, b.cfg.lim.ProcessInputBytes) {
		return budgetErr("buffered input", b.cfg.lim.ProcessInputBytes)
	}
	return nil
}

// releaseInput gives back the input charge for good (shutdown).
func (b *Broker) releaseInput() {
	if old := b.inCharged.Swap(chargeDead); old > 0 {
		inputBytes.Add(-old)
	}
}

// BudgetError reports that a process-wide or per-connection byte budget
// of [Limits] is exhausted.
type BudgetError struct {
	What  string // "buffered input", "queued output", "calls in flight"
	Limit int64
	Scope string // "process" or "connection"
}

func (e *BudgetError) Error() string {
	return "pb: " + e.Scope + " budget for " + e.What + " exhausted (" + strconv.FormatInt(e.Limit, 10) + " bytes)"
}

//go:noinline
func budgetErr(what string, limit int64) error {
	return &BudgetError{What: what, Limit: limit, Scope: "process"}
}

// ConnLimitError ends a connection that a Server refused because one of
// the connection caps of [Limits] was reached.
type ConnLimitError struct {
	Cap string // e.g. "MaxUnauthConnsPerIP"
}

func (e *ConnLimitError) Error() string { return "pb: connection refused: " + e.Cap + " reached" }
