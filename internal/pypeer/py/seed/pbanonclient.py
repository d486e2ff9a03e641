#!/usr/bin/env python

# Copyright (c) Twisted Matrix Laboratories.
# See LICENSE for details.

# Spread test peer: Twisted's docs/core/howto/listings/pb/pbAnonClient.py,
# run on Python 3 with Twisted 22.4. Changes from the original, and only
# these:
#   - the user name and password are bytes, as Twisted's PB login needs;
#   - argv[1] is an optional HOST:PORT (default localhost:8800);
#   - the exit status is 1 when a login or call failed (the original logs
#     the failure and exits 0).
# As in the original, Twisted's log (and so every print) goes to stdout.
# Usage: /usr/bin/python3 -u pbanonclient.py [HOST:PORT]

"""
Client which will talk to the server run by pbAnonServer.py, logging in
either anonymously or with username/password credentials.
"""

from __future__ import print_function

import sys
from sys import stdout

from twisted.python.log import err, startLogging
from twisted.cred.credentials import Anonymous, UsernamePassword
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.spread.pb import PBClientFactory

failures = []


def error(why, msg):
    """
    Catch-all errback which simply logs the failure.  This isn't expected to
    be invoked in the normal case for this example.
    """
    failures.append(msg)
    err(why, msg)


def connected(perspective):
    """
    Login callback which invokes the remote "foo" method on the perspective
    which the server returned.
    """
    print("got perspective1 ref:", perspective)
    print("asking it to foo(13)")
    return perspective.callRemote("foo", 13)


def finished(ignored):
    """
    Callback invoked when both logins and method calls have finished to shut
    down the reactor so the example exits.
    """
    reactor.stop()


def serverAddress(default=("localhost", 8800)):
    if len(sys.argv) < 2:
        return default
    host, _, port = sys.argv[1].rpartition(":")
    return host or default[0], int(port)


def main():
    """
    Connect to a PB server running on port 8800 on localhost and log in to
    it, both anonymously and using a username/password it will recognize.
    """
    startLogging(stdout)
    factory = PBClientFactory()
    host, port = serverAddress()
    reactor.connectTCP(host, port, factory)

    anonymousLogin = factory.login(Anonymous())
    anonymousLogin.addCallback(connected)
    anonymousLogin.addErrback(error, "Anonymous login failed")

    usernameLogin = factory.login(UsernamePassword(b"user1", b"pass1"))
    usernameLogin.addCallback(connected)
    usernameLogin.addErrback(error, "Username/password login failed")

    bothDeferreds = gatherResults([anonymousLogin, usernameLogin])
    bothDeferreds.addCallback(finished)

    reactor.run()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
