"""A scripted chat member for Spread's tests, built like Twisted's documented
chat client: it logs in with a mind whose remote_print prints each message,
joins a group, pipelines its sends without waiting, and exits once it has
seen the expected number of messages (or after --timeout seconds).

Usage: /usr/bin/python3 -u chat_member.py HOST:PORT USER PASSWORD GROUP
           [--no-mattress] [--send TEXT]... [--sends N] [--expect N]
           [--ready-file PATH] [--timeout S] [--password-login]

Prints each received message on stdout, `error: <type>: <message>` on stderr
for each failed send or login. Exit 0 when every send succeeded and the
expected count was reached. --password-login logs in with Spread's password
login (root.loginPassword), which a server whose users are Django hashes
needs; the default is Twisted's challenge login.
"""
import argparse
import sys

from twisted.cred import credentials
from twisted.internet import defer, reactor
from twisted.spread import pb


class Member(pb.Referenceable):
    def __init__(self, expect, done):
        self.seen = 0
        self.expect = expect
        self.done = done

    def remote_print(self, message):
        print(message, flush=True)
        self.seen += 1
        if self.seen >= self.expect and not self.done.called:
            self.done.callback(None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("group")
    ap.add_argument("--no-mattress", action="store_true")
    ap.add_argument("--send", action="append", default=[])
    ap.add_argument("--sends", type=int, default=0, help="also send 'message 1'..'message N'")
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--ready-file", default="")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--password-login", action="store_true")
    a = ap.parse_args()
    host, _, port = a.addr.rpartition(":")
    status = {"code": 0}
    done = defer.Deferred()
    member = Member(a.expect, done)
    if a.expect == 0:
        done.callback(None)

    def fail(f, what):
        t = f.type.decode() if isinstance(f.type, bytes) else f.type.__module__ + "." + f.type.__name__
        print("error: %s: %s" % (t, f.getErrorMessage()), file=sys.stderr, flush=True)
        status["code"] = 1

    @defer.inlineCallbacks
    def run():
        factory = pb.PBClientFactory()
        reactor.connectTCP(host, int(port), factory)
        if a.password_login:
            root = yield factory.getRootObject()
            login = root.callRemote("loginPassword", a.user.encode(), a.password.encode(), member)
        else:
            login = factory.login(credentials.UsernamePassword(a.user.encode(), a.password.encode()), client=member)
        failed = []
        login.addErrback(lambda f: failed.append(f))
        persp = yield login
        if failed:
            fail(failed[0], "login")
            return
        member.perspective = persp
        group = yield persp.callRemote("joinGroup", a.group, allowMattress=not a.no_mattress)
        if a.ready_file:
            with open(a.ready_file, "w") as f:
                f.write("ready\n")
        texts = list(a.send) + ["message %d" % i for i in range(1, a.sends + 1)]
        sends = []
        for t in texts:
            d = group.callRemote("send", t)
            d.addErrback(fail, "send")
            sends.append(d)
        yield defer.DeferredList(sends)
        yield done

    def finish(_):
        if reactor.running:
            reactor.stop()

    def timeout():
        print("error: timeout: saw %d of %d messages" % (member.seen, a.expect), file=sys.stderr, flush=True)
        status["code"] = 1
        finish(None)

    reactor.callLater(a.timeout, timeout)
    reactor.callWhenRunning(lambda: run().addBoth(finish))
    reactor.run()
    sys.exit(status["code"])


if __name__ == "__main__":
    main()
