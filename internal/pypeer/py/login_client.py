"""Spread test peer: a Twisted PB client that logs in with twisted.cred.

Usage: /usr/bin/python3 -u login_client.py HOST:PORT (USER PASS | --anonymous)
                                          [--arg N] [--call-mind TEXT] [--timeout SECONDS]
                                          [--bind HOST] [--password-login]

Logs in (username and password are sent as bytes; the mind is a client
Referenceable whose remote_print(x) returns "printed:" + x), calls
foo(N) (N defaults to 13) on the avatar, optionally callMind(TEXT), then
disconnects. --bind connects from the local address HOST (127.0.0.2, ...:
the loopback range is all local on Linux). --password-login uses Spread's
root.loginPassword(user, password, mind) instead of Twisted's challenge
login. Prints exactly one JSON line:
  {"ok": true, "result": <JSON form>, "repr": "<Python repr>", ["mind": ..., "mind_repr": ...]}
  {"ok": false, "stage": "connect"|"login"|"foo"|"callMind", "type": "<failure type>",
   "value": "<error message>", "parents": [...]}
and exits 0 if everything succeeded, 1 otherwise. Each step is bounded by
--timeout (default 5 s).
"""

import argparse
import json
import sys

from twisted.cred import credentials
from twisted.internet import defer, reactor
from twisted.python import failure
from twisted.spread import pb


class Mind(pb.Referenceable):
    def remote_print(self, x):
        return "printed:" + x


def to_json(v):
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(to_json(k)): to_json(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v if isinstance(v, str) else repr(v)


def failure_json(stage, f):
    if f.check(defer.TimeoutError, defer.CancelledError):
        return {"ok": False, "stage": stage, "type": "timeout", "value": "no answer in time", "parents": []}
    return {
        "ok": False,
        "stage": stage,
        "type": text(f.type if isinstance(f.type, (str, bytes)) else
                     "%s.%s" % (f.type.__module__, f.type.__qualname__)),
        "value": f.getErrorMessage(),
        "parents": [text(p) for p in (getattr(f, "parents", None) or [])],
    }


async def step(d, timeout):
    d.addTimeout(timeout, reactor)
    d.addCallbacks(lambda r: (True, r), lambda f: (False, f))
    return await d


async def amain(opts):
    host, _, port = opts.address.rpartition(":")
    factory = pb.PBClientFactory()
    bind = (opts.bind, 0) if opts.bind else None
    reactor.connectTCP(host or "127.0.0.1", int(port), factory, timeout=opts.timeout, bindAddress=bind)
    try:
        ok, root = await step(factory.getRootObject(), opts.timeout)
        if not ok:
            return failure_json("connect", root)
        if opts.anonymous:
            creds = credentials.Anonymous()
        else:
            creds = credentials.UsernamePassword(opts.user.encode("utf-8"), opts.password.encode("utf-8"))
        mind = Mind()
        if opts.password_login:
            d = root.callRemote("loginPassword", opts.user.encode("utf-8"), opts.password.encode("utf-8"), mind)
        else:
            d = defer.maybeDeferred(factory.login, creds, client=mind)
        ok, avatar = await step(d, opts.timeout)
        if not ok:
            return failure_json("login", avatar)
        ok, result = await step(defer.maybeDeferred(avatar.callRemote, "foo", opts.arg), opts.timeout)
        if not ok:
            return failure_json("foo", result)
        out = {"ok": True, "result": to_json(result), "repr": repr(result)}
        if opts.call_mind is not None:
            ok, m = await step(defer.maybeDeferred(avatar.callRemote, "callMind", opts.call_mind), opts.timeout)
            if not ok:
                return failure_json("callMind", m)
            out["mind"] = to_json(m)
            out["mind_repr"] = repr(m)
        return out
    finally:
        factory.disconnect()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("address", help="HOST:PORT of the login server")
    p.add_argument("user", nargs="?")
    p.add_argument("password", nargs="?")
    p.add_argument("--anonymous", action="store_true", help="log in anonymously")
    p.add_argument("--arg", type=int, default=13, help="argument for foo (default 13)")
    p.add_argument("--call-mind", dest="call_mind", help="also call callMind(TEXT)")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--bind", help="local address to connect from")
    p.add_argument("--password-login", dest="password_login", action="store_true",
                   help="log in with Spread's loginPassword")
    opts = p.parse_args()
    if not opts.anonymous and (opts.user is None or opts.password is None):
        p.error("USER and PASS are required unless --anonymous is given")
    state = {"code": 1}

    def done(result):
        if isinstance(result, failure.Failure):
            print(result.getTraceback(), file=sys.stderr, flush=True)
            result = {"ok": False, "stage": "client", "type": text(result.type.__name__),
                      "value": result.getErrorMessage(), "parents": []}
        print(json.dumps(result), flush=True)
        state["code"] = 0 if result.get("ok") else 1
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(amain(opts)).addBoth(done))
    reactor.run()
    sys.exit(state["code"])


if __name__ == "__main__":
    main()
