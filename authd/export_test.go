package authd

import "time"

// SetSweepInterval sets how often servers started afterwards purge
// expired state, for tests.
func SetSweepInterval(d time.Duration) (restore func()) {
	old := sweepInterval
	sweepInterval = d
	return func() { sweepInterval = old }
}
