"""jobmaster: the Python side of the jobworker example, written as an
ordinary Twisted Perspective Broker application (the side a Go worker's
author does not control).

Usage: /usr/bin/python3 -u jobmaster.py --passwords FILE [--port N] [--jobs FILE]

Workers log in through twisted.cred (FilePasswordDB: one "name:password"
line per worker) with a mind, then call perspective_ready(name=...,
slots=...). The master then sends each job to the worker's mind:

    mind.callRemote("run", job_id=..., cmd={...}, progress=<JobProgress>)

where cmd is a dict: {"workdir": str, "command": [str, ...],
"env": {str: str}, "timeout": int seconds}. The worker streams output
with progress.callRemote("line", stream=..., text=...) and finishes with
progress.callRemote("complete", rc=N) or progress.callRemote("complete",
failure=<CopyableFailure>).

Prints "LISTENING <port>" once bound, then one line per event:
READY <worker>, SENT <job>, LINE <job> <stream> <text>,
DONE <job> rc=<n>, FAILED <job> <exception type> <check> <message>,
LOST <worker>. Stops on SIGTERM/SIGINT.
"""

import argparse
import json
import sys

from twisted.cred import checkers, portal
from twisted.internet import reactor
from twisted.python import log
from twisted.spread import pb
from zope.interface import implementer

DEFAULT_JOBS = [
    {"id": "hello", "cmd": {"workdir": ".", "command": ["sh", "-c", "echo hello from $GREETER; echo warning >&2"],
                            "env": {"GREETER": "jobworker"}, "timeout": 30}},
    {"id": "exit3", "cmd": {"workdir": ".", "command": ["sh", "-c", "exit 3"], "env": {}, "timeout": 30}},
    {"id": "missing", "cmd": {"workdir": ".", "command": ["no-such-program-here"], "env": {}, "timeout": 30}},
]


class JobProgress(pb.Referenceable):
    """Receives one job's output and result from the worker."""

    def __init__(self, job_id):
        self.job_id = job_id

    def remote_line(self, stream, text):
        print("LINE %s %s %s" % (self.job_id, stream, text), flush=True)

    def remote_complete(self, rc=None, failure=None):
        if failure is not None:
            kind = failure.check(FileNotFoundError, TimeoutError, OSError)
            kind = kind.__name__ if kind else "other"
            print("FAILED %s %s %s %s" % (self.job_id, failure.type.decode() if isinstance(failure.type, bytes) else failure.type,
                                          kind, failure.getErrorMessage()), flush=True)
        else:
            print("DONE %s rc=%d" % (self.job_id, rc), flush=True)


class Worker(pb.Avatar):
    def __init__(self, name, mind, jobs):
        self.name = name
        self.mind = mind
        self.jobs = jobs

    def perspective_ready(self, name, slots=1):
        print("READY %s slots=%d" % (name, slots), flush=True)
        for job in self.jobs:
            self.send(job)
        return len(self.jobs)

    def send(self, job):
        d = self.mind.callRemote("run", job_id=job["id"], cmd=job["cmd"], progress=JobProgress(job["id"]))
        d.addCallback(lambda _: print("SENT %s" % job["id"], flush=True))
        d.addErrback(lambda f: print("SENDFAILED %s %s" % (job["id"], f.getErrorMessage()), flush=True))


@implementer(portal.IRealm)
class Realm:
    def __init__(self, jobs):
        self.jobs = jobs

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError()
        name = avatar_id.decode() if isinstance(avatar_id, bytes) else avatar_id
        worker = Worker(name, mind, self.jobs)

        def logout():
            print("LOST %s" % name, flush=True)

        return pb.IPerspective, worker, logout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8789)
    p.add_argument("--passwords", required=True, help='file of "name:password" lines')
    p.add_argument("--jobs", help="JSON file: a list of {id, cmd}")
    opts = p.parse_args()

    log.startLogging(sys.stderr, setStdout=False)
    jobs = DEFAULT_JOBS
    if opts.jobs:
        with open(opts.jobs) as f:
            jobs = json.load(f)
    checker = checkers.FilePasswordDB(opts.passwords)
    factory = pb.PBServerFactory(portal.Portal(Realm(jobs), [checker]))
    port = reactor.listenTCP(opts.port, factory, interface="127.0.0.1")
    print("LISTENING %d" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
