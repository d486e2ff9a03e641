package guard

import (
	"context"
	"errors"
	"time"

	"github.com/gospread/spread/cred"
)

// The guard's only calls into cred.Throttle. Form and Basic logins both
// pass through here. An attempt is reserved before the password is
// checked (cred.Throttle.Begin), so concurrent guesses cannot all pass a
// check made before any of them is counted.

// throttleBegin reserves a login attempt for user from addr. It returns
// a *cred.ThrottledError while the pair or the address is locked out.
func (g *Guard) throttleBegin(user, addr string) (*cred.Attempt, error) {
	return g.cfg.Throttle.Begin(user, addr)
}

// throttleEnd records the portal's verdict on an attempt. A refused
// login waits out the delay the throttle gives a user name that fails
// from many addresses (correct passwords are never delayed); a store
// that could not answer counts as nothing.
func (g *Guard) throttleEnd(ctx context.Context, a *cred.Attempt, user string, err error) {
	switch {
	case err == nil:
		a.Success()
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		res := a.Failure()
		if res.DelayStarted {
			g.cfg.Logger.Warn("guard: failed logins for one user name from many addresses; failures are answered late",
				"user", logUser(user), "delay", res.Delay)
		}
		if res.Lockout > 0 {
			g.cfg.Logger.Warn("guard: login locked out", "user", logUser(user), "for", res.Lockout, "whole_address", res.AddressLocked)
		}
		if res.Delay > 0 {
			t := time.NewTimer(res.Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	default:
		a.Cancel()
	}
}

// logUser cuts a peer-supplied user name for a log line (slog escapes
// what it prints).
func logUser(user string) string {
	const max = 64
	if len(user) > max {
		user = user[:max] + "..."
	}
	return user
}
