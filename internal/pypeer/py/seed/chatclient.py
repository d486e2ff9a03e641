"""Twin of Twisted's documented PB chat client (docs/core/howto/listings/pb/
chatclient.py), adapted as a Spread test peer: the server address comes from
argv, credentials are bytes (Python 3 Twisted hashes them), and the client
exits non-zero if the login or the send fails.

Usage: /usr/bin/python3 -u chatclient.py HOST:PORT
"""
import sys

from twisted.cred import credentials
from twisted.internet import reactor
from twisted.spread import pb

status = {"code": 1}


class Client(pb.Referenceable):
    def remote_print(self, message):
        print(message, flush=True)

    def connect(self, host, port):
        factory = pb.PBClientFactory()
        reactor.connectTCP(host, port, factory)
        def1 = factory.login(credentials.UsernamePassword(b"alice", b"1234"), client=self)
        def1.addCallback(self.connected)
        def1.addErrback(self.failed)
        reactor.run()

    def connected(self, perspective):
        print("connected, joining group #NeedAFourth", flush=True)
        self.perspective = perspective
        d = perspective.callRemote("joinGroup", "#NeedAFourth")
        d.addCallback(self.gotGroup)
        d.addErrback(self.failed)

    def gotGroup(self, group):
        print("joined group, now sending a message to all members", flush=True)
        d = group.callRemote("send", "You can call me Al.")
        d.addCallback(self.shutdown)
        d.addErrback(self.failed)

    def shutdown(self, result):
        status["code"] = 0
        reactor.stop()

    def failed(self, f):
        print("error: %s: %s" % (f.type, f.getErrorMessage()), file=sys.stderr, flush=True)
        reactor.stop()


host, _, port = sys.argv[1].rpartition(":")
Client().connect(host, int(port))
sys.exit(status["code"])
