package jelly

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/gospread/spread/banana"
)

// fuzzTags are the tags the s-expression builder picks from: every built-in
// form, the refused ones, broker forms, registered and unregistered class
// names.
var fuzzTags = []string{
	TagNone, TagBoolean, TagUnicode, TagList, TagTuple, TagDictionary, TagSet, TagFrozenset,
	TagDecimal, TagDateTime, TagDate, TagTime, TagTimeDelta, TagReference, TagDereference,
	TagUnpersistable, TagPersistent, TagRemote, TagLocal, TagCached, TagLCache,
	"class", "module", "function", "method", "instance", "long", "dict", "copy", "NoneType",
	"vecmodel.Point", "vecmodel.Plain", "builtins.object", "true", "false", "2024 1 2", "1 2 3",
}

// buildSexp turns fuzz bytes into an s-expression with a tiny stack
// machine. Opcodes (low 3 bits): 0 open list, 1 close list, 2 tag, 3 small
// int, 4 big int, 5 float, 6 byte string, 7 string from the tag table.
func buildSexp(data []byte) any {
	stack := [][]any{{}}
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	push := func(v any) {
		top := len(stack) - 1
		stack[top] = append(stack[top], v)
	}
	for len(data) > 0 {
		op := next()
		switch op & 7 {
		case 0:
			if len(stack) < 300 {
				stack = append(stack, []any{})
			}
		case 1:
			if len(stack) > 1 {
				l := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				push(l)
			}
		case 2:
			stack = append(stack, []any{[]byte(fuzzTags[int(next())%len(fuzzTags)])})
		case 3:
			push(int64(int8(next())))
		case 4:
			n := int(next() % 24)
			b := make([]byte, n)
			for i := range b {
				b[i] = next()
			}
			x := new(big.Int).SetBytes(b)
			if op&8 != 0 {
				x.Neg(x)
			}
			if x.IsInt64() {
				push(x.Int64())
			} else {
				push(x)
			}
		case 5:
			var u uint64
			for i := 0; i < 8; i++ {
				u = u<<8 | uint64(next())
			}
			push(math.Float64frombits(u))
		case 6:
			n := int(next() % 16)
			b := make([]byte, n)
			for i := range b {
				b[i] = next()
			}
			push(b)
		case 7:
			push(fuzzTags[int(next())%len(fuzzTags)])
		}
	}
	for len(stack) > 1 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		push(l)
	}
	if len(stack[0]) == 1 {
		return stack[0][0]
	}
	return stack[0]
}

var convertTargets = []reflect.Type{
	reflect.TypeOf(""), reflect.TypeOf(int8(0)), reflect.TypeOf(uint(0)), reflect.TypeOf(0.0),
	reflect.TypeOf([]string(nil)), reflect.TypeOf([2]int{}), reflect.TypeOf(map[string]int(nil)),
	reflect.TypeOf(map[any]any(nil)), reflect.TypeOf((*big.Int)(nil)), reflect.TypeOf(Point{}),
	reflect.TypeOf((**int)(nil)), reflect.TypeOf([]byte(nil)), reflect.TypeOf([][]any(nil)),
	reflect.TypeOf(bindCmd{}), reflect.TypeOf(fuzzTree{}),
}

// fuzzTree is a recursive struct: a dict that contains itself must stop
// at the depth limit when bound to it.
type fuzzTree struct {
	Name string
	Kids []fuzzTree
	Up   *fuzzTree
}

// checkDecoded verifies that v holds only Go types the mapping allows
// (nothing unregistered was created) and nests no deeper than max.
func checkDecoded(t *testing.T, v any, depth, max int, seen map[uintptr]bool) {
	if p := ptrOf(v); p != 0 {
		if seen[p] {
			return
		}
		seen[p] = true
	}
	container := func() {
		if depth+1 > max {
			t.Fatalf("decoded value nests deeper than MaxDepth %d", max)
		}
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, Decimal, DateTime, Date, Time, TimeDelta, Unpersistable:
	case *big.Int:
		if x.IsInt64() {
			t.Fatalf("*big.Int %v fits in int64", x)
		}
	case []any:
		container()
		for _, e := range x {
			checkDecoded(t, e, depth+1, max, seen)
		}
	case Tuple:
		container()
		for _, e := range x {
			checkDecoded(t, e, depth+1, max, seen)
		}
	case *Dict:
		container()
		for k, e := range x.All() {
			if !Hashable(k) {
				t.Fatalf("unhashable key %T", k)
			}
			checkDecoded(t, k, depth+1, max, seen)
			checkDecoded(t, e, depth+1, max, seen)
		}
	case *Set:
		container()
		for _, e := range x.Items {
			if !Hashable(e) {
				t.Fatalf("unhashable set item %T", e)
			}
			checkDecoded(t, e, depth+1, max, seen)
		}
	case *Point, secretState: // registered
	default:
		t.Fatalf("decoded a %T: not part of the mapping", v)
	}
}

func fuzzCheck(t *testing.T, sexp any) {
	const max = 20
	opt := &Options{Registry: testRegistry(t), MaxDepth: max}
	v, err := Unmarshal(sexp, opt)
	if err != nil {
		var ie *InsecureError
		var de *DecodeError
		var dpe *DepthError
		switch {
		case errors.As(err, &ie):
			if BuiltinTag(ie.Tag) || ie.Tag == "vecmodel.Point" || ie.Tag == "custom.tag.Secret" {
				t.Fatalf("allowed tag %q refused", ie.Tag)
			}
		case errors.As(err, &de), errors.As(err, &dpe), errors.Is(err, errBadSecret):
		default:
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	checkDecoded(t, v, 0, max, map[uintptr]bool{})
	// Converting decoded values to Go types fails cleanly or works.
	for _, typ := range convertTargets {
		_, _ = Convert(v, typ)
	}
	// What we decoded marshals, and decodes to the same value.
	s, err := Marshal(v, opt)
	if err != nil {
		t.Fatalf("re-Marshal of decoded %#v: %v", v, err)
	}
	w, err := Unmarshal(s, opt)
	if err != nil {
		t.Fatalf("Unmarshal of re-Marshal %s: %v", sexpString(s), err)
	}
	if !equal(v, w, true) {
		t.Fatalf("round trip changed the value: %#v -> %#v", v, w)
	}
}

// FuzzUnmarshal feeds Unmarshal s-expressions derived from the fuzz input:
// if the first byte is even, by the stack-machine builder above; if odd,
// by decoding the rest as Banana (dialect pb). Seeds: the vectors' wire
// bytes and builder programs.
func FuzzUnmarshal(f *testing.F) {
	vec := loadVectors(f)
	for _, row := range vec.Jelly {
		if b, err := hex.DecodeString(row.PBHex); err == nil && len(b) > 0 {
			f.Add(append([]byte{1}, b...))
		}
	}
	for _, row := range vec.Unjelly {
		if b, err := hex.DecodeString(row.PBHex); err == nil && len(b) > 0 {
			f.Add(append([]byte{1}, b...))
		}
	}
	f.Add([]byte{0, 2, 13, 2, 14, 3, 1, 1, 0x12, 14, 3, 1, 1}) // reference + dereference
	f.Add([]byte{0, 2, 5, 0, 2, 2, 6, 1, 'x', 1, 3, 7, 1, 1})  // dictionary
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if data[0]&1 == 0 {
			fuzzCheck(t, buildSexp(data[1:]))
			return
		}
		dec := banana.NewDecoder(nil)
		dec.SetDialect(banana.DialectPB)
		_ = dec.Feed(data[1:], func(v any) error {
			fuzzCheck(t, v)
			return nil
		})
	})
}
