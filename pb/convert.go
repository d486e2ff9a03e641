package pb

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/gospread/spread/jelly"
)

var (
	anyType   = reflect.TypeOf((*any)(nil)).Elem()
	bytesType = reflect.TypeOf([]byte(nil))
)

// convert turns a decoded jelly value into a value of Go type t, as a
// handler's parameter. A mismatch is an error that names both types,
// never a panic.
func convert(v any, t reflect.Type) (reflect.Value, error) {
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("expected %s, got None", goTypeName(t))
	}
	vv := reflect.ValueOf(v)
	if vv.Type().AssignableTo(t) {
		out := reflect.New(t).Elem()
		out.Set(vv)
		return out, nil
	}
	mismatch := func() (reflect.Value, error) {
		return reflect.Value{}, fmt.Errorf("expected %s, got %s", goTypeName(t), pyTypeName(v))
	}
	switch t.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case string:
			return reflect.ValueOf(x).Convert(t), nil
		case []byte:
			if !utf8.Valid(x) {
				return reflect.Value{}, fmt.Errorf("expected str, got bytes that are not UTF-8")
			}
			return reflect.ValueOf(string(x)).Convert(t), nil
		}
	case reflect.Bool:
		if x, ok := v.(bool); ok {
			return reflect.ValueOf(x).Convert(t), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			if _, isBig := v.(*big.Int); isBig {
				return reflect.Value{}, fmt.Errorf("int %v does not fit %s", v, goTypeName(t))
			}
			return mismatch()
		}
		out := reflect.New(t).Elem()
		if out.OverflowInt(n) {
			return reflect.Value{}, fmt.Errorf("int %d does not fit %s", n, goTypeName(t))
		}
		out.SetInt(n)
		return out, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		switch x := v.(type) {
		case int64:
			if x < 0 {
				return reflect.Value{}, fmt.Errorf("int %d is negative, %s is not", x, goTypeName(t))
			}
			u = uint64(x)
		case *big.Int:
			if !x.IsUint64() {
				return reflect.Value{}, fmt.Errorf("int %v does not fit %s", x, goTypeName(t))
			}
			u = x.Uint64()
		default:
			return mismatch()
		}
		out := reflect.New(t).Elem()
		if out.OverflowUint(u) {
			return reflect.Value{}, fmt.Errorf("int %d does not fit %s", u, goTypeName(t))
		}
		out.SetUint(u)
		return out, nil
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case *big.Int:
			f, _ = new(big.Float).SetInt(x).Float64()
		default:
			return mismatch()
		}
		if t.Kind() == reflect.Float32 && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return reflect.Value{}, fmt.Errorf("float %v does not fit float32", f)
		}
		return reflect.ValueOf(f).Convert(t), nil
	case reflect.Slice:
		if t == bytesType {
			if s, ok := v.(string); ok {
				return reflect.ValueOf([]byte(s)), nil
			}
			return mismatch()
		}
		items, ok := sequence(v)
		if !ok {
			return mismatch()
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		for i, it := range items {
			e, err := convert(it, t.Elem())
			if err != nil {
				return reflect.Value{}, fmt.Errorf("item %d: %w", i, err)
			}
			out.Index(i).Set(e)
		}
		return out, nil
	case reflect.Map:
		d, ok := v.(*jelly.Dict)
		if !ok {
			return mismatch()
		}
		out := reflect.MakeMapWithSize(t, d.Len())
		for _, it := range d.Items() {
			k, err := convert(it.Key, t.Key())
			if err != nil {
				return reflect.Value{}, fmt.Errorf("key %s: %w", pyRepr(it.Key), err)
			}
			e, err := convert(it.Value, t.Elem())
			if err != nil {
				return reflect.Value{}, fmt.Errorf("value for %s: %w", pyRepr(it.Key), err)
			}
			out.SetMapIndex(k, e)
		}
		return out, nil
	}
	return mismatch()
}

// sequence returns the items of a list, tuple or set.
func sequence(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case jelly.Tuple:
		return x, true
	case *jelly.Set:
		return x.Items, true
	}
	return nil, false
}

func goTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "str"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	}
	if t == bytesType {
		return "bytes"
	}
	return t.String()
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []byte:
		return "b" + strconv.Quote(string(x))
	}
	return fmt.Sprint(v)
}
