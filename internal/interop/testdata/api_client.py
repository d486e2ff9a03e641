"""Spread interop peer for the application API (issue 15): a Twisted PB
client that calls a Go server's root the way Python applications do.

Usage: /usr/bin/python3 -u api_client.py HOST:PORT

Prints one JSON object per line: {"step": NAME, ...}. Exits 0 once every
step has run (the checks are made by the Go test), 1 on an unexpected
error.
"""

import json
import sys

from twisted.internet import defer, reactor, task
from twisted.python import failure
from twisted.spread import pb


def emit(step, **kw):
    kw["step"] = step
    print(json.dumps(kw, sort_keys=True), flush=True)


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


class Sink(pb.Referenceable):
    """What the Go server calls back: failures and lines of output."""

    def __init__(self):
        self.kept = defer.Deferred()

    def remote_complete(self, f):
        emit(
            "failure-received",
            cls=type(f).__name__,
            isFailure=isinstance(f, failure.Failure),
            checkValueError=f.check(ValueError) is ValueError,
            checkLookupError=f.check(LookupError) is not None,
            checkByName=f.check("myapp.errors.BuildFailed") is not None,
            message=f.getErrorMessage(),
            type=text(f.type),
        )
        return "ok"

    def remote_line(self, line, raw):
        emit(
            "lossy-received",
            isStr=isinstance(line, str),
            line=line,
            python=raw.decode("utf-8", "replace"),
        )
        if line == "kept":
            self.kept.callback(None)
        return len(line)


@defer.inlineCallbacks
def error_of(d):
    try:
        yield d
    except pb.RemoteError as e:
        return {"type": text(e.remoteType), "message": str(e)}
    return None


@defer.inlineCallbacks
def run(host, port):
    factory = pb.PBClientFactory()
    reactor.connectTCP(host, port, factory)
    root = yield factory.getRootObject()

    # Keywords on plain Go methods.
    emit("kw-only", result=(yield root.callRemote("print", message="hi")))
    emit("kw-mixed", result=(yield root.callRemote("print", "hi", stream="stderr")))
    emit("positional", result=(yield root.callRemote("print", "hi", "log")))
    emit("kw-unknown", error=(yield error_of(root.callRemote("print", message="hi", colour=1))))
    emit("kw-undeclared", error=(yield error_of(root.callRemote("plain", value="x"))))

    # A dict bound to a nested Go struct.
    cmd = {
        "workdir": "build",
        "command": ["make", "-j4"],
        "env": {"CC": "gcc", "CFLAGS": "-O2"},
        "timeout": 1200,
        "limits": {"cpu": 2, "files": [b"a.o", "b.o"]},
    }
    emit("dict", result=(yield root.callRemote("run", cmd=cmd)))
    bad = dict(cmd, env={"CC": 3})
    emit("dict-bad", error=(yield error_of(root.callRemote("run", cmd=bad))))
    bad = dict(cmd, limits={"cpu": 2, "files": ["a.o", None]})
    emit("dict-bad-deep", error=(yield error_of(root.callRemote("run", bad))))

    # Failures as values, both ways; lossy text.
    sink = Sink()
    emit("callback", result=(yield root.callRemote("callBack", sink)))
    f = pb.failure2Copyable(failure.Failure(KeyError("missing.o")))
    emit("failure-sent", result=(yield root.callRemote("inspect", f)))

    # A reference the Go side keeps after the call; disconnecting must
    # fire its NotifyOnDisconnect.
    emit("watch", result=(yield root.callRemote("watch", sink)))
    yield sink.kept  # called through the kept reference after "watch" returned
    factory.disconnect()
    yield task.deferLater(reactor, 0.2, lambda: None)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    status = {"code": 0}

    def ok(_):
        reactor.stop()

    def bad(f):
        emit("error", error=f.getTraceback())
        status["code"] = 1
        reactor.stop()

    reactor.callWhenRunning(lambda: run(host, int(port)).addCallbacks(ok, bad))
    reactor.run()
    sys.exit(status["code"])


if __name__ == "__main__":
    main()
