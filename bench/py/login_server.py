"""spreadbench: a Twisted PB login server, the twin of `spreadbench serve -kind login`.

Usage: /usr/bin/python3 -u login_server.py [--users N]

pb.PBServerFactory(portal) on 127.0.0.1 (any free port); prints
"LISTENING <port>" once the reactor runs. The portal's checker is
InMemoryUsernamePasswordDatabaseDontUse with user0..user<N-1>, password
b"pw". The avatar has perspective_foo(x) -> ("foo", name, x); logout does
nothing. Serves until SIGTERM/SIGINT or stdin EOF.
"""

import argparse
import sys

from twisted.cred import checkers, portal
from twisted.internet import reactor, stdio
from twisted.internet.protocol import Protocol
from twisted.spread import pb
from zope.interface import implementer


class User(pb.Avatar):
    def __init__(self, name):
        self.name = name

    def perspective_foo(self, x):
        return ("foo", self.name, x)


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("only pb.IPerspective is supported")
        name = avatar_id.decode() if isinstance(avatar_id, bytes) else str(avatar_id)
        return pb.IPerspective, User(name), lambda: None


class StopOnEOF(Protocol):
    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    a = ap.parse_args()
    db = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    for i in range(a.users):
        db.addUser(b"user%d" % i, b"pw")
    p = portal.Portal(Realm(), [db])
    listening = reactor.listenTCP(0, pb.PBServerFactory(p), interface="127.0.0.1", backlog=1024)
    stdio.StandardIO(StopOnEOF())
    reactor.callWhenRunning(
        lambda: print("LISTENING %d" % listening.getHost().port, flush=True))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
