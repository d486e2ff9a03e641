package jelly

import (
	"math/big"
	"unicode/utf8"
)

// Tuple is a Python tuple. Go's []any is a Python list.
type Tuple []any

// Unpersistable is the placeholder Twisted sends for a value it refuses to
// serialize, e.g. an instance of a class that is not a Copyable
// (`[b"unpersistable", b"instance of class mod.Cls deemed insecure"]`).
// Receiving it is not an error. A received `persistent` form also decodes to
// an Unpersistable, with Reason "Persistent callback not found".
type Unpersistable struct {
	Reason string
}

func (u Unpersistable) String() string { return "Unpersistable(" + u.Reason + ")" }

// String returns v as a Go string when v is a string or a []byte. Python
// peers send some text either as str or as bytes (usernames, keys of copied
// state); use this where either is acceptable.
func String(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// Bytes returns v as a []byte when v is a []byte or a string.
func Bytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

// Int returns v as an int64 when v is an integer (of any Go integer kind or
// a *big.Int) that fits.
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= 1<<63-1 {
			return int64(x), true
		}
	case uint64:
		if x <= 1<<63-1 {
			return int64(x), true
		}
	case *big.Int:
		if x != nil && x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// isText reports whether s is valid UTF-8 that Python accepts as str
// content (Go's utf8.ValidString already rejects surrogates).
func isText(s string) bool { return utf8.ValidString(s) }
