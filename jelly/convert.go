package jelly

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"unicode/utf8"
)

var (
	typeAny    = reflect.TypeOf((*any)(nil)).Elem()
	typeBigInt = reflect.TypeOf((*big.Int)(nil))
	typeBytes  = reflect.TypeOf([]byte(nil))
)

// Assign converts the decoded jelly value v with [Convert] and stores it in
// *dst. dst must be a non-nil pointer.
func Assign(dst any, v any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &TypeError{Value: fmt.Sprintf("%T", v), Want: fmt.Sprintf("%T", dst), Msg: "destination is not a non-nil pointer"}
	}
	cv, err := Convert(v, rv.Type().Elem())
	if err != nil {
		return err
	}
	rv.Elem().Set(cv)
	return nil
}

// Convert converts a decoded jelly value to Go type t:
//
//   - a value assignable to t is used as is (registered types, *Dict, ...);
//   - nil gives the zero value of pointer, slice, map and interface types;
//   - int64/*big.Int convert to any integer type that holds the value, and
//     to float types and *big.Int; float64 to float types;
//   - string and []byte convert to each other;
//   - []any, Tuple and *Set items convert element-wise to slices and arrays;
//   - *Dict and map[string]any convert key- and value-wise to maps;
//   - *Dict and map[string]any fill structs by key (see [Convert]'s
//     struct rules below);
//   - a pointer type is filled through its element type.
//
// A dict fills a struct field by field: a key matches the field's
// `jelly:"name"` tag, or, for an untagged field, its name exactly or
// else case-insensitively ("workdir" fills Workdir). `jelly:"-"` skips a
// field; keys that match no field are ignored; fields without a key keep
// their zero value, unless tagged `jelly:"name,required"`, in which case
// the key is required. Embedded structs' fields are promoted, as in
// encoding/json. A struct's field table is built once per type.
//
// Anything else is a *TypeError. Its Path says where in a nested value
// the mismatch is, for example ["env"]["CC"] or .Command[1].
func Convert(v any, t reflect.Type) (reflect.Value, error) {
	return convert(v, t, 0)
}

func convert(v any, t reflect.Type, depth int) (reflect.Value, error) {
	fail := func(msg string) (reflect.Value, error) {
		return reflect.Value{}, &TypeError{Value: fmt.Sprintf("%T", v), Want: t.String(), Msg: msg, Got: v, WantType: t}
	}
	if depth > maxKeyDepth {
		return fail("too deeply nested")
	}
	if v == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return reflect.Zero(t), nil
		}
		return fail("")
	}
	vv := reflect.ValueOf(v)
	if vv.Type().AssignableTo(t) {
		return vv, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			return reflect.ValueOf(b).Convert(t), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if i, ok := Int(v); ok {
			out := reflect.New(t).Elem()
			if out.OverflowInt(i) {
				return fail("overflow")
			}
			out.SetInt(i)
			return out, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var u uint64
		switch x := v.(type) {
		case *big.Int:
			if x == nil || x.Sign() < 0 || !x.IsUint64() {
				return fail("overflow")
			}
			u = x.Uint64()
		default:
			i, ok := Int(v)
			if !ok {
				return fail("")
			}
			if i < 0 {
				return fail("negative")
			}
			u = uint64(i)
		}
		out := reflect.New(t).Elem()
		if out.OverflowUint(u) {
			return fail("overflow")
		}
		out.SetUint(u)
		return out, nil
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		case *big.Int:
			if x == nil {
				return fail("")
			}
			f, _ = new(big.Float).SetInt(x).Float64()
		default:
			i, ok := Int(v)
			if !ok {
				return fail("")
			}
			f = float64(i)
		}
		out := reflect.New(t).Elem()
		if t.Kind() == reflect.Float32 && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return fail("overflow")
		}
		out.SetFloat(f)
		return out, nil
	case reflect.String:
		if s, ok := String(v); ok {
			if !utf8.ValidString(s) {
				// A Go string must go back out as a Python str; raw
				// bytes belong in a []byte.
				return fail("not valid UTF-8 (a []byte takes raw bytes)")
			}
			return reflect.ValueOf(s).Convert(t), nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if b, ok := Bytes(v); ok {
				return reflect.ValueOf(b).Convert(t), nil
			}
		}
		items, ok := seqItems(v)
		if !ok {
			return fail("")
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		for i, it := range items {
			ev, err := convert(it, t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, atIndex(err, i)
			}
			out.Index(i).Set(ev)
		}
		return out, nil
	case reflect.Array:
		items, ok := seqItems(v)
		if !ok || len(items) != t.Len() {
			return fail("wrong length")
		}
		out := reflect.New(t).Elem()
		for i, it := range items {
			ev, err := convert(it, t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, atIndex(err, i)
			}
			out.Index(i).Set(ev)
		}
		return out, nil
	case reflect.Map:
		var items []Item
		switch x := v.(type) {
		case *Dict:
			items = x.Items()
		case map[string]any:
			for k, e := range x {
				items = append(items, Item{k, e})
			}
		default:
			return fail("")
		}
		out := reflect.MakeMapWithSize(t, len(items))
		for _, it := range items {
			kv, err := convert(it.Key, t.Key(), depth+1)
			if err != nil {
				return reflect.Value{}, atKey(err, it.Key, true)
			}
			if !kv.Comparable() {
				return fail("key type not comparable")
			}
			ev, err := convert(it.Value, t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, atKey(err, it.Key, false)
			}
			out.SetMapIndex(kv, ev)
		}
		return out, nil
	case reflect.Pointer:
		if t == typeBigInt {
			if i, ok := Int(v); ok {
				return reflect.ValueOf(big.NewInt(i)), nil
			}
		}
		ev, err := convert(v, t.Elem(), depth+1)
		if err != nil {
			return reflect.Value{}, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(ev)
		return p, nil
	case reflect.Struct:
		// A registered pointer type received where its struct is wanted.
		if vv.Kind() == reflect.Pointer && !vv.IsNil() && vv.Type().Elem().AssignableTo(t) {
			return vv.Elem(), nil
		}
		switch x := v.(type) {
		case *Dict:
			return bindStruct(x.Items(), t, depth)
		case map[string]any:
			items := make([]Item, 0, len(x))
			for k, e := range x {
				items = append(items, Item{k, e})
			}
			return bindStruct(items, t, depth)
		}
	}
	return fail("")
}

func seqItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case Tuple:
		return x, true
	case *Set:
		if x == nil {
			return nil, true
		}
		return x.Items, true
	}
	return nil, false
}

// fillStruct sets the fields of the struct sv from a decoded state dict.
func fillStruct(e *regEntry, sv reflect.Value, state *Dict) error {
	for _, f := range e.fields {
		v, ok := state.Lookup(f.name)
		if !ok {
			continue
		}
		fv := sv.FieldByIndex(f.index)
		cv, err := Convert(v, fv.Type())
		if err != nil {
			return &DecodeError{Tag: e.name, Msg: "field " + f.name + ": " + err.Error()}
		}
		fv.Set(cv)
	}
	return nil
}
