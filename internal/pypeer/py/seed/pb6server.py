#!/usr/bin/env python

# Copyright (c) Twisted Matrix Laboratories.
# See LICENSE for details.

# Spread test peer: Twisted's docs/core/howto/listings/pb/pb6server.py, run
# on Python 3 with Twisted 22.4. Changes from the original, and only these:
#   - the users and passwords are bytes (Twisted's PB login sends bytes and
#     hashes the password), added with addUser;
#   - argv[1] is an optional [HOST:]PORT (default port 8800 on every
#     interface, as the original; port 0 picks a free port);
#   - once the reactor runs it prints "LISTENING <port>" and flushes, so
#     tests can start it on port 0. It stops on SIGINT/SIGTERM (the reactor's
#     own handlers).
# Usage: /usr/bin/python3 -u pb6server.py [[HOST:]PORT]

from __future__ import print_function

import sys

from zope.interface import implementer

from twisted.spread import pb
from twisted.cred import checkers, portal
from twisted.internet import reactor

class MyPerspective(pb.Avatar):
    def __init__(self, name):
        self.name = name
    def perspective_foo(self, arg):
        print("I am", self.name, "perspective_foo(",arg,") called on", self)

@implementer(portal.IRealm)
class MyRealm:
    def requestAvatar(self, avatarId, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError
        return pb.IPerspective, MyPerspective(avatarId), lambda:None


def listenAddress(default=8800):
    """[HOST:]PORT from argv[1]: (interface, port)."""
    if len(sys.argv) < 2:
        return "", default
    host, _, port = sys.argv[1].rpartition(":")
    return host, int(port)


def announce(port):
    print("LISTENING %d" % port.getHost().port)
    sys.stdout.flush()


p = portal.Portal(MyRealm())
c = checkers.InMemoryUsernamePasswordDatabaseDontUse()
c.addUser(b"user1", b"pass1")
c.addUser(b"user2", b"pass2")
p.registerChecker(c)
interface, portNumber = listenAddress()
port = reactor.listenTCP(portNumber, pb.PBServerFactory(p), interface=interface)
reactor.callWhenRunning(announce, port)
reactor.run()
