//go:build !linux

package pb

// Elsewhere an idle connection's reader waits on a fresh goroutine
// instead (see readFrom).
func (b *Broker) park() bool { return false }
func (b *Broker) unpark()    {}
func parkedCount() int       { return 0 }
func startParker()           {}
