"""spreadbench: a Twisted PB load client for the echo service.

Usage: /usr/bin/python3 -u echo_load.py --port P [--conns C] [--inflight K]
           [--warmup S] [--duration S] [--runs R] [--payload TEXT]

Opens C connections to 127.0.0.1:P and keeps K calls of
root.callRemote("echo", payload) in flight on each. After the warm-up it
measures R runs of S seconds back to back. At each run boundary it prints
"MARK i" (i = 0..R) so that the harness can read the server's CPU time;
at the end it prints one line "RESULT {json}" with, per run, the calls
completed, the seconds and the p50/p99 latency in microseconds.
"""

import argparse
import json
import sys
from time import perf_counter

from twisted.internet import defer, reactor
from twisted.spread import pb


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    import math
    i = max(0, min(len(sorted_vals) - 1, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--payload", default="spread bench payload 0123456789")
    a = ap.parse_args()

    runs = a.runs
    state = {"phase": -1, "error": None}
    lat = [[] for _ in range(runs)]
    calls = [0] * runs
    bounds = [0.0] * (runs + 1)
    payload = a.payload
    max_calls = 50000000

    def fail(f):
        if state["error"] is None and state["phase"] < runs:
            state["error"] = f.getErrorMessage()
            finish()

    def worker(root):
        count = [0]

        def one():
            if state["phase"] >= runs or count[0] >= max_calls:
                return
            count[0] += 1
            t0 = perf_counter()
            d = root.callRemote("echo", payload)

            def ok(v):
                t1 = perf_counter()
                p = state["phase"]
                if 0 <= p < runs:
                    calls[p] += 1
                    lat[p].append(t1 - t0)
                one()

            d.addCallbacks(ok, fail)

        one()

    def mark(i):
        bounds[i] = perf_counter()
        sys.stdout.write("MARK %d\n" % i)
        sys.stdout.flush()
        state["phase"] = i
        if i < runs:
            reactor.callLater(a.duration, mark, i + 1)
        else:
            finish()

    def finish():
        if state.get("done"):
            return
        state["done"] = True
        out = {"runs": []}
        if state["error"] is not None:
            out["error"] = state["error"]
        else:
            for r in range(runs):
                ls = sorted(lat[r])
                out["runs"].append({
                    "calls": calls[r],
                    "seconds": bounds[r + 1] - bounds[r],
                    "p50_us": (pct(ls, 50) or 0) * 1e6,
                    "p99_us": (pct(ls, 99) or 0) * 1e6,
                })
        sys.stdout.write("RESULT " + json.dumps(out) + "\n")
        sys.stdout.flush()
        reactor.callLater(0, reactor.stop)

    @defer.inlineCallbacks
    def start():
        roots = []
        try:
            for _ in range(a.conns):
                f = pb.PBClientFactory()
                reactor.connectTCP("127.0.0.1", a.port, f)
                root = yield f.getRootObject()
                roots.append(root)
        except Exception as e:
            state["error"] = "connect: %s" % (e,)
            finish()
            return
        for root in roots:
            for _ in range(a.inflight):
                worker(root)
        reactor.callLater(a.warmup, mark, 0)

    # A hard bound on the whole run.
    reactor.callLater(a.warmup + runs * a.duration + 60, lambda: (state.update(error="timeout"), finish()))
    reactor.callWhenRunning(start)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
