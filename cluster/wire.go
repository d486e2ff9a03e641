package cluster

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// A message on a group's subject:
//
//	version byte (1)
//	uvarint  length of the node name, then the name
//	8 bytes  incarnation, big endian
//	uvarint  sequence number (per node incarnation and group, from 1)
//	varint   send time, Unix nanoseconds on the sender's clock
//	rest     payload
const wireVersion = 1

type envelope struct {
	node    string
	inc     uint64
	seq     uint64
	sent    int64
	payload []byte
}

func (e *envelope) append(b []byte) []byte {
	b = append(b, wireVersion)
	b = binary.AppendUvarint(b, uint64(len(e.node)))
	b = append(b, e.node...)
	b = binary.BigEndian.AppendUint64(b, e.inc)
	b = binary.AppendUvarint(b, e.seq)
	b = binary.AppendVarint(b, e.sent)
	return append(b, e.payload...)
}

var errWire = errors.New("cluster: malformed message")

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 1 || b[0] != wireVersion {
		return e, errWire
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || uint64(len(b)-k) < n {
		return e, errWire
	}
	e.node = string(b[k : k+int(n)])
	b = b[k+int(n):]
	if len(b) < 8 {
		return e, errWire
	}
	e.inc = binary.BigEndian.Uint64(b)
	b = b[8:]
	if e.seq, k = binary.Uvarint(b); k <= 0 || e.seq == 0 {
		return e, errWire
	}
	b = b[k:]
	if e.sent, k = binary.Varint(b); k <= 0 {
		return e, errWire
	}
	e.payload = b[k:]
	return e, nil
}

// token encodes a name as one subject token.
func token(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

// state is what a node publishes on <prefix>.state.
type state struct {
	Node   string       `json:"node"`
	Inc    uint64       `json:"inc"`
	Bye    bool         `json:"bye,omitempty"`
	Groups []stateGroup `json:"groups,omitempty"`
}

type stateGroup struct {
	Name    string   `json:"name"`
	Options []byte   `json:"opts,omitempty"`
	Stamp   stamp    `json:"stamp"`
	Members []string `json:"members,omitempty"`
}

// stamp orders group creations: the earlier time wins, then the smaller
// node name.
type stamp struct {
	Time int64  `json:"t"`
	Node string `json:"n"`
}

func (a stamp) before(b stamp) bool {
	if a.Time != b.Time {
		return a.Time < b.Time
	}
	return a.Node < b.Node
}
