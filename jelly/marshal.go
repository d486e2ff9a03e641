package jelly

import (
	"math/big"
	"reflect"
	"sort"
	"sync"
)

// Marshaler is the state of one Marshal call. Hooks ([Refs], nothing else)
// receive it and marshal sub-values through it, so that shared and cyclic
// structure is detected across the whole value.
type Marshaler struct {
	opt    Options
	depth  int
	nextID int64
	seen   map[ident]*mstate
	// detachNext marks the next tracked value as the top of a hook's
	// m.Marshal call: its position in the output is not known to us.
	detachNext bool
	fixups     []*mstate
	root       [1]any   // the slot the top-level value is written to
	states     []mstate // storage for the mstate records, kept between calls
}

// marshalers recycles the state of Marshal calls, which a hook may use
// only until it returns. The seen map and the mstate storage are kept
// (emptied) unless they grew large.
var marshalers = sync.Pool{New: func() any { return new(Marshaler) }}

const maxPooledStates = 64

func (m *Marshaler) release() {
	seen, states := m.seen, m.states
	if len(seen) > maxPooledStates {
		seen = nil
	} else {
		clear(seen)
	}
	if cap(states) > maxPooledStates {
		states = nil
	} else {
		clear(states)
		states = states[:0]
	}
	*m = Marshaler{seen: seen, states: states}
	marshalers.Put(m)
}

// newState returns a zeroed mstate. Records are never moved: a full
// storage array is replaced by a new one, not grown.
func (m *Marshaler) newState() *mstate {
	if len(m.states) == cap(m.states) {
		m.states = make([]mstate, 0, max(8, 2*cap(m.states)))
	}
	m.states = m.states[:len(m.states)+1]
	return &m.states[len(m.states)-1]
}

// mstate is the encoder's record of a tracked value: where its first
// occurrence was written, so that it can be rewritten in place into a
// reference form when the value is met again.
type mstate struct {
	body     []any // the value's own serialization
	loc      []any // parent slot holding the first occurrence
	idx      int
	id       int64 // 0 until the first repeat
	done     bool
	detached bool
}

// Marshal converts v to a jelly s-expression: nested []any lists, int64,
// *big.Int, float64, []byte (Python bytes) and string (raw bytes: tags and
// the payload of unicode forms). Reference ids start at 1.
func Marshal(v any, opt *Options) (any, error) {
	m := marshalers.Get().(*Marshaler)
	m.opt = opt.copy()
	root := m.root[:]
	err := m.marshalAt(v, root, 0)
	if err == nil && len(m.fixups) > 0 {
		m.applyFixups(root)
	}
	out := root[0]
	m.release()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Marshal marshals v as part of the value being marshaled (for hooks).
func (m *Marshaler) Marshal(v any) (any, error) {
	holder := make([]any, 1)
	m.detachNext = true
	err := m.marshalAt(v, holder, 0)
	m.detachNext = false
	if err != nil {
		return nil, err
	}
	return holder[0], nil
}

// Options returns the options of this call.
func (m *Marshaler) Options() Options { return m.opt }

func (m *Marshaler) enter() error {
	m.depth++
	if m.depth > m.opt.MaxDepth {
		return &DepthError{Max: m.opt.MaxDepth}
	}
	return nil
}

func (m *Marshaler) leave() { m.depth-- }

// tracked writes an identity-tracked value at loc[idx], following Twisted's
// scheme: the first repeat of a value gives it the next id and rewrites its
// first occurrence in place into [reference, id, body]; every repeat is
// [dereference, id].
func (m *Marshaler) tracked(key ident, detached bool, loc []any, idx int, build func() ([]any, error)) error {
	if m.seen == nil {
		m.seen = make(map[ident]*mstate)
	}
	if st, ok := m.seen[key]; ok {
		if st.id == 0 {
			m.nextID++
			st.id = m.nextID
			if st.done {
				if st.detached {
					m.fixups = append(m.fixups, st)
				} else {
					st.loc[st.idx] = []any{TagReference, st.id, st.body}
				}
			}
		}
		loc[idx] = []any{TagDereference, st.id}
		return nil
	}
	st := m.newState()
	st.loc, st.idx, st.detached = loc, idx, detached
	m.seen[key] = st
	if err := m.enter(); err != nil {
		return err
	}
	body, err := build()
	m.leave()
	if err != nil {
		return err
	}
	st.body, st.done = body, true
	if st.id != 0 {
		loc[idx] = []any{TagReference, st.id, body}
	} else {
		loc[idx] = body
	}
	return nil
}

// applyFixups wraps the first occurrences of values that were marshaled by
// a hook and repeated after they were complete.
func (m *Marshaler) applyFixups(root []any) {
	type skey struct {
		p *any
		n int
	}
	want := make(map[skey]int64, len(m.fixups))
	for _, st := range m.fixups {
		want[skey{&st.body[0], len(st.body)}] = st.id
	}
	var walk func(node []any, depth int)
	walk = func(node []any, depth int) {
		if len(want) == 0 || depth > 4*m.opt.MaxDepth+16 {
			return
		}
		for i, c := range node {
			cs, ok := c.([]any)
			if !ok || len(cs) == 0 {
				continue
			}
			k := skey{&cs[0], len(cs)}
			if id, hit := want[k]; hit {
				delete(want, k)
				node[i] = []any{TagReference, id, cs}
			}
			walk(cs, depth+1)
		}
	}
	walk(root, 0)
}

func (m *Marshaler) marshalAt(v any, loc []any, idx int) error {
	detached := m.detachNext
	m.detachNext = false
	switch x := v.(type) {
	case nil:
		loc[idx] = []any{TagNone}
	case bool:
		if x {
			loc[idx] = []any{TagBoolean, "true"}
		} else {
			loc[idx] = []any{TagBoolean, "false"}
		}
	case int64:
		loc[idx] = v // v already boxes x: no new allocation
	case int:
		loc[idx] = int64(x)
	case int32:
		loc[idx] = int64(x)
	case int16:
		loc[idx] = int64(x)
	case int8:
		loc[idx] = int64(x)
	case uint8:
		loc[idx] = int64(x)
	case uint16:
		loc[idx] = int64(x)
	case uint32:
		loc[idx] = int64(x)
	case uint:
		loc[idx] = uintSexp(uint64(x))
	case uint64:
		loc[idx] = uintSexp(x)
	case *big.Int:
		if x == nil {
			return encodeErr(v, "nil *big.Int")
		}
		if x.IsInt64() {
			loc[idx] = x.Int64()
		} else {
			loc[idx] = x
		}
	case float64:
		loc[idx] = v
	case float32:
		loc[idx] = float64(x)
	case string:
		if !isText(x) {
			return encodeErr(v, "string is not valid UTF-8 (send []byte for raw bytes)")
		}
		loc[idx] = []any{TagUnicode, v}
	case []byte:
		if x == nil {
			loc[idx] = []byte{}
		} else {
			loc[idx] = v
		}
	case []any:
		key, ok := sliceIdent(typeList, x)
		build := func() ([]any, error) { return m.seq(TagList, x) }
		if !ok {
			return m.untracked(loc, idx, build)
		}
		return m.tracked(key, detached, loc, idx, build)
	case Tuple:
		build := func() ([]any, error) { return m.seq(TagTuple, x) }
		if len(x) == 0 {
			// CPython's empty tuple is a singleton, so Twisted sends every
			// empty tuple of a value as the same object; so do we.
			return m.tracked(ident{typ: typeTuple}, detached, loc, idx, build)
		}
		key, _ := sliceIdent(typeTuple, x)
		return m.tracked(key, detached, loc, idx, build)
	case *Dict:
		build := func() ([]any, error) { return m.dict(x) }
		if x == nil {
			return m.untracked(loc, idx, build)
		}
		key, _ := ptrIdent(x)
		return m.tracked(key, detached, loc, idx, build)
	case map[string]any:
		build := func() ([]any, error) { return m.strMap(x) }
		key, ok := ptrIdent(x)
		if !ok {
			return m.untracked(loc, idx, build)
		}
		return m.tracked(key, detached, loc, idx, build)
	case *Set:
		build := func() ([]any, error) {
			tag := TagSet
			if x != nil && x.Frozen {
				tag = TagFrozenset
			}
			var items []any
			if x != nil {
				items = x.Items
			}
			return m.seq(tag, items)
		}
		if x == nil {
			return m.untracked(loc, idx, build)
		}
		key, _ := ptrIdent(x)
		return m.tracked(key, detached, loc, idx, build)
	case Decimal:
		loc[idx] = []any{TagDecimal, intSexp(x.digits()), x.Exp}
	case DateTime:
		loc[idx] = []any{TagDateTime, x.String()}
	case Date:
		loc[idx] = []any{TagDate, x.String()}
	case Time:
		loc[idx] = []any{TagTime, x.String()}
	case TimeDelta:
		n, err := x.Normalize()
		if err != nil {
			return encodeErr(v, "%v", err)
		}
		loc[idx] = []any{TagTimeDelta, n.String()}
	case Unpersistable:
		loc[idx] = []any{TagUnpersistable, x.Reason}
	default:
		return m.marshalOther(v, detached, loc, idx)
	}
	return nil
}

func uintSexp(u uint64) any {
	if u <= 1<<63-1 {
		return int64(u)
	}
	return new(big.Int).SetUint64(u)
}

func intSexp(i *big.Int) any {
	if i.IsInt64() {
		return i.Int64()
	}
	return i
}

func (m *Marshaler) untracked(loc []any, idx int, build func() ([]any, error)) error {
	if err := m.enter(); err != nil {
		return err
	}
	body, err := build()
	m.leave()
	if err != nil {
		return err
	}
	loc[idx] = body
	return nil
}

func (m *Marshaler) seq(tag string, items []any) ([]any, error) {
	out := make([]any, len(items)+1)
	out[0] = tag
	for i, it := range items {
		if err := m.marshalAt(it, out, i+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Marshaler) dict(d *Dict) ([]any, error) {
	n := d.Len()
	out := make([]any, n+1)
	out[0] = TagDictionary
	for i := 0; i < n; i++ {
		pair := make([]any, 2)
		out[i+1] = pair
		if err := m.marshalAt(d.keys[i], pair, 0); err != nil {
			return nil, err
		}
		if err := m.marshalAt(d.vals[i], pair, 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Marshaler) strMap(x map[string]any) ([]any, error) {
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, len(keys)+1)
	out[0] = TagDictionary
	for i, k := range keys {
		pair := make([]any, 2)
		out[i+1] = pair
		if err := m.marshalAt(k, pair, 0); err != nil {
			return nil, err
		}
		if err := m.marshalAt(x[k], pair, 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// marshalOther handles values that are not basic jelly values: the broker
// hook first, then Copyable, then registered types, then generic slices
// and string-keyed maps.
func (m *Marshaler) marshalOther(v any, detached bool, loc []any, idx int) error {
	if m.opt.Refs != nil {
		// Broker forms count as a level, as on the decoding side.
		if err := m.enter(); err != nil {
			return err
		}
		sexp, ok, err := m.opt.Refs.MarshalRef(m, v)
		m.leave()
		if err != nil {
			return err
		}
		if ok {
			loc[idx] = sexp
			return nil
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		loc[idx] = []any{TagNone}
		return nil
	}
	if c, ok := v.(Copyable); ok {
		build := func() ([]any, error) {
			out := make([]any, 2)
			out[0] = c.JellyType()
			if err := m.marshalAt(c.JellyState(), out, 1); err != nil {
				return nil, err
			}
			return out, nil
		}
		if key, ok := ptrIdent(v); ok {
			return m.tracked(key, detached, loc, idx, build)
		}
		return m.untracked(loc, idx, build)
	}
	st := rv
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if e := m.opt.Registry.lookupType(st.Type()); e != nil && e.typ != nil {
		build := func() ([]any, error) { return m.instance(e, st) }
		if key, ok := ptrIdent(v); ok {
			return m.tracked(key, detached, loc, idx, build)
		}
		return m.untracked(loc, idx, build)
	}
	switch rv.Kind() {
	// Named basic types (type Name string, type Raw []byte, ...).
	case reflect.String:
		return m.marshalAt(rv.String(), loc, idx)
	case reflect.Bool:
		return m.marshalAt(rv.Bool(), loc, idx)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return m.marshalAt(rv.Int(), loc, idx)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return m.marshalAt(rv.Uint(), loc, idx)
	case reflect.Float32, reflect.Float64:
		return m.marshalAt(rv.Float(), loc, idx)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return m.marshalAt(rv.Bytes(), loc, idx)
		}
		return m.untracked(loc, idx, func() ([]any, error) {
			out := make([]any, rv.Len()+1)
			out[0] = TagList
			for i := 0; i < rv.Len(); i++ {
				if err := m.marshalAt(rv.Index(i).Interface(), out, i+1); err != nil {
					return nil, err
				}
			}
			return out, nil
		})
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			return m.untracked(loc, idx, func() ([]any, error) {
				keys := rv.MapKeys()
				sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
				out := make([]any, len(keys)+1)
				out[0] = TagDictionary
				for i, k := range keys {
					pair := make([]any, 2)
					out[i+1] = pair
					if err := m.marshalAt(k.String(), pair, 0); err != nil {
						return nil, err
					}
					if err := m.marshalAt(rv.MapIndex(k).Interface(), pair, 1); err != nil {
						return nil, err
					}
				}
				return out, nil
			})
		}
	}
	return encodeErr(v, "unsupported type (not a jelly value, Copyable or registered type)")
}

// instance builds [pyName, [dictionary, [[unicode, field], value]...]].
func (m *Marshaler) instance(e *regEntry, sv reflect.Value) ([]any, error) {
	if err := m.enter(); err != nil { // the state dict is a container too
		return nil, err
	}
	defer m.leave()
	state := make([]any, 1, len(e.fields)+1)
	state[0] = TagDictionary
	for _, f := range e.fields {
		fv := sv.FieldByIndex(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		pair := make([]any, 2)
		pair[0] = []any{TagUnicode, f.name}
		state = append(state, pair)
		if err := m.marshalAt(fv.Interface(), pair, 1); err != nil {
			return nil, err
		}
	}
	return []any{e.name, state}, nil
}
