package jelly

import (
	"crypto/sha256"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"unsafe"
)

// Hashable reports whether v can be a dict key or a set element in Python:
// atoms, str, bytes, tuples of hashable values, frozensets, decimals, dates,
// and instances (pointers to registered types, compared by identity).
// Lists, dicts and mutable sets are not.
func Hashable(v any) bool {
	_, ok := (*hasher)(nil).key(v, 0)
	return ok
}

// KeyEqual reports whether a and b are the same key in a Python dict:
// str and bytes never compare equal; ints compare by value whether int64 or
// *big.Int; bool, int, integral float and integral Decimal compare as
// numbers (True == 1 == 1.0, as in Python); tuples compare element-wise;
// frozensets compare as sets. Unhashable values are equal only to
// themselves (the same slice or pointer).
func KeyEqual(a, b any) bool {
	return keyOf(a) == keyOf(b)
}

// keyOf returns the canonical key of v. Unhashable values get an identity
// key so that Go callers of Dict.Set never fail.
func keyOf(v any) string {
	if k, ok := (*hasher)(nil).key(v, 0); ok {
		return k
	}
	return identityKey(v)
}

func identityKey(v any) string {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		n := 0
		if rv.Kind() == reflect.Slice {
			n = rv.Len()
		}
		return "x" + rv.Type().String() + ":" + strconv.FormatUint(uint64(rv.Pointer()), 16) + ":" + strconv.Itoa(n)
	}
	return "x" + rv.Type().String()
}

const (
	maxKeyDepth = 200
	// Canonical keys longer than this are replaced by a SHA-256 digest, so
	// that keys stay small whatever the size of the value.
	maxRawKey = 64
)

// hasher computes canonical keys: equal Python keys get equal strings.
// While decoding it memoizes keys of tuples, frozensets and long strings by
// identity, so that a key shared through references (a tuple DAG, say) costs
// its size once, not once per path or per use.
type hasher struct {
	memo map[memoKey]string
	// incomplete holds the backing arrays of decoded sequences that still
	// have slots waiting for a value (cycles); keys through them are not
	// final. dirty records meeting one during the current key.
	incomplete map[unsafe.Pointer]int
	dirty      bool
}

func (h *hasher) get(mk memoKey) (string, bool) {
	if h == nil || h.memo == nil {
		return "", false
	}
	k, ok := h.memo[mk]
	return k, ok
}

func (h *hasher) put(mk memoKey, k string) {
	if h == nil {
		return
	}
	if h.memo == nil {
		h.memo = make(map[memoKey]string)
	}
	h.memo[mk] = k
}

// keyFinal is key for decoded values; final is false when the key went
// through a sequence that is not complete yet.
func (h *hasher) keyFinal(v any) (k string, ok, final bool) {
	h.dirty = false
	k, ok = h.key(v, 0)
	return k, ok, !h.dirty
}

func (h *hasher) isIncomplete(p unsafe.Pointer) bool {
	return h != nil && h.incomplete[p] > 0
}

type memoKey struct {
	p unsafe.Pointer
	n int
	t byte
}

func digest(tag byte, raw []byte) string {
	if len(raw) <= maxRawKey {
		return string(raw)
	}
	sum := sha256.Sum256(raw)
	return string(append([]byte{'h', tag}, sum[:]...))
}

func intKey(i int64) string {
	return "i" + strconv.FormatInt(i, 10) + ";"
}

func bigKey(i *big.Int) string {
	if i.IsInt64() {
		return intKey(i.Int64())
	}
	return digest('i', append(append([]byte{'i'}, i.String()...), ';'))
}

func floatKey(f float64) string {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if f >= -(1<<63) && f < 1<<63 {
			return intKey(int64(f))
		}
		bi, _ := big.NewFloat(f).Int(nil)
		return bigKey(bi)
	}
	if math.IsNaN(f) {
		return "fnan;"
	}
	return "f" + strconv.FormatUint(math.Float64bits(f), 16) + ";"
}

func (h *hasher) bytesKey(tag byte, p unsafe.Pointer, s string) string {
	if len(s)+2 <= maxRawKey {
		return string(tag) + s + ";"
	}
	if p != nil {
		if k, ok := h.get(memoKey{p, len(s), tag}); ok {
			return k
		}
	}
	raw := make([]byte, 0, len(s)+2)
	raw = append(append(append(raw, tag), s...), ';')
	k := digest(tag, raw)
	if p != nil {
		h.put(memoKey{p, len(s), tag}, k)
	}
	return k
}

// key returns the canonical key of v, or false if v is not hashable.
func (h *hasher) key(v any, depth int) (string, bool) {
	if depth > maxKeyDepth {
		return "", false
	}
	switch x := v.(type) {
	case nil:
		return "N", true
	case bool:
		if x {
			return intKey(1), true
		}
		return intKey(0), true
	case int64:
		return intKey(x), true
	case *big.Int:
		if x == nil {
			return "", false
		}
		return bigKey(x), true
	case float64:
		return floatKey(x), true
	case float32:
		return floatKey(float64(x)), true
	case string:
		return h.bytesKey('s', unsafe.Pointer(unsafe.StringData(x)), x), true
	case []byte:
		return h.bytesKey('b', unsafe.Pointer(unsafe.SliceData(x)), string(x)), true
	case Tuple:
		var mk memoKey
		if cap(x) > 0 {
			mk = memoKey{unsafe.Pointer(unsafe.SliceData(x)), len(x), 't'}
			if k, ok := h.get(mk); ok {
				return k, true
			}
		}
		outer := h != nil && h.dirty
		if h != nil {
			h.dirty = false
		}
		raw := []byte{'t', '('}
		for _, e := range x {
			k, ok := h.key(e, depth+1)
			if !ok {
				return "", false
			}
			raw = strconv.AppendInt(raw, int64(len(k)), 10)
			raw = append(raw, ':')
			raw = append(raw, k...)
		}
		k := digest('t', append(raw, ')'))
		if h != nil {
			mine := h.dirty || h.isIncomplete(mk.p)
			if !mine && mk.p != nil {
				h.put(mk, k)
			}
			h.dirty = outer || mine
		}
		return k, true
	case *Set:
		if x == nil || !x.Frozen {
			return "", false
		}
		mk := memoKey{unsafe.Pointer(x), 0, 'F'}
		if k, ok := h.get(mk); ok {
			return k, true
		}
		outer := h != nil && h.dirty
		if h != nil {
			h.dirty = false
		}
		keys := make([]string, 0, len(x.Items))
		seen := make(map[string]bool, len(x.Items))
		for _, e := range x.Items {
			k, ok := h.key(e, depth+1)
			if !ok {
				return "", false
			}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		raw := []byte{'F', '{'}
		for _, k := range keys {
			raw = strconv.AppendInt(raw, int64(len(k)), 10)
			raw = append(raw, ':')
			raw = append(raw, k...)
		}
		k := digest('F', append(raw, '}'))
		if h != nil {
			mine := h.dirty || (len(x.Items) > 0 && h.isIncomplete(unsafe.Pointer(unsafe.SliceData(x.Items))))
			if !mine {
				h.put(mk, k)
			}
			h.dirty = outer || mine
		}
		return k, true
	case Decimal:
		return x.key(), true
	case DateTime:
		return "T" + x.String() + ";", true
	case Date:
		return "D" + x.String() + ";", true
	case Time:
		return "H" + x.String() + ";", true
	case TimeDelta:
		n, err := x.Normalize()
		if err != nil {
			return "", false
		}
		return "R" + n.String() + ";", true
	case Unpersistable:
		return h.bytesKey('U', nil, x.Reason), true
	case []any, *Dict, map[string]any:
		return "", false
	}
	if i, ok := Int(v); ok {
		return intKey(i), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return bigKey(new(big.Int).SetUint64(rv.Uint())), true
	case reflect.Pointer:
		// Instances hash by identity in Python.
		return "p" + rv.Type().String() + ":" + strconv.FormatUint(uint64(rv.Pointer()), 16) + ";", true
	}
	return "", false
}
