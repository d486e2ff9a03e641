"""spreadbench: Twisted's documented PB chat server (docs/core/howto/listings/
pb/chatserver.py) with N users, the twin of `spreadbench serve -kind chat`.

Usage: /usr/bin/python3 -u chat_server.py [--users N]

Users user0..user<N-1>, password b"pw". Listens on 127.0.0.1 (any free
port) and prints "LISTENING <port>" once the reactor runs. Serves until
SIGTERM/SIGINT or stdin EOF.
"""

import argparse
import sys

from zope.interface import implementer

from twisted.cred import checkers, portal
from twisted.internet import reactor, stdio
from twisted.internet.protocol import Protocol
from twisted.spread import pb


class ChatServer:
    def __init__(self):
        self.groups = {}

    def joinGroup(self, groupname, user, allowMattress):
        if groupname not in self.groups:
            self.groups[groupname] = Group(groupname, allowMattress)
        self.groups[groupname].addUser(user)
        return self.groups[groupname]


@implementer(portal.IRealm)
class ChatRealm:
    def requestAvatar(self, avatarID, mind, *interfaces):
        assert pb.IPerspective in interfaces
        name = avatarID.decode() if isinstance(avatarID, bytes) else avatarID
        avatar = User(name)
        avatar.server = self.server
        avatar.attached(mind)
        return pb.IPerspective, avatar, lambda a=avatar: a.detached(mind)


class User(pb.Avatar):
    def __init__(self, name):
        self.name = name

    def attached(self, mind):
        self.remote = mind

    def detached(self, mind):
        self.remote = None

    def perspective_joinGroup(self, groupname, allowMattress=True):
        return self.server.joinGroup(groupname, self, allowMattress)

    def send(self, message):
        if self.remote is not None:
            self.remote.callRemote("print", message)


class Group(pb.Viewable):
    def __init__(self, groupname, allowMattress):
        self.name = groupname
        self.allowMattress = allowMattress
        self.users = []

    def addUser(self, user):
        if user not in self.users:
            self.users.append(user)

    def view_send(self, from_user, message):
        if not self.allowMattress and "mattress" in message:
            raise ValueError("Don't say that word")
        for user in self.users:
            user.send("<%s> says: %s" % (from_user.name, message))


class StopOnEOF(Protocol):
    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    a = ap.parse_args()
    realm = ChatRealm()
    realm.server = ChatServer()
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    for i in range(a.users):
        checker.addUser(b"user%d" % i, b"pw")
    p = portal.Portal(realm, [checker])
    listening = reactor.listenTCP(0, pb.PBServerFactory(p), interface="127.0.0.1", backlog=1024)
    stdio.StandardIO(StopOnEOF())
    reactor.callWhenRunning(
        lambda: print("LISTENING %d" % listening.getHost().port, flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
