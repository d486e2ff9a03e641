package authd

import "time"

// SetSweepInterval sets how often servers started afterwards purge
// expired state, for tests.
func SetSweepInterval(d time.Duration) (restore func()) {
	old := sweepInterval
	sweepInterval = d
	return func() { sweepInterval = old }
}

// SetListenHeartbeat sets how often the state store's listening
// connections started afterwards check a silent channel, for tests.
func SetListenHeartbeat(d time.Duration) (restore func()) {
	old := listenHeartbeat
	listenHeartbeat = d
	return func() { listenHeartbeat = old }
}
