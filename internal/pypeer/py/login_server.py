"""Spread test peer: a Twisted PB server with twisted.cred login.

Usage: /usr/bin/python3 -u login_server.py [PORT] [--anonymous]

Serves pb.PBServerFactory(portal) on 127.0.0.1:PORT (0 or omitted = any free
port) and prints "LISTENING <port>" on stdout once bound. The portal checks
usernames/passwords (bytes) user1/pass1 and user2/pass2; --anonymous also
allows anonymous logins. The avatar (a pb.Avatar) has
  perspective_foo(arg)     -> ("foo", avatarId, arg)
  perspective_callMind(x)  -> result of mind.callRemote("print", x), or None
                              when the client gave no mind
avatarId is the username as text; "" for anonymous logins (Twisted's
ANONYMOUS is an empty tuple). Every logout prints "LOGOUT <avatarId>" on
stdout (so "LOGOUT " for anonymous). Serves until SIGTERM/SIGINT; Twisted's
log goes to stderr.
"""

import argparse
import sys

from twisted.cred import checkers, portal
from twisted.internet import reactor
from twisted.python import log
from twisted.spread import pb
from zope.interface import implementer


def avatar_name(avatar_id):
    if isinstance(avatar_id, bytes):
        return avatar_id.decode("utf-8", "replace")
    if avatar_id == checkers.ANONYMOUS:
        return ""
    return str(avatar_id)


class User(pb.Avatar):
    def __init__(self, name, mind):
        self.name = name
        self.mind = mind

    def perspective_foo(self, arg):
        return ("foo", self.name, arg)

    def perspective_callMind(self, x):
        if self.mind is None:
            return None
        return self.mind.callRemote("print", x)


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("only pb.IPerspective is supported")
        name = avatar_name(avatar_id)
        avatar = User(name, mind)

        def logout():
            avatar.mind = None
            print("LOGOUT %s" % name, flush=True)

        return pb.IPerspective, avatar, logout


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", nargs="?", type=int, default=0)
    p.add_argument("--anonymous", action="store_true", help="also allow anonymous logins")
    opts = p.parse_args()

    log.startLogging(sys.stderr, setStdout=False)
    db = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    db.addUser(b"user1", b"pass1")
    db.addUser(b"user2", b"pass2")
    checker_list = [db]
    if opts.anonymous:
        checker_list.append(checkers.AllowAnonymousAccess())
    the_portal = portal.Portal(Realm(), checker_list)
    factory = pb.PBServerFactory(the_portal)
    listening = reactor.listenTCP(opts.port, factory, interface="127.0.0.1")
    # Announce only once the reactor runs: reactor.run installs the
    # SIGTERM/SIGINT handlers that stop it cleanly, and a test may send
    # SIGTERM as soon as it has read this line.
    reactor.callWhenRunning(
        lambda: print("LISTENING %d" % listening.getHost().port, flush=True))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
