"""Spread test peer: a stock Twisted PB client driven line by line on stdin,
for the tests of Spread's authd (log in once, reach every broker with tickets).

Usage: /usr/bin/python3 -u authd_client.py

Each stdin line is one command; each gets exactly one JSON line on stdout,
{"ok": true, ...} or {"ok": false, "type": ..., "value": ...}. Tickets stay
in named slots inside this process and are never printed.

  authd ADDR USER PASSWORD [password]  log in at authd (Twisted's challenge
                                       login; "password": Spread's loginPassword)
  ticket SLOT SERVICE                  ticket(SERVICE) at authd, kept in SLOT
  login NAME ADDR USER SLOT            PBClientFactory.login(UsernamePassword(USER,
                                       ticket)) at a broker; connection NAME
  loginpw NAME ADDR USER PASSWORD      the same with a plain password
  loginraw NAME ADDR USER HEX          the same with the bytes HEX as the password
  loginhuge NAME ADDR USER N           the same with an N-byte password
  replay ADDR USER SLOT                challenge login by hand with the ticket,
                                       then replay its response to a new challenge
  join NAME GROUP                      joinGroup(GROUP) on NAME's avatar
  send NAME TEXT                       send(TEXT) to NAME's group
  call NAME METHOD [ARG]               callRemote(METHOD[, ARG]) on NAME's avatar
  authdcall METHOD [ARG...]            callRemote(METHOD, ARG...) on the authd avatar
  service ADDR NAME SECRET             log in at authd as the service NAME (loginPassword)
  redeemslot USER SLOT [SERVICE]       the service redeems the ticket in SLOT (redeemTicket)
  svcticket SERVICE                    the service asks for a ticket (it must not get one)
  logout                               logout() at authd
  waitclosed NAME SECONDS              wait until NAME's connection is lost
  sleep SECONDS
  quit
"""

import hashlib
import json
import sys
import time

from twisted.cred import credentials
from twisted.internet import defer, reactor, stdio
from twisted.protocols import basic
from twisted.python import failure
from twisted.spread import pb


class Mind(pb.Referenceable):
    def __init__(self):
        self.lines = []

    def remote_print(self, message):
        self.lines.append(message)


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v if isinstance(v, str) else repr(v)


def failure_json(f):
    t = f.type if isinstance(f.type, (str, bytes)) else "%s.%s" % (f.type.__module__, f.type.__qualname__)
    return {"ok": False, "type": text(t), "value": f.getErrorMessage()}


def error_json(e):
    if isinstance(e, pb.RemoteError):  # a remote failure, raised into the coroutine
        return {"ok": False, "type": text(e.remoteType), "value": text(e.args[0])}
    return failure_json(failure.Failure(e))


def split(addr):
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)


class Conn:
    def __init__(self):
        self.factory = None
        self.avatar = None
        self.group = None
        self.lost = defer.Deferred()
        self.lost_at = None


class LostFactory(pb.PBClientFactory):
    def __init__(self, conn):
        pb.PBClientFactory.__init__(self)
        self.conn = conn

    def clientConnectionLost(self, connector, reason, reconnecting=0):
        pb.PBClientFactory.clientConnectionLost(self, connector, reason, reconnecting)
        if not self.conn.lost.called:
            self.conn.lost_at = time.monotonic()
            self.conn.lost.callback(None)


class Driver(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self):
        self.queue = defer.succeed(None)
        self.authd = Conn()
        self.slots = {}
        self.conns = {}
        self.mind = Mind()

    def lineReceived(self, line):
        words = line.decode("utf-8").rstrip("\r").split(" ")
        self.queue.addCallback(lambda _: defer.ensureDeferred(self.run(words)))

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()

    def reply(self, obj):
        print(json.dumps(obj), flush=True)

    async def run(self, words):
        self.reply(await self.dispatch(words[0], words[1:]))

    async def login(self, conn, addr, creds, password_login=False):
        conn.factory = LostFactory(conn)
        reactor.connectTCP(*split(addr), conn.factory, timeout=5)
        if password_login:
            root = await conn.factory.getRootObject()
            d = root.callRemote("loginPassword", creds.username, creds.password, self.mind)
        else:
            d = conn.factory.login(creds, client=self.mind)
        d.addTimeout(10, reactor)
        try:
            conn.avatar = await d
        except Exception:
            conn.factory.disconnect()
            raise
        return {"ok": True}

    async def dispatch(self, cmd, a):
        try:
            return await self.command(cmd, a)
        except defer.TimeoutError:
            return {"ok": False, "type": "timeout", "value": "no answer in time"}
        except Exception as e:
            return error_json(e)

    async def command(self, cmd, a):
        if cmd == "authd":
            pw_login = len(a) > 3 and a[3] == "password"
            self.authd = Conn()
            return await self.login(self.authd, a[0], credentials.UsernamePassword(a[1].encode(), a[2].encode()), pw_login)
        if cmd == "ticket":
            t = await self.authd.avatar.callRemote("ticket", a[1])
            if not isinstance(t, str) or len(t) < 22:
                return {"ok": False, "type": "bad ticket", "value": repr(type(t))}
            self.slots[a[0]] = t
            return {"ok": True, "len": len(t)}
        if cmd in ("login", "loginpw", "loginraw", "loginhuge"):
            name, addr, user, arg = a[0], a[1], a[2], a[3]
            secret = {
                "login": lambda: self.slots[arg].encode(),
                "loginpw": lambda: arg.encode(),
                "loginraw": lambda: bytes.fromhex(arg),
                "loginhuge": lambda: b"T" * int(arg),
            }[cmd]()
            conn = self.conns[name] = Conn()
            return await self.login(conn, addr, credentials.UsernamePassword(user.encode(), secret))
        if cmd == "replay":
            addr, user, slot = a
            ticket = self.slots[slot].encode()
            first = Conn()
            first.factory = LostFactory(first)
            reactor.connectTCP(*split(addr), first.factory, timeout=5)
            root = await first.factory.getRootObject()
            challenge, challenger = await root.callRemote("login", user.encode())
            response = hashlib.md5(hashlib.md5(ticket).digest() + challenge).digest()
            await challenger.callRemote("respond", response, self.mind)
            second = Conn()
            second.factory = LostFactory(second)
            reactor.connectTCP(*split(addr), second.factory, timeout=5)
            root2 = await second.factory.getRootObject()
            _, challenger2 = await root2.callRemote("login", user.encode())
            try:
                await challenger2.callRemote("respond", response, self.mind)
                replayed = {"ok": True}
            except Exception as e:
                replayed = error_json(e)
            first.factory.disconnect()
            second.factory.disconnect()
            return {"ok": True, "replay": replayed}
        if cmd == "join":
            conn = self.conns[a[0]]
            conn.group = await conn.avatar.callRemote("joinGroup", a[1])
            return {"ok": True}
        if cmd == "send":
            conn = self.conns[a[0]]
            await conn.group.callRemote("send", " ".join(a[1:]))
            return {"ok": True}
        if cmd == "call":
            conn = self.conns[a[0]]
            r = await conn.avatar.callRemote(a[1], *a[2:])
            return {"ok": True, "result": text(r)}
        if cmd == "authdcall":
            r = await self.authd.avatar.callRemote(a[0], *a[1:])
            return {"ok": True, "result": text(r)}
        if cmd == "service":
            addr, name, secret = a
            self.svc = Conn()
            self.svc.factory = LostFactory(self.svc)
            reactor.connectTCP(*split(addr), self.svc.factory, timeout=5)
            root = await self.svc.factory.getRootObject()
            self.svc.avatar = await root.callRemote("loginPassword", ("service:" + name).encode(), secret.encode(), self.mind)
            return {"ok": True}
        if cmd == "redeemslot":
            user, slot = a[0], a[1]
            kw = {"service": a[2]} if len(a) > 2 else {}
            r = await self.svc.avatar.callRemote("redeemTicket", user.encode(), self.slots[slot].encode(), **kw)
            return {"ok": True, "result": text(r[0])}
        if cmd == "svcticket":
            r = await self.svc.avatar.callRemote("ticket", a[0])
            return {"ok": True, "result": "a ticket" if r else ""}
        if cmd == "logout":
            await self.authd.avatar.callRemote("logout")
            return {"ok": True}
        if cmd == "waitclosed":
            conn = self.conns[a[0]]
            start = time.monotonic()
            if not conn.lost.called:
                d = defer.Deferred()
                conn.lost.addBoth(lambda r: (d.callback(None) if not d.called else None, r)[1])
                timer = reactor.callLater(float(a[1]), lambda: d.called or d.callback(None))
                await d
                if timer.active():
                    timer.cancel()
            if not conn.lost.called:
                return {"ok": False, "type": "timeout", "value": "still connected"}
            return {"ok": True, "after": max(0.0, conn.lost_at - start)}
        if cmd == "sleep":
            d = defer.Deferred()
            reactor.callLater(float(a[0]), d.callback, None)
            await d
            return {"ok": True}
        if cmd == "quit":
            reactor.callLater(0, reactor.stop)
            return {"ok": True}
        return {"ok": False, "type": "usage", "value": "unknown command " + cmd}


def main():
    stdio.StandardIO(Driver())
    reactor.run()


if __name__ == "__main__":
    main()
