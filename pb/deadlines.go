package pb

import (
	"time"
)

// A connection's deadlines (Limits.LoginTimeout, IdleTimeout and
// MessageTimeout) are timers of their own, not read deadlines: the
// reader's read deadline parks idle connections (see readFrom), and a
// parked connection has no reader to see one. A timer that fires closes
// the connection whether a reader runs or not.
//
// The message deadline costs the reader a little per read, nothing per
// message: after each read it notes when the unfinished message at the
// end of the input began (partialSince), and arms the timer only if it
// is not armed already. When the timer fires it checks partialSince and
// either closes the connection or waits for what is left of the time.

// TimeoutError ends a connection that did not log in, sent nothing, or
// did not finish a message in time (see Limits).
type TimeoutError struct {
	What  string // "login", "idle", "message"
	After time.Duration
}

func (e *TimeoutError) Error() string {
	switch e.What {
	case "login":
		return "pb: no login within " + e.After.String()
	case "idle":
		return "pb: nothing received for " + e.After.String()
	}
	return "pb: a message was not finished within " + e.After.String()
}

// Timeout reports true, like a net.Error's.
func (e *TimeoutError) Timeout() bool { return true }

// epoch makes monoNow monotonic.
var epoch = time.Now()

// monoNow is a monotonic clock in nanoseconds, never 0.
func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

// afterFeed notes what a read left unfinished: prev is the decoder's
// unfinished bytes before the read, n the bytes read. Only the reader
// calls it.
func (b *Broker) afterFeed(prev, n int) error {
	buf := b.dec.Buffered()
	if b.idleWatched {
		b.lastInput.Store(monoNow())
	}
	if buf == 0 {
		if prev != 0 {
			b.partialSince.Store(0)
		}
		if b.inCharged.Load() != 0 {
			return b.chargeInput(0)
		}
		return nil
	}
	if prev == 0 || prev+n != buf {
		// The unfinished message began in this read.
		b.partialSince.Store(monoNow())
		b.armMessageTimer()
	}
	return b.chargeInput(int64(buf))
}

// armMessageTimer makes sure the message timer runs.
func (b *Broker) armMessageTimer() {
	d := b.cfg.lim.MessageTimeout
	if d < 0 || !b.msgArmed.CompareAndSwap(false, true) {
		return
	}
	if t := b.msgTimer.Load(); t != nil {
		t.Reset(d)
		return
	}
	b.msgTimer.Store(time.AfterFunc(d, b.messageTimerFired))
}

func (b *Broker) messageTimerFired() {
	d := b.cfg.lim.MessageTimeout
	since := b.partialSince.Load()
	if since == 0 {
		// Nothing unfinished: drop the timer, so that an idle connection
		// keeps none (armMessageTimer makes a new one).
		b.msgTimer.Store(nil)
		b.msgArmed.Store(false)
		if b.partialSince.Load() != 0 {
			b.armMessageTimer() // a message began meanwhile
		}
		return
	}
	if left := d - time.Duration(monoNow()-since); left > 0 {
		if t := b.msgTimer.Load(); t != nil {
			t.Reset(left)
		}
		return
	}
	b.timedOut(&TimeoutError{What: "message", After: d})
}

// startTimers arms a new server connection's login and idle timers.
// It runs before the reader starts.
func (b *Broker) startTimers() {
	lim := &b.cfg.lim
	if b.cfg.Portal != nil {
		if lim.LoginTimeout > 0 {
			b.loginTimer.Store(time.AfterFunc(lim.LoginTimeout, b.loginTimerFired))
		}
		return
	}
	b.startIdleTimer()
}

func (b *Broker) loginTimerFired() {
	if !b.loggedIn.Load() {
		b.timedOut(&TimeoutError{What: "login", After: b.cfg.lim.LoginTimeout})
	}
}

// startIdleTimer arms the idle timer, when there is one.
func (b *Broker) startIdleTimer() {
	d := b.cfg.lim.IdleTimeout
	if d <= 0 {
		return
	}
	b.lastInput.Store(monoNow())
	b.idleTimer.Store(time.AfterFunc(d, b.idleTimerFired))
}

func (b *Broker) idleTimerFired() {
	d := b.cfg.lim.IdleTimeout
	if left := d - time.Duration(monoNow()-b.lastInput.Load()); left > 0 {
		if t := b.idleTimer.Load(); t != nil {
			t.Reset(left)
		}
		return
	}
	b.timedOut(&TimeoutError{What: "idle", After: d})
}

// timedOut closes the connection for a deadline that passed.
func (b *Broker) timedOut(err *TimeoutError) {
	if b.ctx.Err() != nil {
		return // closed meanwhile
	}
	b.logEnd("pb: closing connection", err)
	b.shutdown(err)
}

// noteLoggedIn records that the login root gave this connection an
// avatar: it stops the login timer, moves the connection out of the
// server's count of connections not logged in, and starts the idle
// timer, if any.
func (b *Broker) noteLoggedIn() {
	if b.server == nil || !b.loggedIn.CompareAndSwap(false, true) {
		return
	}
	if t := b.loginTimer.Swap(nil); t != nil {
		t.Stop() // and dropped: an idle logged-in connection keeps no timer
	}
	b.server.loggedIn(b)
	b.startIdleTimer()
}

// stopTimers stops every deadline timer (shutdown).
func (b *Broker) stopTimers() {
	if t := b.loginTimer.Load(); t != nil {
		t.Stop()
	}
	if t := b.msgTimer.Load(); t != nil {
		t.Stop()
	}
	if t := b.idleTimer.Load(); t != nil {
		t.Stop()
	}
}
