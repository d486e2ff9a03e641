"""The README's password login for hashed stores, as a Twisted client:
root.loginPassword(username, password, mind), then joinGroup and send on
Spread's chat service; prints what the group delivers.

Usage: /usr/bin/python3 -u password_login.py HOST:PORT USER PASSWORD GROUP MESSAGE
Exit 0 when the message came back, 1 otherwise (the error on stderr).
"""
import sys

from twisted.internet import defer, reactor
from twisted.spread import pb


class Mind(pb.Referenceable):
    def __init__(self):
        self.heard = defer.Deferred()

    def remote_print(self, message):
        print(message, flush=True)
        if not self.heard.called:
            self.heard.callback(message)


@defer.inlineCallbacks
def login_with_password(factory, username, password, mind=None):
    root = yield factory.getRootObject()
    avatar = yield root.callRemote("loginPassword", username, password, mind)
    return avatar


@defer.inlineCallbacks
def main(addr, user, password, group, message):
    host, _, port = addr.rpartition(":")
    factory = pb.PBClientFactory()
    reactor.connectTCP(host, int(port), factory)
    mind = Mind()
    avatar = yield login_with_password(factory, user.encode(), password.encode(), mind)
    g = yield avatar.callRemote("joinGroup", group)
    yield g.callRemote("send", message)
    yield mind.heard


status = {"code": 1}


def done(result):
    if isinstance(result, Exception) or hasattr(result, "getErrorMessage"):
        t = getattr(result, "type", None)
        t = t.decode() if isinstance(t, bytes) else t
        print("error: %s: %s" % (t, result.getErrorMessage()), file=sys.stderr, flush=True)
    else:
        status["code"] = 0
    reactor.stop()


reactor.callLater(20, lambda: (print("error: timeout", file=sys.stderr), reactor.stop()))
reactor.callWhenRunning(lambda: main(*sys.argv[1:6]).addBoth(done))
reactor.run()
sys.exit(status["code"])
