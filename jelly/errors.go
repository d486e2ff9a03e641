package jelly

import (
	"fmt"
	"reflect"
)

// InsecureError reports a tag or class name that the receiver refuses: a tag
// outside the allow-list, an unregistered class name, or a broker reference
// form when no [Refs] hook is installed.
type InsecureError struct {
	Tag string
}

func (e *InsecureError) Error() string {
	return fmt.Sprintf("jelly: insecure type %q", e.Tag)
}

// DecodeError reports a malformed s-expression: a bad payload for a known
// tag, a dictionary pair that is not a 2-element list, invalid UTF-8 in a
// unicode string, a dangling dereference, an unhashable key, and so on.
// Tag is the jelly tag being decoded, empty when the problem is not tied to
// one.
type DecodeError struct {
	Tag string
	Msg string
}

func (e *DecodeError) Error() string {
	if e.Tag == "" {
		return "jelly: " + e.Msg
	}
	return fmt.Sprintf("jelly: bad %q: %s", e.Tag, e.Msg)
}

// EncodeError reports a Go value that cannot be marshaled. Type is the Go
// type (as printed by %T).
type EncodeError struct {
	Type string
	Msg  string
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("jelly: cannot marshal %s: %s", e.Type, e.Msg)
}

// DepthError reports a value nested deeper than Options.MaxDepth, on either
// side. Depth counts containers: lists, tuples, dicts, sets and class
// instances (registered, Copyable or broker references).
type DepthError struct {
	Max int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("jelly: nesting deeper than MaxDepth (%d)", e.Max)
}

// RegisterError reports a bad call to [Registry.Register] or
// [Registry.RegisterFunc].
type RegisterError struct {
	Name string
	Msg  string
}

func (e *RegisterError) Error() string {
	return fmt.Sprintf("jelly: cannot register %q: %s", e.Name, e.Msg)
}

// TypeError reports a decoded value that does not fit a Go type (see
// [Convert]).
type TypeError struct {
	Value string // Go type of the decoded value
	Want  string // Go type asked for
	Msg   string // optional detail

	// Path locates the mismatch inside the value given to Convert, in
	// Go-like notation: ["env"]["CC"], [2], .Command[1]. Empty means the
	// value itself.
	Path string
	// Got is the decoded value that did not fit, and WantType the Go
	// type it was to become (both at Path).
	Got      any
	WantType reflect.Type
}

func (e *TypeError) Error() string {
	s := fmt.Sprintf("jelly: cannot convert %s to %s", e.Value, e.Want)
	if e.Path != "" {
		s = fmt.Sprintf("jelly: at %s: cannot convert %s to %s", e.Path, e.Value, e.Want)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func decodeErr(tag, format string, args ...any) error {
	return &DecodeError{Tag: tag, Msg: fmt.Sprintf(format, args...)}
}

func encodeErr(v any, format string, args ...any) error {
	return &EncodeError{Type: fmt.Sprintf("%T", v), Msg: fmt.Sprintf(format, args...)}
}
