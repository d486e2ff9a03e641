package authd

import (
	"errors"

	"github.com/gospread/spread/pb"
)

// Python exception types authd raises.
const (
	pyUnauthorizedLogin = "twisted.cred.error.UnauthorizedLogin"
	pyValueError        = "builtins.ValueError"
	pyPermissionError   = "builtins.PermissionError"
	// PyUnavailable is the type of the failure authd answers when it
	// cannot check now (its upstream is unreachable): not a refusal.
	PyUnavailable = "spread.authd.Unavailable"
)

var (
	// errSessionEnded: ticket() after logout, expiry or revocation.
	errSessionEnded = pb.Errorf(pyValueError, "authd: this login has ended (logged out, expired or revoked); log in again")
	// errTooManyTickets: a session holds too many unredeemed tickets.
	errTooManyTickets = pb.Errorf(pyValueError, "authd: too many unredeemed tickets (at most %d); use or let expire some", maxTicketsPerSession)
	// errTicketRefused: no live ticket of that user for that service
	// matches. It says no more, so that a service cannot probe.
	errTicketRefused = pb.Errorf(pyUnauthorizedLogin, "authd: ticket refused")
	// errNotProxy: a service that may not proxy named another service.
	errNotProxy = pb.Errorf(pyPermissionError, "authd: this service may not act for other services")
	// errNotAdmin: revokeUser from a service without the admin option.
	errNotAdmin = pb.Errorf(pyPermissionError, "authd: this service may not revoke users")
	// errUpstreamDown: a forwarded check could not reach the upstream.
	errUpstreamDown = pb.Errorf(PyUnavailable, "authd: the upstream authentication server is unavailable; try again later")
	// errStateDown: the state store (PostgreSQL) did not answer.
	errStateDown = pb.Errorf(PyUnavailable, "authd: the state store is unavailable; try again later")
)

// ErrUnavailable's text for brokers' logs.
var errNotConnected = errors.New("authd: not connected to the authentication server")

var (
	errLoginRefused = pb.Errorf(pyUnauthorizedLogin, "authd: login refused")
	errNeedPassword = pb.Errorf(pyUnauthorizedLogin, "authd: this user's store needs the password itself (checkPassword)")
)
