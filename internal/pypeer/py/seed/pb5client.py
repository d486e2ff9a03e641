#!/usr/bin/env python

# Copyright (c) Twisted Matrix Laboratories.
# See LICENSE for details.

# Spread test peer: Twisted's docs/core/howto/listings/pb/pb5client.py, run
# on Python 3 with Twisted 22.4. Changes from the original, and only these:
#   - the user name and password are bytes, as Twisted's PB login needs;
#   - argv[1] is an optional HOST:PORT (default localhost:8800);
#   - connected() returns the foo call's Deferred and the client stops the
#     reactor once it has fired (exit status 1 if anything failed), where
#     the original runs forever.
# Usage: /usr/bin/python3 -u pb5client.py [HOST:PORT]

import sys

from twisted.spread import pb
from twisted.internet import reactor
from twisted.cred import credentials

exitStatus = []

def serverAddress(default=("localhost", 8800)):
    if len(sys.argv) < 2:
        return default
    host, _, port = sys.argv[1].rpartition(":")
    return host or default[0], int(port)

def finished(result):
    if not exitStatus:
        exitStatus.append(0)
    reactor.stop()

def failed(failure):
    failure.printTraceback(file=sys.stderr)
    exitStatus.append(1)

def main():
    factory = pb.PBClientFactory()
    host, port = serverAddress()
    reactor.connectTCP(host, port, factory)
    def1 = factory.login(credentials.UsernamePassword(b"user1", b"pass1"))
    def1.addCallback(connected)
    def1.addErrback(failed)
    def1.addBoth(finished)
    reactor.run()
    sys.exit(exitStatus[0] if exitStatus else 1)

def connected(perspective):
    print("got perspective ref:", perspective)
    print("asking it to foo(12)")
    return perspective.callRemote("foo", 12)

main()
