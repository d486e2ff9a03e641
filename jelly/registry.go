package jelly

import (
	"reflect"
	"strings"
	"sync"
)

// Copyable is implemented by Go values sent by copy with their own tag and
// state: they go on the wire as [JellyType(), jelly(JellyState())]. A
// pointer Copyable is identity-tracked (sent once, then referenced), like a
// Python Copyable instance. Copyable is for sending; to receive a tag it
// must be registered in a [Registry].
type Copyable interface {
	JellyType() string // the Python class name / type tag, e.g. "vecmodel.Point"
	JellyState() any   // any jellyable value; usually *Dict with string keys
}

// Registry maps Python class names (tags) to Go types, in both directions.
// It is the receiver's allow-list of classes: a class name that is not
// registered is refused. Safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	byName map[string]*regEntry
	byType map[reflect.Type]*regEntry
}

type regEntry struct {
	name   string
	typ    reflect.Type // struct type; nil for RegisterFunc
	ptr    bool         // received values are *typ
	fields []fieldInfo
	fn     func(state any) (any, error)
}

type fieldInfo struct {
	name      string
	index     []int
	omitEmpty bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*regEntry{}, byType: map[reflect.Type]*regEntry{}}
}

func checkName(name string) error {
	switch {
	case name == "":
		return &RegisterError{Name: name, Msg: "empty class name"}
	case builtinTags[name] || reservedTags[name]:
		return &RegisterError{Name: name, Msg: "reserved tag"}
	}
	return nil
}

// Register maps pyName to the Go type of proto (a struct or a pointer to a
// struct), in both directions. A value of that type (or a pointer to it) is
// sent as [pyName, dict of its exported fields], keyed (str keys) by the
// `jelly:"name"` tag or the field name, in field order; `jelly:"-"` skips a
// field and `jelly:"name,omitempty"` omits a zero one. A received
// [pyName, state] needs a dict state (str or bytes keys); matching fields are
// filled with [Convert], unknown keys are ignored, and the result is a new
// value of proto's type (a pointer if proto was a pointer).
func (r *Registry) Register(pyName string, proto any) error {
	if err := checkName(pyName); err != nil {
		return err
	}
	t := reflect.TypeOf(proto)
	ptr := false
	if t != nil && t.Kind() == reflect.Pointer {
		t, ptr = t.Elem(), true
	}
	if t == nil || t.Kind() != reflect.Struct {
		return &RegisterError{Name: pyName, Msg: "proto must be a struct or a pointer to a struct"}
	}
	e := &regEntry{name: pyName, typ: t, ptr: ptr, fields: structFields(t)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[pyName]; dup {
		return &RegisterError{Name: pyName, Msg: "already registered"}
	}
	if old, dup := r.byType[t]; dup {
		return &RegisterError{Name: pyName, Msg: "Go type " + t.String() + " already registered as " + old.name}
	}
	r.byName[pyName] = e
	r.byType[t] = e
	return nil
}

// RegisterFunc allows tag pyName on receipt and builds the value with fn
// from the decoded state (the second element of the list, decoded; any
// jelly value). fn's error is returned by Unmarshal as is.
func (r *Registry) RegisterFunc(pyName string, fn func(state any) (any, error)) error {
	if err := checkName(pyName); err != nil {
		return err
	}
	if fn == nil {
		return &RegisterError{Name: pyName, Msg: "nil func"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[pyName]; dup {
		return &RegisterError{Name: pyName, Msg: "already registered"}
	}
	r.byName[pyName] = &regEntry{name: pyName, fn: fn}
	return nil
}

// Allowed reports whether tag is a registered class name. A nil registry
// allows nothing.
func (r *Registry) Allowed(tag string) bool {
	return r.lookupName(tag) != nil
}

func (r *Registry) lookupName(name string) *regEntry {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byName[name]
}

func (r *Registry) lookupType(t reflect.Type) *regEntry {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byType[t]
}

// NameOf returns the class name registered for v's type (or, for a pointer,
// its element type).
func (r *Registry) NameOf(v any) (string, bool) {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if e := r.lookupType(t); e != nil {
		return e.name, true
	}
	return "", false
}

func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() || throughPointer(t, f.Index) {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("jelly"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, fieldInfo{name: name, index: f.Index, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}

// throughPointer reports whether the field path crosses an embedded pointer
// (such fields are skipped: a nil embedded pointer cannot be filled safely).
func throughPointer(t reflect.Type, index []int) bool {
	for _, i := range index[:len(index)-1] {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Pointer {
			return true
		}
		t = f.Type
	}
	return false
}
