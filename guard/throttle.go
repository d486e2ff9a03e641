package guard

import (
	"errors"

	"github.com/gospread/spread/cred"
)

// The guard's only calls into cred.Throttle. Form and Basic logins both
// pass through here.

// throttleAllow returns a *cred.ThrottledError while user or addr is
// locked out.
func (g *Guard) throttleAllow(user, addr string) error {
	return g.cfg.Throttle.Allow(user, addr)
}

// throttleResult records the portal's verdict on a login.
func (g *Guard) throttleResult(user, addr string, err error) {
	switch {
	case err == nil:
		g.cfg.Throttle.Success(user, addr)
	case errors.Is(err, cred.ErrUnauthorizedLogin):
		g.cfg.Throttle.Failure(user, addr)
	}
}
