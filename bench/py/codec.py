"""spreadbench: Twisted 22.4's banana+jelly on the messages of spreadbench's
codec section (see cmd/spreadbench/codec.go), for comparison.

Usage: /usr/bin/python3 -u codec.py [--duration S] [--runs R] [--payload TEXT]

Prints one line "RESULT {json}": for each "<case> <encode|decode>", a list
of runs with ns_per_op, mb_per_s, msgs_per_s and wire_bytes.
"""

import argparse
import json
import sys
from io import BytesIO
from time import perf_counter

from twisted.spread import banana, jelly, pb  # noqa: F401 (pb registers its security)


def struct_arg():
    return {
        "id": 123456,
        "name": "alice",
        "active": True,
        "tags": ["red", "green", "blue"],
        "scores": [i + 0.5 for i in range(10)],
        "items": [{"sku": "item-%d" % i, "qty": i + 1, "price": 9.99 + i} for i in range(10)],
        "blob": bytes(range(256)),
        "owner": None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--payload", default="spread bench payload 0123456789")
    a = ap.parse_args()

    b = banana.Banana()
    b.connectionMade()
    b._selectDialect(b"pb")
    security = jelly.globalSecurity

    cases = [
        ("call-small", True, (a.payload,), b"echo"),
        ("answer-small", False, a.payload, None),
        ("call-struct", True, (struct_arg(), 42, "note"), b"update"),
    ]

    def encode(c):
        name, call, args, method = c
        if call:
            sexp = [b"message", 1, 0, method, 1, jelly.jelly(args, security), jelly.jelly({}, security)]
        else:
            sexp = [b"answer", 1, jelly.jelly(args, security)]
        s = BytesIO()
        b._encode(sexp, s.write)
        return s.getvalue()

    got = []
    b.expressionReceived = got.append

    def decode(wire, call):
        del got[:]
        b.dataReceived(wire)
        l = got[0]
        if call:
            jelly.unjelly(l[5], security)
            jelly.unjelly(l[6], security)
        else:
            jelly.unjelly(l[2], security)

    def timed(op):
        for _ in range(200):
            op()
        n = 0
        t0 = perf_counter()
        while True:
            for _ in range(64):
                op()
            n += 64
            el = perf_counter() - t0
            if el >= a.duration or n >= 50000000:
                return el * 1e9 / n

    out = {}
    for c in cases:
        wire = encode(c)
        for d in ("encode", "decode"):
            rs = []
            for _ in range(a.runs):
                if d == "encode":
                    ns = timed(lambda: encode(c))
                else:
                    ns = timed(lambda: decode(wire, c[1]))
                rs.append({"ns_per_op": ns, "mb_per_s": len(wire) / ns * 1e3,
                           "msgs_per_s": 1e9 / ns, "wire_bytes": len(wire)})
            out["%s %s" % (c[0], d)] = rs
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
