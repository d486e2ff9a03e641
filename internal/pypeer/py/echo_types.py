"""Copy and cache classes of the Spread Echo service, shared by the Python
test peers (echo_server.py, echo_client.py).

Wire tags (fixed by the Echo service contract):
  b"spread.test.Point"   Copyable, state {"x": x, "y": y}
  b"spread.test.Counter" Cacheable, state {"value": n}, cachemessage "setValue"
"""

from twisted.spread import pb

POINT_TAG = b"spread.test.Point"
COUNTER_TAG = b"spread.test.Counter"


def _text_keys(state):
    """A received state dict with its keys as text (a peer may send bytes)."""
    out = {}
    for k, v in state.items():
        if isinstance(k, bytes):
            k = k.decode("utf-8")
        out[k] = v
    return out


class Point(pb.Copyable):
    """Sent by copy as [b"spread.test.Point", {"x": x, "y": y}]."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def getTypeToCopy(self):
        return POINT_TAG

    def getStateToCopy(self):
        return {"x": self.x, "y": self.y}


class RemotePoint(pb.RemoteCopy):
    """What a received b"spread.test.Point" becomes."""

    def setCopyableState(self, state):
        state = _text_keys(state)
        self.x = state.get("x")
        self.y = state.get("y")

    def __repr__(self):
        return "RemotePoint(x=%r, y=%r)" % (self.x, self.y)


pb.setUnjellyableForClass(POINT_TAG, RemotePoint)


class Counter(pb.Cacheable):
    """A counter cached by every peer that receives it.

    increment() pushes observe_setValue(n+1) to every observer.
    """

    def __init__(self, value=0):
        self.value = value
        self.observers = []

    def getTypeToCopyFor(self, perspective):
        return COUNTER_TAG

    def getStateToCacheAndObserveFor(self, perspective, observer):
        self.observers.append(observer)
        return {"value": self.value}

    def stoppedObserving(self, perspective, observer):
        # Twisted hands over a new RemoteCacheObserver instance here, and
        # RemoteCacheObserver has no Python 3 equality: match by broker.
        self.observers = [
            o
            for o in self.observers
            if not (o.broker is observer.broker and o.perspective is perspective)
        ]

    def increment(self):
        self.value += 1
        for o in list(self.observers):
            try:
                d = o.callRemote("setValue", self.value)
            except Exception as e:  # peer already gone
                print("counter: observer call failed: %r" % (e,), flush=True)
                continue
            if d is not None:
                d.addErrback(lambda f: None)
        return self.value


class RemoteCounter(pb.RemoteCache):
    """What a received b"spread.test.Counter" becomes.

    listeners: callables invoked with the new value on every setValue.
    """

    listeners = []

    def setCopyableState(self, state):
        self.value = _text_keys(state).get("value")

    def observe_setValue(self, value):
        self.value = value
        for fn in list(RemoteCounter.listeners):
            fn(value)

    def __repr__(self):
        return "RemoteCounter(value=%r)" % (getattr(self, "value", None),)


pb.setUnjellyableForClass(COUNTER_TAG, RemoteCounter)
