"""Spread test peer: the Echo service as a real Twisted PB server.

Usage: /usr/bin/python3 -u echo_server.py [PORT]

Listens on 127.0.0.1:PORT (0 or omitted = any free port), prints
"LISTENING <port>" on stdout once bound, and serves until SIGTERM/SIGINT.
Twisted's log goes to stderr.
"""

import sys

from twisted.internet import reactor
from twisted.python import log
from twisted.spread import pb

from echo_types import Counter, Point


class Adder(pb.Referenceable):
    """The root's single child Referenceable."""

    def remote_add(self, a, b):
        return a + b


class EchoRoot(pb.Root):
    def __init__(self):
        self.child = Adder()
        self.counter = Counter()

    def remote_echo(self, x):
        return x

    def remote_echoKw(self, a, b="default"):
        return [a, b]

    def remote_fail(self, message):
        raise ValueError(message)

    def remote_ref(self):
        return self.child

    def remote_same(self, r):
        return r is self.child

    def remote_callback(self, obj, value):
        return obj.callRemote("echo", value)

    def remote_point(self, x, y):
        return Point(x, y)

    def remote_pointSum(self, p):
        return p.x + p.y

    def remote_counter(self):
        return self.counter

    def remote_increment(self):
        return self.counter.increment()


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 0
    log.startLogging(sys.stderr, setStdout=False)
    factory = pb.PBServerFactory(EchoRoot())
    listening = reactor.listenTCP(port, factory, interface="127.0.0.1")
    # Announce only once the reactor runs: reactor.run installs the
    # SIGTERM/SIGINT handlers that stop it cleanly, and a test may send
    # SIGTERM as soon as it has read this line.
    reactor.callWhenRunning(
        lambda: print("LISTENING %d" % listening.getHost().port, flush=True))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
