package pb

import (
	"reflect"
	"unsafe"
)

// User values end up as map keys (call queues, export tables). A Go
// map panics on a key whose dynamic type cannot be hashed (a map,
// slice or func, or a struct holding one), and that panic would happen
// on the reader goroutine and kill the process. These helpers keep such
// values out of maps.

// identityKey stands for a value that cannot be a map key: reference
// kinds by their pointer, other values by their type alone.
type identityKey struct {
	t reflect.Type
	p unsafe.Pointer
}

// hashable reports whether v can be a map key without panicking.
func hashable(v any) (ok bool) {
	if v == nil {
		return true
	}
	t := reflect.TypeOf(v)
	switch t.Kind() {
	case reflect.Pointer, reflect.Chan, reflect.UnsafePointer, reflect.String,
		reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	if !t.Comparable() {
		return false
	}
	// A comparable struct or array may still hold an interface whose
	// dynamic value is not hashable.
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_ = map[any]struct{}{v: {}}
	return true
}

// queueKey returns a map key for v: v itself when it is hashable, else
// an identityKey (values of a non-pointer, unhashable struct type then
// share one key per type).
func queueKey(v any) any {
	if hashable(v) {
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Func:
		return identityKey{t: rv.Type(), p: rv.UnsafePointer()}
	}
	return identityKey{t: rv.Type()}
}
