"""Round-trip jelly values through Twisted (crosscheck helper).

Reads messages from stdin: a 4-byte big-endian length, then one Banana
expression (dialect pb). For each, decodes it with Twisted's Banana, unjellies
it with the global SecurityOptions a PB Broker uses, jellies the result again
and Banana-encodes it. Writes, per message: a status byte (0 ok, 1 error), a
4-byte big-endian length, then the encoding (or the error text).
Exit status 3 means Twisted could not be imported.
"""
import io
import struct
import sys

try:
    from twisted.spread import banana, jelly, pb  # noqa: F401 (pb registers its tags)
except Exception as exc:  # pragma: no cover
    sys.stderr.write("IMPORT-FAILED: %r\n" % (exc,))
    sys.exit(3)


class Codec(banana.Banana):
    def __init__(self):
        banana.Banana.__init__(self, isClient=1)
        self.connectionMade()
        self._selectDialect(b"pb")
        self.got = []
        self.transport = io.BytesIO()

    def expressionReceived(self, obj):
        self.got.append(obj)


def main():
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        msg = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
        dec, enc = Codec(), Codec()
        try:
            dec.dataReceived(msg)
            if len(dec.got) != 1:
                raise ValueError("decoded %d expressions" % len(dec.got))
            value = jelly.unjelly(dec.got[0], taster=jelly.globalSecurity)
            enc.sendEncoded(jelly.jelly(value))
            status, payload = 0, enc.transport.getvalue()
        except Exception as exc:
            status = 1
            payload = ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")
        out.write(struct.pack(">BI", status, len(payload)))
        out.write(payload)
    out.flush()


main()
