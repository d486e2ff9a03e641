package crosscheck

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/jellytest"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/jelly"
)

const (
	python   = "/usr/bin/python3" // Debian's, with Twisted 22.4 (not the PATH one)
	script   = "testdata/roundtrip.py"
	nValues  = 3000
	seed     = 20261122
	maxDepth = 5
)

// gen makes random jelly values. Sets are the one place where Python's
// order is not ours (hash order): a set of at most 4 distinct ints in 0..7,
// in ascending order, is iterated by CPython in that order, so such sets are
// compared byte for byte. Any other set marks the value "unordered": it is
// then compared order-insensitively on the decoded side only.
type gen struct {
	r          *rand.Rand
	lists      [][]any
	dicts      []*jelly.Dict
	unordered  bool
	emptyTuple bool
}

var vocab = []string{
	"None", "class", "dereference", "reference", "dictionary", "function", "instance", "list",
	"module", "persistent", "tuple", "unpersistable", "copy", "cache", "cached", "remote",
	"local", "lcache", "version", "login", "password", "challenge", "logged_in",
	"not_logged_in", "cachemessage", "message", "answer", "error", "decref", "decache",
	"uncache", "unicode", "boolean", "set", "frozenset", "decimal",
}

var texts = []string{"", "a", "héllo", "日本語", "\U0001F600 astral", "tab\tnew\nline", "\x00nul", "ÿ"}

func (g *gen) str() string {
	switch g.r.IntN(4) {
	case 0:
		return vocab[g.r.IntN(len(vocab))]
	case 1:
		return texts[g.r.IntN(len(texts))]
	}
	var sb strings.Builder
	for i, n := 0, g.r.IntN(12); i < n; i++ {
		switch g.r.IntN(5) {
		case 0:
			sb.WriteRune(rune(0x80 + g.r.IntN(0x700)))
		case 1:
			sb.WriteRune(rune(0x10000 + g.r.IntN(0x1000)))
		default:
			sb.WriteByte(byte(' ' + g.r.IntN(95)))
		}
	}
	return sb.String()
}

func (g *gen) bytes() []byte {
	if g.r.IntN(3) == 0 {
		return []byte(vocab[g.r.IntN(len(vocab))])
	}
	b := make([]byte, g.r.IntN(20))
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return b
}

func (g *gen) int() any {
	switch g.r.IntN(6) {
	case 0:
		return int64(g.r.IntN(256)) - 128
	case 1:
		return []int64{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}[g.r.IntN(9)]
	case 2:
		return g.r.Int64() >> g.r.IntN(63)
	case 3, 4:
		n := g.bigBits(64 + g.r.IntN(330))
		n.Add(n, new(big.Int).Lsh(big.NewInt(1), 63))
		if g.r.IntN(2) == 0 {
			n.Neg(n)
		}
		return n
	}
	return int64(g.r.IntN(1 << 20))
}

// bigBits returns a random non-negative int below 2**bits.
func (g *gen) bigBits(bits int) *big.Int {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	n := new(big.Int).SetBytes(b)
	return n.Rsh(n, uint(len(b)*8-bits))
}

func (g *gen) float() float64 {
	switch g.r.IntN(6) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64, 1.5}[g.r.IntN(8)]
	case 1:
		return math.Float64frombits(g.r.Uint64())
	}
	return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(40)-20))
}

func (g *gen) atom() any {
	switch g.r.IntN(14) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2, 3:
		return g.int()
	case 4:
		return g.float()
	case 5, 6:
		return g.str()
	case 7, 8:
		return g.bytes()
	case 9:
		d := g.bigBits(1 + g.r.IntN(120))
		if g.r.IntN(2) == 0 {
			d.Neg(d)
		}
		return jelly.Decimal{Digits: d, Exp: int64(g.r.IntN(81) - 40)}
	case 10:
		y, m := 1+g.r.IntN(9999), 1+g.r.IntN(12)
		return jelly.DateTime{Year: y, Month: m, Day: 1 + g.r.IntN(28), Hour: g.r.IntN(24), Minute: g.r.IntN(60), Second: g.r.IntN(60), Microsecond: g.r.IntN(1000000)}
	case 11:
		return jelly.Date{Year: 1 + g.r.IntN(9999), Month: 1 + g.r.IntN(12), Day: 1 + g.r.IntN(28)}
	case 12:
		return jelly.Time{Hour: g.r.IntN(24), Minute: g.r.IntN(60), Second: g.r.IntN(60), Microsecond: g.r.IntN(1000000)}
	}
	td, err := jelly.TimeDelta{Days: int64(g.r.IntN(2000000)) - 1000000, Seconds: int64(g.r.IntN(200000)) - 100000, Microseconds: int64(g.r.IntN(3000000)) - 1500000}.Normalize()
	if err != nil {
		panic(err)
	}
	return td
}

// key returns a hashable value: str, bytes, int, or a tuple of atoms
// (which may hold bools and floats: True == 1 == 1.0 is one key in Python
// and in jelly.Dict).
func (g *gen) key() any {
	switch g.r.IntN(5) {
	case 0:
		return g.str()
	case 1:
		return g.bytes()
	case 2:
		return g.int()
	case 3:
		return int64(g.r.IntN(4))
	}
	t := make(jelly.Tuple, 1+g.r.IntN(3))
	for i := range t {
		switch g.r.IntN(5) {
		case 0:
			t[i] = g.r.IntN(2) == 0
		case 1:
			t[i] = float64(g.r.IntN(3))
		case 2:
			t[i] = g.str()
		default:
			t[i] = int64(g.r.IntN(3))
		}
	}
	return t
}

func (g *gen) set() *jelly.Set {
	s := &jelly.Set{Frozen: g.r.IntN(2) == 0}
	if g.r.IntN(3) > 0 {
		// Ascending small ints: CPython keeps this order.
		for i := 0; i < 8 && len(s.Items) < 4; i++ {
			if g.r.IntN(3) == 0 {
				s.Items = append(s.Items, int64(i))
			}
		}
		return s
	}
	g.unordered = true
	for i, n := 0, g.r.IntN(6); i < n; i++ {
		var it any
		switch g.r.IntN(3) {
		case 0:
			it = g.str()
		case 1:
			it = g.bytes()
		default:
			it = g.int()
		}
		s.Add(it)
	}
	return s
}

func (g *gen) value(depth int) any {
	if depth >= maxDepth || g.r.IntN(10) < 4 {
		return g.atom()
	}
	switch g.r.IntN(12) {
	case 0, 1, 2:
		if len(g.lists) > 0 && g.r.IntN(4) == 0 {
			return g.lists[g.r.IntN(len(g.lists))] // shared
		}
		l := make([]any, g.r.IntN(6))
		for i := range l {
			l[i] = g.value(depth + 1)
		}
		if len(l) > 0 && g.r.IntN(15) == 0 {
			l[g.r.IntN(len(l))] = l // cycle
		}
		g.lists = append(g.lists, l)
		return l
	case 3, 4:
		n := g.r.IntN(5)
		if n == 0 {
			g.emptyTuple = true
		}
		t := make(jelly.Tuple, n)
		for i := range t {
			t[i] = g.value(depth + 1)
		}
		return t
	case 5, 6, 7:
		if len(g.dicts) > 0 && g.r.IntN(5) == 0 {
			return g.dicts[g.r.IntN(len(g.dicts))] // shared
		}
		d := &jelly.Dict{}
		for i, n := 0, g.r.IntN(6); i < n; i++ {
			d.Set(g.key(), g.value(depth+1))
		}
		g.dicts = append(g.dicts, d)
		return d
	case 8, 9:
		return g.set()
	}
	return g.atom()
}

type sample struct {
	value     any
	unordered bool
	wire      []byte
}

func runPython(t *testing.T, input []byte) []byte {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("crosscheck needs %s with Twisted 22.4 (Debian python3-twisted): %v", python, err)
	}
	cmd := exec.Command(python, script)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "IMPORT-FAILED") {
			t.Fatalf("%s cannot import twisted (install Debian's python3-twisted): %s", python, stderr.String())
		}
		t.Fatalf("%s %s: %v\n%s", python, script, err, stderr.String())
	}
	return out
}

func TestTwistedRoundTrip(t *testing.T) {
	start := time.Now()
	g := &gen{r: rand.New(rand.NewPCG(seed, seed>>1))}
	enc := &banana.Encoder{Dialect: banana.DialectPB}
	var input []byte
	samples := make([]sample, 0, nValues)
	for len(samples) < nValues {
		g.lists, g.dicts, g.unordered, g.emptyTuple = nil, nil, false, false
		v := g.value(0)
		sexp, err := jelly.Marshal(v, nil)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		wire, err := enc.Append(nil, sexp)
		if err != nil {
			t.Fatalf("banana: %v", err)
		}
		samples = append(samples, sample{v, g.unordered, wire})
		input = binary.BigEndian.AppendUint32(input, uint32(len(wire)))
		input = append(input, wire...)
	}
	out := runPython(t, input)

	var exact, unordered, shared int
	for i, s := range samples {
		if len(out) < 5 {
			t.Fatalf("value %d: Python output truncated", i)
		}
		status, n := out[0], binary.BigEndian.Uint32(out[1:5])
		payload := out[5 : 5+n]
		out = out[5+n:]
		if status != 0 {
			t.Fatalf("value %d: Twisted failed: %s\nGo sent %x\nvalue %#v", i, payload, s.wire, s.value)
		}
		if bytes.Contains(s.wire, []byte{0x04, 0x87}) { // VOCAB "reference"
			shared++
		}
		// Direction 1: Twisted re-jellies exactly what we sent.
		if !s.unordered {
			exact++
			if !bytes.Equal(payload, s.wire) {
				t.Fatalf("value %d: bytes differ\n  Go: %s\n  Py: %s\nvalue %#v", i, hex.EncodeToString(s.wire), hex.EncodeToString(payload), s.value)
			}
		} else {
			unordered++
		}
		// Direction 2: we decode Twisted's bytes to the original value,
		// and re-encode them byte for byte (types and sharing survive).
		dec := banana.NewDecoder(nil)
		dec.SetDialect(banana.DialectPB)
		var got []any
		if err := dec.Feed(payload, func(x any) error { got = append(got, x); return nil }); err != nil || len(got) != 1 {
			t.Fatalf("value %d: banana decode of Twisted's bytes: %v (%d expressions)", i, err, len(got))
		}
		back, err := jelly.Unmarshal(got[0], nil)
		if err != nil {
			t.Fatalf("value %d: Unmarshal of Twisted's output: %v\n%x", i, err, payload)
		}
		if !equalValues(back, s.value, !s.unordered) {
			t.Fatalf("value %d: decoded Twisted output differs\n got %#v\nwant %#v", i, back, s.value)
		}
		again, err := jelly.Marshal(back, nil)
		if err != nil {
			t.Fatalf("value %d: re-Marshal: %v", i, err)
		}
		wire2, err := enc.Append(nil, again)
		if err != nil {
			t.Fatalf("value %d: banana: %v", i, err)
		}
		if !bytes.Equal(wire2, payload) {
			t.Fatalf("value %d: Python -> Go -> wire changed the bytes\n  Py: %x\n  Go: %x", i, payload, wire2)
		}
	}
	if len(out) != 0 {
		t.Fatalf("%d stray bytes from Python", len(out))
	}
	if exact < nValues/2 || shared < 50 {
		t.Fatalf("weak sample: %d byte-exact, %d with references", exact, shared)
	}
	t.Logf("%d values (%d byte-exact both ways, %d with unordered sets, %d with references) in %v",
		nValues, exact, unordered, shared, time.Since(start).Round(time.Millisecond))
}

// equalValues compares strictly; ordered also compares sets in order.
func equalValues(a, b any, ordered bool) bool {
	if ordered {
		return jellytest.EqualOrdered(a, b)
	}
	return jellytest.Equal(a, b)
}
