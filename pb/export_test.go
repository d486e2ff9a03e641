package pb

import (
	"context"
	"time"
)

// Test hooks. This file is compiled only into pb's own tests.

// SetChallenge replaces the CSPRNG login challenge of servers built
// from c (the replay tests feed Twisted's recorded challenge).
func SetChallenge(c *Config, f func() []byte) { c.challenge = f }

// ExportCount returns how many objects b currently exports.
func ExportCount(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exports.len()
}

// ExportRefs returns the reference count b holds for obj, or 0 when
// obj is not exported. For a Viewable, obj is the Viewable itself and
// the counts of all its view points are summed.
func ExportRefs(b *Broker, obj any) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.exports.all() {
		switch o := e.obj.(type) {
		case *viewPoint:
			if o.view == obj {
				n += e.refs
			}
		case *avatarRef:
			if o.avatar == obj {
				n += e.refs
			}
		default:
			if o == obj {
				n += e.refs
			}
		}
	}
	return n
}

// ImportCount returns how many peer objects b holds proxies for.
func ImportCount(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.imports)
}

// PendingCount returns how many outgoing calls wait for an answer.
func PendingCount(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Abandoned returns how many answers b dropped because their caller
// had given up.
func Abandoned(b *Broker) int64 { return b.abandoned.Load() }

// CallByReflection runs c on recv's methods named prefix+Method, as the
// broker does for objects that are not Dispatchers. Test Dispatchers use
// it as their fallback.
func CallByReflection(ctx context.Context, recv any, prefix string, c *Call) (any, error) {
	return callMethod(ctx, recv, prefix, c, false)
}

// SetIdlePark changes how long a connection stays silent before its
// reader moves to a fresh goroutine, and returns a func restoring it.
func SetIdlePark(d time.Duration) (restore func()) {
	old := idlePark.Swap(int64(d))
	return func() { idlePark.Store(old) }
}

// StartParker starts the process-wide parker goroutine (Linux), which
// then lives as long as the process: leak tests start it first.
func StartParker() { parker.Start() }

// ParkedCount returns how many connections wait with no reader
// goroutine (Linux).
func ParkedCount() int { return parker.Count() }

// ForgetSlowCalls lets every method run inline again (see sched.go).
func ForgetSlowCalls() {
	memo.mu.Lock()
	memo.slow.Store(nil)
	memo.mu.Unlock()
}

// QuickRunsToForgive is how many quick calls on workers let a slow
// method run inline again.
const QuickRunsToForgive = quickRunsToForgive

// MarkSlow stops name on target from running inline, as a take-over
// does.
func MarkSlow(target any, name string) {
	markSlow(&inCall{target: target, call: Call{Method: name}})
}

// RunsInline reports whether a call of name on target may run on the
// reader.
func RunsInline(target any, name string) bool { return inlineOK(target, name) }

// LoginRunsInline reports whether calls to the login root or a
// challenger may run on the reader.
func LoginRunsInline() bool {
	return inlineOK(&loginRoot{}, "login") || inlineOK(&challenger{}, "respond")
}
