package banana

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"runtime"
	"testing"
)

// stream is a multi-expression pb-dialect stream and what it decodes to.
func stream(t testing.TB) ([]byte, []any) {
	t.Helper()
	big1 := new(big.Int).Lsh(big.NewInt(3), 200)
	vals := []any{
		[]any{[]byte("version"), int64(6)},
		callMessage(),
		int64(-1 << 31), int64(1 << 31), big1, new(big.Int).Neg(big1),
		math.Inf(-1), []byte{0x80, 0x81, 0x00, 0xff},
		[]any{[]any{[]any{}}, []byte{}, 0.25, []byte("answer")},
		bytes.Repeat([]byte{0x87}, 300),
		int64(0),
	}
	var wire []byte
	e := Encoder{Dialect: DialectPB}
	for _, v := range vals {
		var err error
		if wire, err = e.Append(wire, v); err != nil {
			t.Fatal(err)
		}
	}
	return wire, vals
}

func checkValues(t *testing.T, got, want []any, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d expressions, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !equal(got[i], want[i]) {
			t.Fatalf("%s: expression %d = %s, want %s", what, i, pyRepr(got[i]), pyRepr(want[i]))
		}
	}
}

func TestDecodeSplitAnywhere(t *testing.T) {
	wire, want := stream(t)
	out, d, err := decodeAll(t, nil, DialectPB, wire, 0)
	if err != nil || d.Buffered() != 0 {
		t.Fatal(err, d.Buffered())
	}
	checkValues(t, out, want, "one Feed")
	for _, chunk := range []int{1, 2, 3, 7, 64} {
		out, _, err := decodeAll(t, nil, DialectPB, wire, chunk)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, out, want, "chunked")
	}
	// Every pair of cut points (three pieces).
	for i := 0; i <= len(wire); i += 3 {
		for j := i; j <= len(wire); j += 5 {
			d := NewDecoder(nil)
			d.SetDialect(DialectPB)
			var out []any
			emit := func(v any) error { out = append(out, v); return nil }
			for _, piece := range [][]byte{wire[:i], wire[i:j], wire[j:]} {
				if err := d.Feed(piece, emit); err != nil {
					t.Fatalf("cuts %d,%d: %v", i, j, err)
				}
			}
			checkValues(t, out, want, "three pieces")
			if d.Buffered() != 0 {
				t.Fatalf("Buffered %d at the end", d.Buffered())
			}
		}
	}
}

func TestDecodeBufferedCountsUnfinished(t *testing.T) {
	wire, _ := stream(t)
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	last := 0 // offset just after the last emitted expression
	pos := 0
	for pos < len(wire) {
		pos++
		if err := d.Feed(wire[pos-1:pos], func(any) error { last = pos; return nil }); err != nil {
			t.Fatal(err)
		}
		if d.Buffered() != pos-last {
			t.Fatalf("at %d: Buffered %d, want %d", pos, d.Buffered(), pos-last)
		}
	}
}

func TestDecodeDialectSwitchMidBuffer(t *testing.T) {
	// The client's choice b"pb" (dialect none) and its version message
	// [V19, 6] (dialect pb) arrive in one read.
	wire := append(AppendChoice(nil, DialectPB), 0x02, 0x80, 0x13, 0x87, 0x06, 0x81)
	for cut := 0; cut <= len(wire); cut++ {
		d := NewDecoder(nil)
		var got []any
		emit := func(v any) error {
			if len(got) == 0 {
				dl, err := AcceptChoice(v)
				if err != nil {
					return err
				}
				d.SetDialect(dl)
			}
			got = append(got, v)
			return nil
		}
		if err := d.Feed(wire[:cut], emit); err != nil {
			t.Fatal(err)
		}
		if err := d.Feed(wire[cut:], emit); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		checkValues(t, got, []any{[]byte("pb"), []any{[]byte("version"), int64(6)}}, "switch")
		if d.Dialect() != DialectPB {
			t.Fatal("dialect not switched")
		}
	}
	// Without the switch the VOCAB is refused.
	_, _, err := decodeAll(t, nil, DialectNone, wire, 0)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 7 {
		t.Fatalf("got %v, want *SyntaxError at offset 7", err)
	}
	// Switching back to none mid-buffer refuses the next VOCAB.
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	n := 0
	err = d.Feed([]byte{0x13, 0x87, 0x13, 0x87}, func(any) error { n++; d.SetDialect(DialectNone); return nil })
	if !errors.As(err, &se) || n != 1 || se.Offset != 3 {
		t.Fatalf("got %v after %d expressions", err, n)
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	cfg := &Config{SizeLimit: 10}
	for _, c := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"string at limit", append([]byte{10, 0x82}, "0123456789"...), true},
		{"list at limit", append([]byte{10, 0x80}, bytes.Repeat([]byte{0x81}, 10)...), true},
		{"string over limit, header only", []byte{11, 0x82}, false},
		{"list over limit, header only", []byte{11, 0x80}, false},
		{"nested list over limit", []byte{1, 0x80, 11, 0x80}, false},
		{"huge prefix", append(bytes.Repeat([]byte{0x7f}, 64), 0x82), false},
	} {
		for _, chunk := range []int{0, 1} {
			out, d, err := decodeAll(t, cfg, DialectNone, c.in, chunk)
			var le *LimitError
			if c.ok {
				if err != nil || len(out) != 1 || d.Buffered() != 0 {
					t.Errorf("%s: %d values, %v", c.name, len(out), err)
				}
				continue
			}
			if !errors.As(err, &le) || le.Limit != "SizeLimit" || le.Max != 10 || le.Got <= 10 {
				t.Errorf("%s: got %v, want SizeLimit error", c.name, err)
			}
		}
	}
	// The default is Twisted's.
	_, _, err := decodeAll(t, nil, DialectNone, []byte{0x01, 0x00, 0x28, 0x82}, 0)
	var le *LimitError
	if !errors.As(err, &le) || le.Got != SizeLimit+1 || le.Max != SizeLimit {
		t.Fatalf("default SizeLimit: %v", err)
	}
}

func TestDecodePrefixLimit(t *testing.T) {
	d := NewDecoder(nil)
	for i := 1; i <= PrefixLimit; i++ {
		if err := d.Feed([]byte{0x01}, nil); err != nil {
			t.Fatalf("prefix byte %d: %v", i, err)
		}
	}
	if d.Buffered() != PrefixLimit {
		t.Fatalf("Buffered %d", d.Buffered())
	}
	err := d.Feed([]byte{0x01}, nil) // the 65th, still no type byte
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "PrefixLimit" || le.Got != PrefixLimit+1 || le.Max != PrefixLimit {
		t.Fatalf("got %v", err)
	}
	// A 64-byte prefix is fine for every integer type.
	for _, typ := range []byte{TypeInt, TypeNeg, TypeLongInt, TypeLongNeg, TypeFloat} {
		in := append(bytes.Repeat([]byte{0x7f}, PrefixLimit), typ)
		if typ == TypeFloat {
			in = append(in, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0)
		}
		if _, _, err := decodeAll(t, nil, DialectNone, in, 0); err != nil {
			t.Errorf("type %#x: %v", typ, err)
		}
	}
}

func TestDecodeMaxDepth(t *testing.T) {
	nest := func(n int) []byte {
		return append(bytes.Repeat([]byte{0x01, 0x80}, n-1), 0x00, 0x80)
	}
	for _, c := range []struct {
		cfg   *Config
		depth int
	}{{nil, DefaultMaxDepth}, {&Config{MaxDepth: 3}, 3}} {
		if _, _, err := decodeAll(t, c.cfg, DialectNone, nest(c.depth), 0); err != nil {
			t.Fatalf("depth %d: %v", c.depth, err)
		}
		_, _, err := decodeAll(t, c.cfg, DialectNone, nest(c.depth+1), 1)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != "MaxDepth" || le.Got != int64(c.depth+1) || le.Max != int64(c.depth) {
			t.Fatalf("depth %d+1: %v", c.depth, err)
		}
	}
	// Depth is nesting, not the number of lists.
	wide := []byte{0x05, 0x80, 0x01, 0x80, 0x00, 0x80, 0x01, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x01, 0x80, 0x00, 0x80}
	if out, _, err := decodeAll(t, &Config{MaxDepth: 3}, DialectNone, wide, 0); err != nil || len(out) != 1 {
		t.Fatalf("wide: %v", err)
	}
}

func TestDecodeMaxExprBytes(t *testing.T) {
	cfg := &Config{MaxExprBytes: 100}
	str := func(n int) []byte { // an expression of exactly n bytes (n < 130)
		return append([]byte{byte(n - 2), 0x82}, bytes.Repeat([]byte{'a'}, n-2)...)
	}
	// Many expressions of 100 bytes: the limit is per expression.
	in := bytes.Repeat(str(100), 5)
	out, d, err := decodeAll(t, cfg, DialectNone, in, 0)
	if err != nil || len(out) != 5 || d.Buffered() != 0 {
		t.Fatalf("at the limit: %d, %v", len(out), err)
	}
	for _, c := range []struct {
		name string
		in   []byte
		got  int64
	}{
		{"string header claims too much", []byte{99, 0x82}, 101},
		{"list header claims too much", []byte{99, 0x80}, 101},
		{"long list of small elements", append([]byte{60, 0x80}, bytes.Repeat([]byte{0x00, 0x81}, 60)...), 101},
		{"second expression too long", append(str(100), str(101)...), 101},
	} {
		for _, chunk := range []int{0, 1} {
			d := NewDecoder(cfg)
			var err error
			step := chunk
			if step == 0 {
				step = len(c.in)
			}
			for i := 0; i < len(c.in) && err == nil; i += step {
				err = d.Feed(c.in[i:i+step], nil)
				if d.Buffered() > 100 {
					t.Fatalf("%s: Buffered %d > MaxExprBytes", c.name, d.Buffered())
				}
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != "MaxExprBytes" || le.Max != 100 || le.Got != c.got {
				t.Errorf("%s (chunk %d): got %v, want MaxExprBytes %d > 100", c.name, chunk, err, c.got)
			}
		}
	}
}

func TestDecodeBrokenAfterError(t *testing.T) {
	d := NewDecoder(nil)
	var n int
	err := d.Feed([]byte{0x01, 0x81, 0x01, 0x88, 0x02, 0x81}, func(any) error { n++; return nil })
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 3 || n != 1 {
		t.Fatalf("got %v after %d", err, n)
	}
	if err2 := d.Feed([]byte{0x02, 0x81}, func(any) error { n++; return nil }); err2 != err || n != 1 {
		t.Fatalf("second Feed: %v, %d emitted", err2, n)
	}
	// An emit error is returned as is, stops Feed and sticks.
	stop := errors.New("stop")
	d = NewDecoder(nil)
	n = 0
	err = d.Feed([]byte{0x01, 0x81, 0x02, 0x81, 0x03, 0x81}, func(any) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("emit error: %v after %d", err, n)
	}
	if err = d.Feed([]byte{0x01, 0x81}, func(any) error { n++; return nil }); err != stop || n != 1 {
		t.Fatalf("after emit error: %v, %d", err, n)
	}
}

func TestDecodeIntRepresentation(t *testing.T) {
	e := Encoder{}
	for _, c := range []struct {
		v      *big.Int
		native bool
	}{
		{big.NewInt(math.MaxInt64), true},
		{new(big.Int).Add(big.NewInt(math.MaxInt64), big.NewInt(1)), false},
		{big.NewInt(math.MinInt64), true},
		{new(big.Int).Sub(big.NewInt(math.MinInt64), big.NewInt(1)), false},
	} {
		wire, _ := e.Append(nil, c.v)
		got := decodeOne(t, DialectNone, wire)
		if _, isInt := got.(int64); isInt != c.native || !equal(got, c.v) {
			t.Errorf("%v decoded as %T %v", c.v, got, got)
		}
	}
	// Non-minimal prefixes with many zero groups still give an int64.
	in := append([]byte{0x05}, bytes.Repeat([]byte{0}, 63)...)
	if got := decodeOne(t, DialectNone, append(in, TypeNeg)); got != any(int64(-5)) {
		t.Errorf("got %T %v", got, got)
	}
}

func TestDecodeNoAliasing(t *testing.T) {
	in := []byte{0x03, 0x80, 0x03, 0x82, 'a', 'b', 'c', 0x01, 0x82, 'x', 0x00, 0x82}
	out, _, err := decodeAll(t, nil, DialectNone, in, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0xee
	}
	if pyRepr(out[0]) != "[b'abc', b'x', b'']" {
		t.Fatalf("decoded values alias the input: %s", pyRepr(out[0]))
	}
}

// allocated reports the bytes allocated per call of f, averaged over runs.
func allocated(runs int, f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&b)
	return (b.TotalAlloc - a.TotalAlloc) / uint64(runs)
}

func TestDecodeBoundedMemory(t *testing.T) {
	// Headers alone never make the decoder allocate what they announce.
	for _, c := range []struct {
		name  string
		in    []byte
		limit uint64
	}{
		{"LIST of SizeLimit", []byte{0x00, 0x00, 0x28, 0x80}, 4 << 10},
		{"STRING of SizeLimit with one body byte", []byte{0x00, 0x00, 0x28, 0x82, 'a'}, 4 << 10},
		{"100 nested LISTs of SizeLimit", bytes.Repeat([]byte{0x00, 0x00, 0x28, 0x80}, 100), 64 << 10},
	} {
		n := allocated(100, func() {
			if err := NewDecoder(nil).Feed(c.in, nil); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.limit {
			t.Errorf("%s: %d bytes allocated, want <= %d", c.name, n, c.limit)
		}
	}
	// A long string arriving one byte at a time costs O(n), not O(n^2).
	body := bytes.Repeat([]byte{'z'}, SizeLimit)
	wire, _ := (&Encoder{}).Append(nil, body)
	var got []byte
	n := allocated(1, func() {
		d := NewDecoder(nil)
		for i := range wire {
			d.Feed(wire[i:i+1], func(v any) error { got = v.([]byte); return nil })
		}
	})
	if !bytes.Equal(got, body) || n > 3*SizeLimit {
		t.Fatalf("one byte at a time: %d bytes allocated for a %d-byte string", n, SizeLimit)
	}
}

// Small strings and lists of one expression share backing arrays, but no
// value can reach another: capacities equal lengths, so writing to or
// appending to one leaves its neighbours alone.
func TestDecodeSharedArraysIndependent(t *testing.T) {
	in := []any{[]byte("ab"), []any{[]byte("cd"), int64(1)}, []byte("ef"), []any{}, []byte{}, []any{int64(2)}, "tuple"}
	wire, err := (&Encoder{Dialect: DialectPB}).Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	var got []any
	for range 3 { // the later rounds use arrays sized from the first
		if err := d.Feed(wire, func(v any) error { got = append(got, v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range got {
		l := v.([]any)
		a, c := l[0].([]byte), l[2].([]byte)
		inner, last := l[1].([]any), l[5].([]any)
		if cap(a) != len(a) || cap(c) != len(c) || cap(inner) != len(inner) || cap(l) != len(l) {
			t.Fatalf("capacity beyond length: %d/%d %d/%d %d/%d %d/%d", len(a), cap(a), len(c), cap(c), len(inner), cap(inner), len(l), cap(l))
		}
		_ = append(a, 'X', 'Y', 'Z')
		_ = append(inner, "X")
		_ = append(l[3].([]any), "X")
		_ = append(l[4].([]byte), 'X')
		a[0] = '#'
		inner[1] = "changed"
		if !equal(l[1], []any{[]byte("cd"), "changed"}) || string(c) != "ef" || !equal(last, []any{int64(2)}) ||
			len(l[3].([]any)) != 0 || len(l[4].([]byte)) != 0 || l[6] != any("tuple") {
			t.Fatalf("neighbours changed: %s", pyRepr(l))
		}
	}
	// Values of an earlier expression are untouched by later ones.
	if string(got[0].([]any)[2].([]byte)) != "ef" {
		t.Fatal("a later expression overwrote an earlier one")
	}
}

// A typical call message costs one allocation per list and per string (their
// boxes in an any), plus one array for all list slots and one for all string
// bytes; VOCAB and small integers cost nothing.
func TestDecodeCallMessageAllocs(t *testing.T) {
	wire, _ := (&Encoder{Dialect: DialectPB}).Append(nil, callMessage())
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	emit := func(any) error { return nil }
	n := testing.AllocsPerRun(100, func() {
		if err := d.Feed(wire, emit); err != nil {
			t.Fatal(err)
		}
	})
	// 4 lists, 3 strings ("echo", "unicode", "hello"), 2 shared arrays.
	if n > 9 {
		t.Errorf("%v allocations per call message, want <= 9", n)
	}
}
