package pb

import "sync/atomic"

// ServerStats are a Server's counters, for metrics. The counts are
// since NewServer; the others are now.
type ServerStats struct {
	Listeners   int   // listeners being served (0: not serving)
	Open        int   // open connections
	NotLoggedIn int   // of which not logged in yet (Portal servers; see Limits)
	LoggedIn    int   // logins not yet logged out
	QueuedBytes int64 // outgoing bytes waiting for peers to read them

	Refused int64 // connections closed at once for a cap of Limits

	LoginsOK        uint64 // logins accepted
	LoginsRefused   uint64 // wrong credentials, unknown users, store outages
	LoginsThrottled uint64 // refused by the throttle without a check
	Calls           uint64 // incoming calls that ran
	CallFailures    uint64 // incoming calls whose handler returned an error
}

// serverStats are the counters behind ServerStats.
type serverStats struct {
	loggedIn                                 atomic.Int64
	loginsOK, loginsRefused, loginsThrottled atomic.Uint64
	calls, callFailures                      atomic.Uint64
}

// Stats returns the server's counters now.
func (s *Server) Stats() ServerStats {
	st := ServerStats{
		LoggedIn:        int(s.stats.loggedIn.Load()),
		LoginsOK:        s.stats.loginsOK.Load(),
		LoginsRefused:   s.stats.loginsRefused.Load(),
		LoginsThrottled: s.stats.loginsThrottled.Load(),
		Calls:           s.stats.calls.Load(),
		CallFailures:    s.stats.callFailures.Load(),
	}
	s.mu.Lock()
	st.Listeners = len(s.listeners)
	st.Open = len(s.conns)
	st.NotLoggedIn = s.unauth
	st.Refused = s.refused.Load()
	conns := make([]*Broker, 0, len(s.conns))
	for b := range s.conns {
		conns = append(conns, b)
	}
	s.mu.Unlock()
	for _, b := range conns {
		b.w.mu.Lock()
		st.QueuedBytes += int64(len(b.w.out))
		b.w.mu.Unlock()
	}
	return st
}

// countCall counts an incoming call that ran on a server's connection.
func (b *Broker) countCall(err error) {
	if b.server == nil {
		return
	}
	b.server.stats.calls.Add(1)
	if err != nil {
		b.server.stats.callFailures.Add(1)
	}
}

// countLogin counts a login's result on a server's connection: err nil
// (accepted; the returned logout also counts the logout), throttled, or
// refused.
func (b *Broker) countLogin(err error, throttled bool, logout func()) func() {
	if b.server == nil {
		return logout
	}
	st := &b.server.stats
	switch {
	case throttled:
		st.loginsThrottled.Add(1)
	case err != nil:
		st.loginsRefused.Add(1)
	default:
		st.loginsOK.Add(1)
		st.loggedIn.Add(1)
		return func() {
			st.loggedIn.Add(-1)
			if logout != nil {
				logout()
			}
		}
	}
	return logout
}
