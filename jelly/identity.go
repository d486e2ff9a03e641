package jelly

import (
	"reflect"
	"unsafe"
)

// ident is the identity of a tracked (shareable) value. A []any or Tuple
// is identified by its backing array and length; pointers and maps by
// address and type. Values without identity (empty slices with no backing
// array) are not tracked.
type ident struct {
	typ reflect.Type
	ptr unsafe.Pointer
	n   int
}

func sliceIdent(typ reflect.Type, s []any) (ident, bool) {
	if cap(s) == 0 {
		return ident{}, false
	}
	return ident{typ: typ, ptr: unsafe.Pointer(unsafe.SliceData(s)), n: len(s)}, true
}

var (
	typeList  = reflect.TypeOf([]any(nil))
	typeTuple = reflect.TypeOf(Tuple(nil))
)

// ptrIdent returns the identity of a pointer or map value.
func ptrIdent(v any) (ident, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map:
		if rv.IsNil() {
			return ident{}, false
		}
		if rv.Kind() == reflect.Pointer && rv.Type().Elem().Size() == 0 {
			return ident{}, false // zero-size values may share addresses
		}
		return ident{typ: rv.Type(), ptr: rv.UnsafePointer()}, true
	}
	return ident{}, false
}
