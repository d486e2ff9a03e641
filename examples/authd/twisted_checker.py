"""A Twisted cred checker that delegates logins to Spread's authd.

A Python Twisted broker uses AuthdChecker in its Portal like any other
checker. Users log in to authd once, ask it for a ticket for this broker's
service name, and log in here with a stock PBClientFactory.login(
UsernamePassword(user, ticket)). The checker never sees a password: it sends
the challenge and the response that Twisted's PB login produced to authd,
which checks them against the user's live tickets for this service and
answers the avatar id. The protocol is in docs/authd.md.

The checker keeps one PB connection to authd, logged in as
"service:<name>" with Spread's password login (loopback or TLS only), and
reconnects with backoff when it is lost. While authd is unreachable, logins
fail at once with UnauthorizedLogin("... authentication server is
unavailable ..."); sessions already open stay. When authd revokes a session
(the user logged out there, the login expired, an operator revoked the
user), it calls revoke(user, handle) on the mind the checker gave at login,
and the checker drops the broker connections opened with that login's
tickets.

Run as a program, it is a small broker for tests and trials:

    SPREAD_SERVICE_SECRET=... python3 twisted_checker.py --authd HOST:PORT \\
        --service NAME [--port PORT]

It prints "LISTENING <port>" once serving and "CONNECTED" each time it has
logged in at authd. Its avatars answer whoami() and echo(x).
"""

import argparse
import os
import random
import sys

from zope.interface import implementer

from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer, reactor
from twisted.spread import pb

SERVICE_PREFIX = "service:"
UNAVAILABLE = "the login cannot be checked right now: the authentication server is unavailable; try again later"


class _Mind(pb.Referenceable):
    """What authd calls back: revoke(user, handle)."""

    def __init__(self, checker):
        self.checker = checker

    def remote_revoke(self, user, handle):
        return self.checker.revoke(_text(user), _text(handle))


def _is(f, qualname):
    """Whether failure f (a remote one has its type names as str or bytes) is a qualname."""
    return bool(f.check(qualname) or f.check(qualname.encode()))


_TICKET_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _looks_like_ticket(p):
    """Whether p has a ticket's shape: 43 characters of unpadded base64url."""
    p = p.encode() if isinstance(p, str) else p
    return len(p) == 43 and all(c in _TICKET_CHARS for c in p)


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


@implementer(checkers.ICredentialsChecker)
class AuthdChecker:
    """Checks PB logins made with tickets of Spread's authd.

    host, port: authd's address. service: this broker's service name at
    authd; secret: its secret (bytes). Call start() once the reactor runs.
    """

    credentialInterfaces = (credentials.IUsernameHashedPassword, credentials.IUsernamePassword)

    def __init__(self, host, port, service, secret, min_delay=0.2, max_delay=10.0, timeout=5.0):
        self.host, self.port = host, port
        self.service, self.secret = service, secret
        self.min_delay, self.max_delay, self.timeout = min_delay, max_delay, timeout
        self.avatar = None  # our service avatar at authd, while connected
        self.mind = _Mind(self)
        self.sessions = {}  # handle -> set of (user, PB broker)
        self.on_connect = None
        self._delay = min_delay

    # --- the connection to authd -------------------------------------
    def start(self):
        self._connect()

    def _connect(self):
        factory = pb.PBClientFactory()
        factory.clientConnectionLost = self._lost
        factory.clientConnectionFailed = self._lost
        reactor.connectTCP(self.host, self.port, factory, timeout=self.timeout)
        d = factory.getRootObject()
        d.addCallback(lambda root: root.callRemote(
            "loginPassword", (SERVICE_PREFIX + self.service).encode(), self.secret, self.mind))
        d.addCallbacks(self._connected, lambda f: None)

    def _connected(self, avatar):
        self.avatar = avatar
        self._delay = self.min_delay
        if self.on_connect:
            self.on_connect()

    def _lost(self, connector, reason, *args):
        self.avatar = None
        delay = random.uniform(self._delay / 2, self._delay)
        self._delay = min(self._delay * 2, self.max_delay)
        reactor.callLater(delay, self._connect)

    # --- ICredentialsChecker ------------------------------------------
    def requestAvatarId(self, creds):
        if self.avatar is None:
            return defer.fail(error.UnauthorizedLogin(UNAVAILABLE))
        user = creds.username
        if hasattr(creds, "challenge") and hasattr(creds, "response"):
            # Twisted's PB challenge login: forward the challenge and
            # the response; authd knows the ticket.
            d = self.avatar.callRemote("redeem", user, creds.challenge, creds.response)
        elif _looks_like_ticket(creds.password):
            d = self.avatar.callRemote("redeemTicket", user, creds.password)
        else:
            # Not a ticket: a password meant for another checker never
            # leaves this broker.
            return defer.fail(error.UnauthorizedLogin())
        d.addTimeout(self.timeout, reactor)
        d.addCallbacks(self._redeemed, self._refused, callbackArgs=(creds,))
        return d

    def _redeemed(self, answer, creds):
        avatar_id, handle = _text(answer[0]), _text(answer[1])
        broker = getattr(creds, "broker", None)  # the PB connection that logs in
        if broker is not None:
            entry = (avatar_id, broker)
            self.sessions.setdefault(handle, set()).add(entry)
            broker.notifyOnDisconnect(lambda: self.sessions.get(handle, set()).discard(entry))
        return avatar_id.encode("utf-8")

    def _refused(self, f):
        if _is(f, "twisted.cred.error.UnauthorizedLogin"):
            raise error.UnauthorizedLogin()
        # No answer, a lost connection, authd's spread.authd.Unavailable:
        # the ticket could not be checked; that is not a refusal.
        raise error.UnauthorizedLogin(UNAVAILABLE)

    # --- revocation ---------------------------------------------------
    def revoke(self, user, handle):
        if handle:
            victims = self.sessions.pop(handle, set())
        else:  # every ticket session of user
            victims = set()
            for entries in self.sessions.values():
                victims |= {e for e in entries if e[0] == user}
        for _, broker in victims:
            broker.transport.loseConnection()
        return len(victims)


# --- a small broker for tests and trials -------------------------------

class Avatar(pb.Avatar):
    def __init__(self, avatar_id):
        self.avatar_id = avatar_id

    def perspective_whoami(self):
        return self.avatar_id

    def perspective_echo(self, x):
        return x


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError()
        return pb.IPerspective, Avatar(_text(avatar_id)), lambda: None


def main():
    ap = argparse.ArgumentParser(description="a PB broker whose users log in with tickets of Spread's authd")
    ap.add_argument("--authd", required=True, help="authd's HOST:PORT")
    ap.add_argument("--service", required=True, help="this broker's service name at authd")
    ap.add_argument("--port", type=int, default=8800)
    a = ap.parse_args()
    secret = os.environ.get("SPREAD_SERVICE_SECRET", "").encode()
    if not secret:
        sys.exit("set SPREAD_SERVICE_SECRET to the service's secret")
    host, _, port = a.authd.rpartition(":")
    checker = AuthdChecker(host or "127.0.0.1", int(port), a.service, secret)
    checker.on_connect = lambda: print("CONNECTED", flush=True)
    p = portal.Portal(Realm(), [checker])
    listening = reactor.listenTCP(a.port, pb.PBServerFactory(p), interface="127.0.0.1")
    print("LISTENING", listening.getHost().port, flush=True)
    reactor.callWhenRunning(checker.start)
    reactor.run()


if __name__ == "__main__":
    main()
