package pb

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/gospread/spread/jelly"
)

var (
	bytesType = reflect.TypeOf([]byte(nil))
	anyType   = reflect.TypeFor[any]()
)

// convert turns a decoded jelly value into a handler's parameter of Go
// type t (jelly.Convert's rules: a dict also fills a struct, see
// jelly.Convert). A mismatch is an error in Python's terms, naming where
// in a nested value it is, never a panic.
func convert(v any, t reflect.Type) (reflect.Value, error) {
	out, err := jelly.Convert(v, t)
	if err == nil {
		return out, nil
	}
	msg := fmt.Sprintf("expected %s, got %s", goTypeName(t), pyTypeName(v))
	var te *jelly.TypeError
	if errors.As(err, &te) {
		if te.Path != "" && te.WantType != nil {
			// Deep inside a list, dict or struct: say where.
			msg = fmt.Sprintf("at %s: expected %s, got %s", te.Path, goTypeName(te.WantType), pyTypeName(te.Got))
		}
		if te.Msg != "" {
			msg += " (" + te.Msg + ")"
		}
	}
	return reflect.Value{}, errors.New(msg)
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
