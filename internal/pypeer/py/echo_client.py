"""Spread test peer: a Twisted PB client that checks an Echo service.

Usage: /usr/bin/python3 -u echo_client.py HOST:PORT [--only REGEX] [--skip REGEX] [--timeout SECONDS]

Prints one JSON line per check, {"check": name, "ok": bool, "detail": text},
then {"summary": {"passed": N, "failed": M}}. Exit code 0 only if every check
that ran passed (and at least one ran). Every check is bounded by --timeout
(default 5 s), so a broken peer fails fast instead of hanging.
"""

import argparse
import datetime
import json
import math
import re
import sys
from decimal import Decimal

from twisted.internet import defer, reactor
from twisted.python import failure
from twisted.spread import pb

from echo_types import Point, RemoteCounter, RemotePoint

TIMEOUT = 5.0


def describe(x):
    if isinstance(x, failure.Failure):
        return "failure type=%r value=%r" % (x.type, x.getErrorMessage())
    r = repr(x)
    return r if len(r) <= 300 else r[:300] + "..."


def diff(want, got, path="value"):
    """None if got equals want with the same Python types all the way down,
    else a description of the first difference. Not for cyclic values."""
    if type(want) is not type(got):
        return "%s: got type %s (%s), want %s" % (
            path, type(got).__name__, describe(got), type(want).__name__)
    if isinstance(want, float):
        if math.isnan(want):
            return None if math.isnan(got) else "%s: got %r, want nan" % (path, got)
        if want != got or math.copysign(1, want) != math.copysign(1, got):
            return "%s: got %r, want %r" % (path, got, want)
        return None
    if isinstance(want, (list, tuple)):
        if len(want) != len(got):
            return "%s: got length %d, want %d" % (path, len(got), len(want))
        for i, (w, g) in enumerate(zip(want, got)):
            d = diff(w, g, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if isinstance(want, dict):
        wk, gk = list(want), list(got)
        if len(wk) != len(gk):
            return "%s: got %d keys, want %d" % (path, len(gk), len(wk))
        # jelly keeps insertion order, so keys compare pairwise.
        for i, (w, g) in enumerate(zip(wk, gk)):
            d = diff(w, g, "%s.key[%d]" % (path, i))
            if d:
                return d
            d = diff(want[w], got[g], "%s[%r]" % (path, w))
            if d:
                return d
        return None
    if isinstance(want, (set, frozenset)):
        ws = {(type(x), x) for x in want}
        gs = {(type(x), x) for x in got}
        return None if ws == gs else "%s: got %r, want %r" % (path, got, want)
    if isinstance(want, Decimal):
        return None if str(want) == str(got) else "%s: got %s, want %s" % (path, got, want)
    return None if want == got else "%s: got %r, want %r" % (path, got, want)


def failure_is(f, cls):
    """True if the remote failure f is of Python class cls (by type or parents)."""
    if not isinstance(f, failure.Failure):
        return False
    qual = "%s.%s" % (cls.__module__, cls.__qualname__)
    t = f.type
    if isinstance(t, bytes):
        t = t.decode("utf-8", "replace")
    if t == qual:
        return True
    return bool(f.check(cls))


async def call(ref, name, *args, **kw):
    """callRemote; returns (True, result) or (False, Failure). Never raises."""
    d = defer.maybeDeferred(ref.callRemote, name, *args, **kw)
    d.addCallbacks(lambda r: (True, r), lambda f: (False, f))
    return await d


async def wait(d, timeout=TIMEOUT):
    """Waits for d at most timeout seconds; (True, result) or (False, Failure)."""
    d.addTimeout(timeout, reactor)
    d.addCallbacks(lambda r: (True, r), lambda f: (False, f))
    return await d


class Echoer(pb.Referenceable):
    def remote_echo(self, x):
        return x


class Other(pb.Referenceable):
    pass


def echo_values():
    """(name, value) pairs echoed with type-preserving comparison."""
    nested = (1, (2, (3, "x")), [4, (5,)], ())
    return [
        ("None", None),
        ("True", True),
        ("False", False),
        ("int/0", 0),
        ("int/-1", -1),
        ("int/2**31-1", 2 ** 31 - 1),
        ("int/2**31", 2 ** 31),
        ("int/-2**31", -2 ** 31),
        ("int/-2**31-1", -2 ** 31 - 1),
        ("int/2**64", 2 ** 64),
        ("int/-2**100", -2 ** 100),
        ("float/1.5", 1.5),
        ("float/-0.0", -0.0),
        ("float/inf", math.inf),
        ("float/-inf", -math.inf),
        ("float/nan", math.nan),
        ("float/1e300", 1e300),
        ("str/empty", ""),
        ("str/ascii", "hello"),
        ("str/latin", "h\u00e9llo"),
        ("str/astral", "\U0001F600 astral \U00010348"),
        ("str/vocab-word", "list"),
        ("bytes/empty", b""),
        ("bytes/00ff", b"\x00\xff"),
        ("bytes/vocab-list", b"list"),
        ("bytes/vocab-remote", b"remote"),
        ("bytes/64KiB", bytes(range(256)) * 256),
        ("list/empty", []),
        ("list/mixed", [1, "two", b"three", 4.0, None, True]),
        ("list/nested", [[1, [2, [3, []]]], [[]]]),
        ("tuple/empty", ()),
        ("tuple/simple", (1, "a", b"b")),
        ("tuple/nested", nested),
        ("dict/empty", {}),
        ("dict/keys", {"s": 1, b"b": 2, 3: 3, (1, "a"): 4}),
        ("dict/keys-none-float", {None: 5, 1.5: 6, True: 7}),
        ("dict/nested", {"a": [1, (2, 3)], "b": {"c": None, "d": {b"e": set()}}}),
        ("set/empty", set()),
        ("set/mixed", {1, "a", b"b", (2, 3)}),
        ("frozenset", frozenset({1, 2, "x"})),
        ("frozenset/empty", frozenset()),
        ("decimal/3.14", Decimal("3.14")),
        ("decimal/-0.5", Decimal("-0.5")),
        ("decimal/1E+3", Decimal("1E+3")),
        ("decimal/0", Decimal("0")),
        ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 6)),
        ("date", datetime.date(2024, 1, 2)),
        ("time", datetime.time(3, 4, 5, 6)),
        ("timedelta", datetime.timedelta(days=1, seconds=2, microseconds=3)),
        ("timedelta/negative", datetime.timedelta(days=-1)),
        ("list/1000-ints", list(range(-500, 500))),
    ]


class Runner:
    def __init__(self, root, only, skip, timeout):
        self.root = root
        self.only = re.compile(only) if only else None
        self.skip = re.compile(skip) if skip else None
        self.timeout = timeout
        self.passed = 0
        self.failed = 0

    def wanted(self, name):
        if self.only and not self.only.search(name):
            return False
        if self.skip and self.skip.search(name):
            return False
        return True

    def report(self, name, ok, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = {"check": name, "ok": bool(ok), "detail": detail}
        print(json.dumps(line), flush=True)

    async def check(self, name, fn, *args):
        """Runs fn(*args) -> (ok, detail) within the timeout and reports it."""
        if not self.wanted(name):
            return
        try:
            d = defer.ensureDeferred(fn(*args))
            done, res = await wait(d, self.timeout)
            if done:
                ok, detail = res
            elif res.check(defer.TimeoutError, defer.CancelledError):
                ok, detail = False, "timed out after %gs" % self.timeout
            else:
                ok, detail = False, "check raised: " + res.getTraceback()
        except Exception as e:  # defensive: a bug in the check itself
            ok, detail = False, "check raised: %r" % (e,)
        self.report(name, ok, detail)

    # --- individual checks; each returns (ok, detail) ---

    async def echo(self, value):
        ok, got = await call(self.root, "echo", value)
        if not ok:
            return False, describe(got)
        d = diff(value, got)
        return d is None, d or describe(got)

    async def echo_shared(self):
        a = [1]
        ok, got = await call(self.root, "echo", [a, a])
        if not ok:
            return False, describe(got)
        if diff([[1], [1]], got):
            return False, diff([[1], [1]], got)
        return got[0] is got[1], "result[0] is result[1]: %s" % (got[0] is got[1])

    async def echo_shared_order(self):
        a, b = [1], (2,)
        ok, got = await call(self.root, "echo", [a, b, b, a])
        if not ok:
            return False, describe(got)
        if diff([a, b, b, a], got):
            return False, diff([a, b, b, a], got)
        good = got[0] is got[3] and got[1] is got[2] and got[0] is not got[1]
        return good, describe(got)

    async def echo_cyclic_list(self):
        a = [1]
        a.append(a)
        ok, got = await call(self.root, "echo", a)
        if not ok:
            return False, describe(got)
        good = type(got) is list and len(got) == 2 and got[0] == 1 and got[1] is got
        return good, "len=%d got[1] is got: %s" % (len(got), len(got) == 2 and got[1] is got) if type(got) is list else describe(got)

    async def echo_cyclic_dict(self):
        d = {"n": 1}
        d["self"] = d
        ok, got = await call(self.root, "echo", d)
        if not ok:
            return False, describe(got)
        good = type(got) is dict and list(got) == ["n", "self"] and got["n"] == 1 and got["self"] is got
        return good, "keys=%r" % (list(got),) if type(got) is dict else describe(got)

    async def echo_cyclic_tuple(self):
        lst = []
        t = (lst,)
        lst.append(t)
        ok, got = await call(self.root, "echo", t)
        if not ok:
            return False, describe(got)
        good = (type(got) is tuple and len(got) == 1 and type(got[0]) is list
                and len(got[0]) == 1 and got[0][0] is got)
        return good, "tuple containing a list containing the tuple: %s" % good

    async def echo_kw_default(self):
        ok, got = await call(self.root, "echoKw", "x")
        if not ok:
            return False, describe(got)
        d = diff(["x", "default"], got)
        return d is None, d or describe(got)

    async def echo_kw_keyword(self):
        ok, got = await call(self.root, "echoKw", "x", b="y")
        if not ok:
            return False, describe(got)
        d = diff(["x", "y"], got)
        return d is None, d or describe(got)

    async def fail(self):
        ok, got = await call(self.root, "fail", "boom")
        if ok:
            return False, "expected a failure, got " + describe(got)
        good = failure_is(got, ValueError) and got.getErrorMessage() == "boom"
        return good, describe(got)

    async def ref_add(self):
        ok, ref = await call(self.root, "ref")
        if not ok:
            return False, "ref(): " + describe(ref)
        if not isinstance(ref, pb.RemoteReference):
            return False, "ref() returned " + describe(ref)
        ok, got = await call(ref, "add", 2, 3)
        if not ok:
            return False, "add(2, 3): " + describe(got)
        d = diff(5, got)
        return d is None, d or describe(got)

    async def same_true(self):
        ok, ref = await call(self.root, "ref")
        if not ok:
            return False, "ref(): " + describe(ref)
        ok, got = await call(self.root, "same", ref)
        if not ok:
            return False, describe(got)
        return got is True, describe(got)

    async def same_false(self):
        other = Other()
        ok, got = await call(self.root, "same", other)
        if not ok:
            return False, describe(got)
        if got is not False:
            return False, "same(client object) = " + describe(got)
        ok, got = await call(self.root, "same", None)
        if not ok:
            return False, "same(None): " + describe(got)
        return got is False, "same(None) = " + describe(got)

    async def callback(self):
        ok, got = await call(self.root, "callback", Echoer(), "hi")
        if not ok:
            return False, describe(got)
        d = diff("hi", got)
        return d is None, d or describe(got)

    async def callback_value(self):
        v = {"k": [1, (2.5, b"x")], 3: None}
        ok, got = await call(self.root, "callback", Echoer(), v)
        if not ok:
            return False, describe(got)
        d = diff(v, got)
        return d is None, d or describe(got)

    async def point(self):
        ok, got = await call(self.root, "point", 1, 2)
        if not ok:
            return False, describe(got)
        if not isinstance(got, RemotePoint):
            return False, "not a RemotePoint: " + describe(got)
        d = diff(1, got.x, "x") or diff(2, got.y, "y")
        return d is None, d or describe(got)

    async def point_sum(self):
        ok, got = await call(self.root, "pointSum", Point(3, 4))
        if not ok:
            return False, describe(got)
        d = diff(7, got)
        return d is None, d or describe(got)

    async def counter(self):
        ok, counter = await call(self.root, "counter")
        if not ok:
            return False, "counter(): " + describe(counter)
        if not isinstance(counter, RemoteCounter):
            return False, "not a RemoteCounter: " + describe(counter)
        n = getattr(counter, "value", None)
        if type(n) is not int:
            return False, "counter value is not an int: " + describe(counter)
        updated = defer.Deferred()

        def listener(v):
            if not updated.called:
                updated.callback(v)

        RemoteCounter.listeners.append(listener)
        try:
            ok, got = await call(self.root, "increment")
            if not ok:
                return False, "increment(): " + describe(got)
            if got != n + 1:
                return False, "increment() = %r, want %d" % (got, n + 1)
            ok, v = await wait(updated, self.timeout)
            if not ok:
                return False, "no setValue cachemessage within %gs" % self.timeout
        finally:
            RemoteCounter.listeners.remove(listener)
        good = v == n + 1 and counter.value == n + 1
        return good, "value %d -> setValue(%r), proxy value %r" % (n, v, counter.value)

    async def unknown_method(self):
        ok, got = await call(self.root, "noSuchMethod", 1)
        if ok:
            return False, "expected a failure, got " + describe(got)
        if not isinstance(got, failure.Failure) or got.check(pb.PBConnectionLost, pb.DeadReferenceError):
            return False, "connection lost: " + describe(got)
        detail = describe(got)
        ok2, got2 = await call(self.root, "echo", "still alive")
        if not ok2:
            return False, detail + "; later echo failed: " + describe(got2)
        return got2 == "still alive", detail + "; later echo: " + describe(got2)

    async def wrong_arg_count(self):
        ok, ref = await call(self.root, "ref")
        if not ok:
            return False, "ref(): " + describe(ref)
        ok, got = await call(ref, "add", 1)
        if ok:
            return False, "expected a failure, got " + describe(got)
        return failure_is(got, TypeError), describe(got)

    async def run(self):
        for name, value in echo_values():
            await self.check("echo/" + name, self.echo, value)
        await self.check("echo/shared-sublist", self.echo_shared)
        await self.check("echo/shared-order", self.echo_shared_order)
        await self.check("echo/cyclic-list", self.echo_cyclic_list)
        await self.check("echo/cyclic-dict", self.echo_cyclic_dict)
        await self.check("echo/cyclic-tuple", self.echo_cyclic_tuple)
        await self.check("echoKw/default", self.echo_kw_default)
        await self.check("echoKw/keyword", self.echo_kw_keyword)
        await self.check("fail", self.fail)
        await self.check("ref/add", self.ref_add)
        await self.check("same/true", self.same_true)
        await self.check("same/false", self.same_false)
        await self.check("callback", self.callback)
        await self.check("callback/value", self.callback_value)
        await self.check("point", self.point)
        await self.check("pointSum", self.point_sum)
        await self.check("counter", self.counter)
        await self.check("unknown-method", self.unknown_method)
        await self.check("wrong-arg-count", self.wrong_arg_count)


async def amain(opts, state):
    host, _, port = opts.address.rpartition(":")
    factory = pb.PBClientFactory()
    reactor.connectTCP(host or "127.0.0.1", int(port), factory, timeout=opts.timeout)
    ok, root = await wait(factory.getRootObject(), opts.timeout)
    runner = Runner(root if ok else None, opts.only, opts.skip, opts.timeout)
    if not ok:
        runner.report("connect", False, "getRootObject: " + describe(root))
    else:
        await runner.run()
        factory.disconnect()
    print(json.dumps({"summary": {"passed": runner.passed, "failed": runner.failed}}), flush=True)
    state["code"] = 0 if runner.failed == 0 and runner.passed > 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("address", help="HOST:PORT of the echo server")
    p.add_argument("--only", help="run only checks whose name matches this regex")
    p.add_argument("--skip", help="skip checks whose name matches this regex")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="per-check timeout in seconds")
    opts = p.parse_args()
    state = {"code": 1}

    def done(result):
        if isinstance(result, failure.Failure):
            print(result.getTraceback(), file=sys.stderr, flush=True)
        reactor.stop()

    def start():
        defer.ensureDeferred(amain(opts, state)).addBoth(done)

    reactor.callWhenRunning(start)
    reactor.run()
    sys.exit(state["code"])


if __name__ == "__main__":
    main()
