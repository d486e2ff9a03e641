#!/usr/bin/env python

# Copyright (c) Twisted Matrix Laboratories.
# See LICENSE for details.

# Spread test peer: Twisted's docs/core/howto/listings/pb/pbAnonServer.py,
# run on Python 3 with Twisted 22.4. Changes from the original, and only
# these:
#   - the users and passwords are bytes (Twisted's PB login sends bytes and
#     hashes the password), added with addUser;
#   - argv[1] is an optional [HOST:]PORT (default port 8800 on every
#     interface, as the original; port 0 picks a free port);
#   - once the reactor runs it writes "LISTENING <port>" straight to the
#     real stdout (not through the log) and flushes, so tests can start it
#     on port 0. It stops on SIGINT/SIGTERM (the reactor's own handlers).
# As in the original, Twisted's log (and so every print) goes to stdout.
# Usage: /usr/bin/python3 -u pbanonserver.py [[HOST:]PORT]

"""
Implement the realm for and run on port 8800 a PB service which allows both
anonymous and username/password based access.

Successful username/password-based login requests given an instance of
MyPerspective with a name which matches the username with which they
authenticated.  Success anonymous login requests are given an instance of
MyPerspective with the name "Anonymous".
"""

from __future__ import print_function

import sys
from sys import stdout

from zope.interface import implementer

from twisted.python.log import startLogging
from twisted.cred.checkers import ANONYMOUS, AllowAnonymousAccess
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import reactor
from twisted.spread.pb import Avatar, IPerspective, PBServerFactory


class MyPerspective(Avatar):
    """
    Trivial avatar exposing a single remote method for demonstrative
    purposes.  All successful login attempts in this example will result in
    an avatar which is an instance of this class.

    @type name: C{str}
    @ivar name: The username which was used during login or C{"Anonymous"}
    if the login was anonymous (a real service might want to avoid the
    collision this introduces between anonoymous users and authenticated
    users named "Anonymous").
    """

    def __init__(self, name):
        self.name = name

    def perspective_foo(self, arg):
        """
        Print a simple message which gives the argument this method was
        called with and this avatar's name.
        """
        print(
            "I am {}.  perspective_foo({}) called on {}.".format(self.name, arg, self)
        )


@implementer(IRealm)
class MyRealm(object):
    """
    Trivial realm which supports anonymous and named users by creating
    avatars which are instances of MyPerspective for either.
    """

    def requestAvatar(self, avatarId, mind, *interfaces):
        if IPerspective not in interfaces:
            raise NotImplementedError("MyRealm only handles IPerspective")
        if avatarId is ANONYMOUS:
            avatarId = "Anonymous"
        return IPerspective, MyPerspective(avatarId), lambda: None


def listenAddress(default=8800):
    """[HOST:]PORT from argv[1]: (interface, port)."""
    if len(sys.argv) < 2:
        return "", default
    host, _, port = sys.argv[1].rpartition(":")
    return host, int(port)


def announce(port):
    stdout.write("LISTENING %d\n" % port.getHost().port)
    stdout.flush()


def main():
    """
    Create a PB server using MyRealm and run it on port 8800.
    """
    startLogging(stdout)

    p = Portal(MyRealm())

    # Here the username/password checker is registered.
    c1 = InMemoryUsernamePasswordDatabaseDontUse()
    c1.addUser(b"user1", b"pass1")
    c1.addUser(b"user2", b"pass2")
    p.registerChecker(c1)

    # Here the anonymous checker is registered.
    c2 = AllowAnonymousAccess()
    p.registerChecker(c2)

    interface, portNumber = listenAddress()
    port = reactor.listenTCP(portNumber, PBServerFactory(p), interface=interface)
    reactor.callWhenRunning(announce, port)
    reactor.run()


if __name__ == "__main__":
    main()
