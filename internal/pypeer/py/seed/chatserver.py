"""Twin of Twisted's documented PB chat server (docs/core/howto/listings/pb/
chatserver.py), adapted as a Spread test peer: the port comes from argv
(default 8800, 0 picks one), `LISTENING <port>` is printed once the reactor
runs, and the users are bytes, as Python 3 clients send them.

Usage: /usr/bin/python3 -u chatserver.py [[HOST:]PORT]
"""
import sys

from zope.interface import implementer

from twisted.cred import checkers, portal
from twisted.internet import reactor
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


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "8800"
    host, _, port = arg.rpartition(":")
    host, port = host or "127.0.0.1", int(port)
    realm = ChatRealm()
    realm.server = ChatServer()
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    checker.addUser(b"alice", b"1234")
    checker.addUser(b"bob", b"secret")
    checker.addUser(b"carol", b"fido")
    p = portal.Portal(realm, [checker])
    listening = reactor.listenTCP(port, pb.PBServerFactory(p), interface=host)

    def announce():
        print("LISTENING %d" % listening.getHost().port, flush=True)

    reactor.callWhenRunning(announce)
    reactor.run()


if __name__ == "__main__":
    main()
