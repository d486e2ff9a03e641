// Package jellytest compares decoded jelly values in tests.
package jellytest

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"unsafe"

	"github.com/gospread/spread/jelly"
)

// Equal reports whether two decoded jelly values are equal with the
// same Go types all the way down: lists stay lists, tuples tuples,
// bytes bytes. Integers compare by value (int64 or *big.Int), floats by
// bits (NaN equals NaN), dicts item by item in order, sets by
// membership. Shared and cyclic values are handled.
func Equal(a, b any) bool { return eq(a, b, false, map[[2]uintptr]bool{}) }

// EqualOrdered is Equal with sets also compared in order, for values
// whose encoding must match byte for byte.
func EqualOrdered(a, b any) bool { return eq(a, b, true, map[[2]uintptr]bool{}) }

func ptrOf(v any) uintptr {
	switch x := v.(type) {
	case []any:
		return uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	case jelly.Tuple:
		return uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		return rv.Pointer()
	}
	return 0
}

func eq(a, b any, ordered bool, seen map[[2]uintptr]bool) bool {
	if pa, pb := ptrOf(a), ptrOf(b); pa != 0 && pb != 0 {
		k := [2]uintptr{pa, pb}
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	if ia, ok := bigOf(a); ok {
		ib, ok := bigOf(b)
		return ok && ia.Cmp(ib) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		return ok && eqSeq(x, y, ordered, seen)
	case jelly.Tuple:
		y, ok := b.(jelly.Tuple)
		return ok && eqSeq(x, y, ordered, seen)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y)))
	case *jelly.Dict:
		y, ok := b.(*jelly.Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xi, yi := x.Items(), y.Items()
		for i := range xi {
			if !eq(xi[i].Key, yi[i].Key, ordered, seen) || !eq(xi[i].Value, yi[i].Value, ordered, seen) {
				return false
			}
		}
		return true
	case *jelly.Set:
		y, ok := b.(*jelly.Set)
		if !ok || x.Frozen != y.Frozen || len(x.Items) != len(y.Items) {
			return false
		}
		if ordered {
			return eqSeq(x.Items, y.Items, ordered, seen)
		}
		for _, it := range x.Items {
			if !y.Has(it) {
				return false
			}
		}
		return true
	case jelly.Decimal:
		y, ok := b.(jelly.Decimal)
		return ok && digits(x).Cmp(digits(y)) == 0 && x.Exp == y.Exp
	}
	return reflect.DeepEqual(a, b)
}

func digits(d jelly.Decimal) *big.Int {
	if d.Digits == nil {
		return new(big.Int)
	}
	return d.Digits
}

func bigOf(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return x, true
	}
	return nil, false
}

func eqSeq(x, y []any, ordered bool, seen map[[2]uintptr]bool) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !eq(x[i], y[i], ordered, seen) {
			return false
		}
	}
	return true
}
