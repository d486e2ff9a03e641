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
tickets. A revocation made while the checker was away can miss it (authd
keeps one for a service none of whose instances is connected, and only in
that process's memory), so each time the checker logs in at authd it asks
authd, with ended(handles), which of the sessions it tracked before have
ended, and drops those too (docs/authd.md, 4.1).

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
from twisted.logger import (FilteringLogObserver, LogLevel, LogLevelFilterPredicate, Logger,
                            globalLogBeginner, textFileLogObserver)
from twisted.spread import pb

SERVICE_PREFIX = "service:"
ENDED_BATCH = 500  # handles per ended() call (authd takes at most 1000)
UNAVAILABLE = "the login cannot be checked right now: the authentication server is unavailable; try again later"


class _Mind(pb.Referenceable):
    """What authd calls back: revoke(user, handle)."""

    def __init__(self, checker):
        self.checker = checker

    def remote_revoke(self, user, handle):
        return self.checker.revoke(_text(user), _text(handle))


def _failure_text(e):
    """What a failed call says: a remote failure's type and message, or the local exception."""
    if isinstance(e, pb.RemoteError):
        return "%s: %s" % (_text(e.remoteType), e.args[0] if e.args else "")
    return "%s: %s" % (type(e).__name__, e)


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


def _ended_answer(answer):
    """ended()'s answer, [ended, unknown] (lists of str or bytes), as two lists of str; None if it is not that."""
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return None
    out = []
    for items in answer:
        if not isinstance(items, (list, tuple)) or not all(isinstance(h, (str, bytes)) for h in items):
            return None
        out.append([_text(h) for h in items])
    return out


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
        self.log = Logger(namespace="spread.authd.checker", source=self)

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
        # The handles tracked before this login: their logins may have
        # ended while the checker was away. Those redeemed from now on
        # are left to revoke().
        handles = [h for h, entries in self.sessions.items() if entries]
        if self.on_connect:
            self.on_connect()
        if handles:
            self._reconcile(avatar, handles)

    @defer.inlineCallbacks
    def _reconcile(self, avatar, handles):
        """Asks authd, ENDED_BATCH handles at a time, which of handles
        belong to logins that have ended, and drops their sessions as
        revoke() does. The handles authd did not issue (another authd
        process, or this one before a restart) are unknown there: their
        sessions are kept. Any failure is logged and the sessions kept."""
        ended = closed = unknown = 0
        for i in range(0, len(handles), ENDED_BATCH):
            batch = handles[i:i + ENDED_BATCH]
            try:
                d = avatar.callRemote("ended", batch)
                d.addTimeout(self.timeout, reactor)
                answer = yield d
            except Exception as e:
                if self.avatar is avatar:  # not merely the connection lost again
                    self.log.warn("authd: could not check the open ticket sessions with the authentication server; "
                                  "they are kept: {err}", err=_failure_text(e))
                return
            parsed = _ended_answer(answer)
            if parsed is None:
                self.log.warn("authd: ended answered something else than [ended, unknown]; the open ticket sessions are kept")
                return
            asked = set(batch)
            for h in parsed[0]:
                if h in asked:
                    ended += 1
                    closed += self.revoke("", h)
            unknown += len(parsed[1])
        if unknown:
            self.log.warn("authd: some ticket sessions were opened through an authentication server whose state this one "
                          "does not share (another authd process with memory state, or an authd restarted since); "
                          "they are kept: {sessions} handles", sessions=unknown)
        self.log.info("authd: checked the open ticket sessions with the authentication server: handles={handles} "
                      "ended={ended} closed={closed} kept_unknown={unknown}",
                      handles=len(handles), ended=ended, closed=closed, unknown=unknown)

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
    # The checker's messages (and Twisted's warnings) on stderr; stdout
    # stays the LISTENING and CONNECTED lines.
    levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
    levels.setLogLevelForNamespace("spread.authd", LogLevel.info)
    globalLogBeginner.beginLoggingTo([FilteringLogObserver(textFileLogObserver(sys.stderr), [levels])],
                                     redirectStandardIO=False)
    p = portal.Portal(Realm(), [checker])
    listening = reactor.listenTCP(a.port, pb.PBServerFactory(p), interface="127.0.0.1")
    print("LISTENING", listening.getHost().port, flush=True)
    reactor.callWhenRunning(checker.start)
    reactor.run()


if __name__ == "__main__":
    main()
