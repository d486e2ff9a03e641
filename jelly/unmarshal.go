package jelly

import (
	"math/big"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Unmarshaler is the state of one Unmarshal call. Hooks ([Refs]) receive it
// and decode jellied parts through it, so that references span the whole
// value.
type Unmarshaler struct {
	opt      Options
	depth    int
	hash     hasher
	refs     map[int64]*pending
	deferred []func() error
	late     []func() error // dict insertions whose key was not final
	dirty    []dirtySet
	waitSeq  int64
	open     map[int64]struct{} // waiters registered and not yet called
}

type dirtySet struct {
	s   *Set
	tag string
}

// pending stands for a value that is not known yet: the target of a
// dereference met before its reference form finished (a cycle), or a
// registered instance whose state is still incomplete. Containers record
// waiters that patch the slot once the value is known. A pending never
// reaches the caller.
type pending struct {
	bound    bool // a reference form (or deferred build) will resolve it
	resolved bool
	val      any
	waiters  []func(any) error
	id       string // for messages
}

// Unmarshal converts a jelly s-expression (as produced by a Banana decoder:
// nested []any lists, int64, *big.Int, float64, and byte strings as []byte
// or string) to a Go value; see the package documentation for the mapping
// and the security rules. A string atom where a value is expected (a VOCAB
// word from Banana) gives a fresh []byte. Byte strings of the result may
// share memory with sexp: do not modify sexp afterwards.
func Unmarshal(sexp any, opt *Options) (any, error) {
	u := unmarshalers.Get().(*Unmarshaler)
	u.opt = opt.copy()
	v, err := u.unmarshal(sexp)
	if err == nil {
		v, err = u.finish(v)
	}
	*u = Unmarshaler{} // drop every reference into this call's data
	unmarshalers.Put(u)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// unmarshalers recycles the state of Unmarshal calls, which a hook may use
// only until it returns.
var unmarshalers = sync.Pool{New: func() any { return new(Unmarshaler) }}

// Unmarshal decodes sexp as part of the value being decoded (for hooks).
// Shared and cyclic structure inside sexp, and references to parts decoded
// earlier, work; a reference to a value whose decoding has not finished
// (a cycle through the hook's own value) is a *DecodeError.
func (u *Unmarshaler) Unmarshal(sexp any) (any, error) {
	v, err := u.unmarshal(sexp)
	if err != nil {
		return nil, err
	}
	if p, ok := v.(*pending); ok {
		return nil, decodeErr(TagDereference, "reference %s to a value still being decoded cannot cross a broker hook", p.id)
	}
	return v, nil
}

// Options returns the options of this call.
func (u *Unmarshaler) Options() Options { return u.opt }

func (u *Unmarshaler) finish(v any) (any, error) {
	for i := 0; i < len(u.deferred); i++ {
		if err := u.deferred[i](); err != nil {
			return nil, err
		}
	}
	for _, f := range u.late {
		if err := f(); err != nil {
			return nil, err
		}
	}
	for _, p := range u.refs {
		if !p.resolved {
			return nil, decodeErr(TagDereference, "dangling dereference to id %s", p.id)
		}
	}
	for _, d := range u.dirty {
		if err := d.s.dedup(&u.hash, d.tag); err != nil {
			return nil, err
		}
	}
	if p, ok := v.(*pending); ok {
		if !p.resolved {
			return nil, decodeErr(TagDereference, "dangling dereference to id %s", p.id)
		}
		v = p.val
	}
	return v, nil
}

func (u *Unmarshaler) enter() error {
	u.depth++
	if u.depth > u.opt.MaxDepth {
		return &DepthError{Max: u.opt.MaxDepth}
	}
	return nil
}

func (u *Unmarshaler) leave() { u.depth-- }

// wait registers patch to run when p is known.
func (u *Unmarshaler) wait(p *pending, patch func(any) error) {
	if u.open == nil {
		u.open = make(map[int64]struct{})
	}
	u.waitSeq++
	s := u.waitSeq
	u.open[s] = struct{}{}
	p.waiters = append(p.waiters, func(v any) error {
		delete(u.open, s)
		return patch(v)
	})
}

// openSince reports whether a waiter registered after mark is still open,
// i.e. whether the value decoded since then is incomplete.
func (u *Unmarshaler) openSince(mark int64) bool {
	for s := range u.open {
		if s > mark {
			return true
		}
	}
	return false
}

func (u *Unmarshaler) resolve(p *pending, v any) error {
	p.resolved, p.val = true, v
	ws := p.waiters
	p.waiters = nil
	for _, w := range ws {
		if err := w(v); err != nil {
			return err
		}
	}
	return nil
}

func (u *Unmarshaler) unmarshal(sexp any) (any, error) {
	switch x := sexp.(type) {
	case []any:
		return u.list(x)
	case []byte:
		if x == nil {
			return []byte{}, nil
		}
		return sexp, nil // aliases the input: sexp is consumed
	case string:
		// Python bytes equal to a pb vocabulary word arrive as a shared
		// string (Banana VOCAB): hand out a fresh []byte.
		return []byte(x), nil
	case int64, float64:
		return sexp, nil
	case *big.Int:
		if x == nil {
			return nil, decodeErr("", "nil *big.Int in s-expression")
		}
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case float32:
		return float64(x), nil
	}
	if i, ok := Int(sexp); ok {
		return i, nil
	}
	return nil, decodeErr("", "unexpected %T in s-expression", sexp)
}

// internTag returns the tag as a string, without allocating for known tags.
func internTag(b []byte) string {
	switch string(b) {
	case TagNone:
		return TagNone
	case TagBoolean:
		return TagBoolean
	case TagUnicode:
		return TagUnicode
	case TagList:
		return TagList
	case TagTuple:
		return TagTuple
	case TagDictionary:
		return TagDictionary
	case TagSet:
		return TagSet
	case TagFrozenset:
		return TagFrozenset
	case TagReference:
		return TagReference
	case TagDereference:
		return TagDereference
	case TagRemote:
		return TagRemote
	case TagLocal:
		return TagLocal
	}
	return string(b)
}

func (u *Unmarshaler) list(l []any) (any, error) {
	if len(l) == 0 {
		return nil, decodeErr("", "empty list")
	}
	var tag string
	switch t := l[0].(type) {
	case []byte:
		tag = internTag(t)
	case string:
		tag = t
	default:
		return nil, decodeErr("", "list does not start with a tag (got %T)", l[0])
	}
	args := l[1:]
	switch tag {
	case TagNone:
		return nil, nil
	case TagBoolean:
		if len(args) < 1 {
			return nil, decodeErr(tag, "missing argument")
		}
		var t string
		switch b := args[0].(type) {
		case string:
			t = b
		case []byte:
			switch string(b) { // no copy
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		default:
			return nil, decodeErr(tag, "argument must be a byte string, not %T", args[0])
		}
		switch t {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, decodeErr(tag, "payload must be true or false")
	case TagUnicode:
		if len(args) > 0 {
			if s, ok := args[0].(string); ok { // immutable: no copy needed
				if !utf8.ValidString(s) {
					return nil, decodeErr(tag, "invalid UTF-8")
				}
				return args[0], nil
			}
		}
		b, err := byteArg(tag, args)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, decodeErr(tag, "invalid UTF-8")
		}
		return string(b), nil
	case TagList:
		s, _, err := u.seq(args, false)
		if err != nil {
			return nil, err
		}
		return s, nil
	case TagTuple:
		s, _, err := u.seq(args, false)
		if err != nil {
			return nil, err
		}
		return Tuple(s), nil
	case TagDictionary:
		return u.dict(args)
	case TagSet, TagFrozenset:
		return u.set(tag, args)
	case TagDecimal:
		return decodeDecimal(args)
	case TagDateTime, TagDate, TagTime, TagTimeDelta:
		return decodeTime(tag, args)
	case TagReference:
		return u.reference(args)
	case TagDereference:
		return u.dereference(args)
	case TagUnpersistable:
		t, err := textArg(tag, args)
		if err != nil {
			return nil, err
		}
		return Unpersistable{Reason: t}, nil
	case TagPersistent:
		return Unpersistable{Reason: "Persistent callback not found"}, nil
	}
	if refs := u.opt.Refs; isBrokerTag(tag) || (refs != nil && refs.IsRefTag(tag)) {
		if refs == nil {
			return nil, &InsecureError{Tag: tag}
		}
		if err := u.enter(); err != nil {
			return nil, err
		}
		v, err := refs.UnmarshalRef(u, tag, l)
		u.leave()
		return v, err
	}
	if e := u.opt.Registry.lookupName(tag); e != nil {
		return u.instance(e, args)
	}
	return nil, &InsecureError{Tag: tag}
}

// textArg returns the first argument, a byte string, as a string (without
// copying a string).
func textArg(tag string, args []any) (string, error) {
	if len(args) < 1 {
		return "", decodeErr(tag, "missing argument")
	}
	switch b := args[0].(type) {
	case string:
		return b, nil
	case []byte:
		return string(b), nil
	}
	return "", decodeErr(tag, "argument must be a byte string, not %T", args[0])
}

func byteArg(tag string, args []any) ([]byte, error) {
	if len(args) < 1 {
		return nil, decodeErr(tag, "missing argument")
	}
	switch b := args[0].(type) {
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	}
	return nil, decodeErr(tag, "argument must be a byte string, not %T", args[0])
}

// seq decodes the elements of a list or tuple. A referenced empty sequence
// gets capacity 1 so that it has an identity of its own.
func (u *Unmarshaler) seq(args []any, referenced bool) ([]any, bool, error) {
	if err := u.enter(); err != nil {
		return nil, false, err
	}
	defer u.leave()
	c := len(args)
	if c == 0 && referenced {
		c = 1
	}
	out := make([]any, len(args), c)
	waiting := false
	for i, a := range args {
		v, err := u.unmarshal(a)
		if err != nil {
			return nil, false, err
		}
		if p, ok := v.(*pending); ok {
			key := unsafe.Pointer(unsafe.SliceData(out))
			if u.hash.incomplete == nil {
				u.hash.incomplete = make(map[unsafe.Pointer]int)
			}
			u.hash.incomplete[key]++
			u.wait(p, func(r any) error {
				out[i] = r
				if u.hash.incomplete[key]--; u.hash.incomplete[key] <= 0 {
					delete(u.hash.incomplete, key)
				}
				return nil
			})
			waiting = true
			continue
		}
		out[i] = v
	}
	return out, waiting, nil
}

func (u *Unmarshaler) dict(args []any) (any, error) {
	if err := u.enter(); err != nil {
		return nil, err
	}
	defer u.leave()
	d := &Dict{}
	if n := len(args); n > 0 {
		kv := make([]any, 2*n) // keys and values in one array
		d.keys, d.vals = kv[:0:n], kv[n:n:2*n]
		d.ckeys = make([]string, 0, n)
	}
	for _, a := range args {
		pair, ok := a.([]any)
		if !ok || len(pair) != 2 {
			return nil, decodeErr(TagDictionary, "each item must be a [key, value] list")
		}
		k, err := u.unmarshal(pair[0])
		if err != nil {
			return nil, err
		}
		v, err := u.unmarshal(pair[1])
		if err != nil {
			return nil, err
		}
		kp, kPending := k.(*pending)
		vp, vPending := v.(*pending)
		if !kPending && !vPending {
			ck, ok, final := u.hash.keyFinal(k)
			if !ok {
				return nil, decodeErr(TagDictionary, "unhashable key of type %T", k)
			}
			if final {
				d.setCanon(ck, k, v)
			} else {
				u.late = append(u.late, func() error { return d.setHashable(&u.hash, k, v) })
			}
			continue
		}
		// As in Twisted, the pair is inserted once both halves are known.
		need := 0
		st := &[2]any{k, v}
		insert := func() error {
			need--
			if need == 0 {
				return d.setHashable(&u.hash, st[0], st[1])
			}
			return nil
		}
		if kPending {
			need++
			u.wait(kp, func(r any) error { st[0] = r; return insert() })
		}
		if vPending {
			need++
			u.wait(vp, func(r any) error { st[1] = r; return insert() })
		}
	}
	return d, nil
}

func (u *Unmarshaler) set(tag string, args []any) (any, error) {
	items, waiting, err := u.seq(args, false)
	if err != nil {
		return nil, err
	}
	s := &Set{Items: items, Frozen: tag == TagFrozenset}
	if waiting || !u.itemsFinal(items) {
		// Some items are still unknown (a cycle); dedup at the end.
		u.dirty = append(u.dirty, dirtySet{s, tag})
		return s, nil
	}
	if err := s.dedup(&u.hash, tag); err != nil {
		return nil, err
	}
	return s, nil
}

// itemsFinal reports whether the keys of all items are final (no item
// goes through a sequence still waiting for a value).
func (u *Unmarshaler) itemsFinal(items []any) bool {
	if len(u.hash.incomplete) == 0 {
		return true
	}
	for _, it := range items {
		if _, ok, final := u.hash.keyFinal(it); ok && !final {
			return false
		}
	}
	return true
}

// refKey returns a reference id. Twisted numbers references with ints;
// other ids are refused.
func refKey(tag string, a any) (int64, error) {
	if i, ok := a.(int64); ok {
		return i, nil
	}
	return 0, decodeErr(tag, "reference id must be an int, not %T", a)
}

func (u *Unmarshaler) reference(args []any) (any, error) {
	if len(args) < 2 {
		return nil, decodeErr(TagReference, "needs an id and a value")
	}
	key, err := refKey(TagReference, args[0])
	if err != nil {
		return nil, err
	}
	p := u.refs[key]
	if p != nil && p.bound {
		return nil, decodeErr(TagReference, "id %d bound twice", key)
	}
	if p == nil {
		p = &pending{id: strconv.FormatInt(key, 10)}
		if u.refs == nil {
			u.refs = make(map[int64]*pending)
		}
		u.refs[key] = p
	}
	p.bound = true
	var v any
	if l, ok := args[1].([]any); ok && len(l) > 0 && isSeqTag(l[0]) {
		// Give referenced empty lists/tuples an identity of their own.
		s, _, err := u.seq(l[1:], true)
		if err != nil {
			return nil, err
		}
		if t, _ := tagString(l[0]); t == TagTuple {
			v = Tuple(s)
		} else {
			v = s
		}
	} else if v, err = u.unmarshal(args[1]); err != nil {
		return nil, err
	}
	if q, ok := v.(*pending); ok {
		if q == p {
			return nil, decodeErr(TagReference, "id %d refers to itself", key)
		}
		u.wait(q, func(r any) error { return u.resolve(p, r) })
		return q, nil
	}
	if err := u.resolve(p, v); err != nil {
		return nil, err
	}
	return v, nil
}

func tagString(a any) (string, bool) {
	switch t := a.(type) {
	case []byte:
		return internTag(t), true
	case string:
		return t, true
	}
	return "", false
}

func isSeqTag(a any) bool {
	t, _ := tagString(a)
	return t == TagList || t == TagTuple
}

func (u *Unmarshaler) dereference(args []any) (any, error) {
	if len(args) < 1 {
		return nil, decodeErr(TagDereference, "needs an id")
	}
	key, err := refKey(TagDereference, args[0])
	if err != nil {
		return nil, err
	}
	p := u.refs[key]
	if p == nil {
		p = &pending{id: strconv.FormatInt(key, 10)}
		if u.refs == nil {
			u.refs = make(map[int64]*pending)
		}
		u.refs[key] = p
	}
	if p.resolved {
		return p.val, nil
	}
	return p, nil
}

// instance decodes [pyName, state] for a registered class.
func (u *Unmarshaler) instance(e *regEntry, args []any) (any, error) {
	if len(args) < 1 {
		return nil, decodeErr(e.name, "missing state")
	}
	if err := u.enter(); err != nil {
		return nil, err
	}
	mark := u.waitSeq
	state, err := u.unmarshal(args[0])
	u.leave()
	if err != nil {
		return nil, err
	}
	complete := !u.openSince(mark)
	if sp, ok := state.(*pending); ok {
		complete = false
		u.wait(sp, func(r any) error { state = r; return nil })
	}
	build := func() (any, error) {
		if p, ok := state.(*pending); ok {
			return nil, decodeErr(e.name, "state refers to id %s, never bound", p.id)
		}
		if e.fn != nil {
			return e.fn(state)
		}
		d, ok := state.(*Dict)
		if !ok {
			return nil, decodeErr(e.name, "state must be a dictionary, not %T", state)
		}
		pv := reflect.New(e.typ)
		if err := fillStruct(e, pv.Elem(), d); err != nil {
			return nil, err
		}
		if e.ptr {
			return pv.Interface(), nil
		}
		return pv.Elem().Interface(), nil
	}
	if complete {
		return build()
	}
	if e.fn == nil && e.ptr {
		// The pointer exists now (so cycles can point at it); its fields
		// are filled once the state is complete.
		pv := reflect.New(e.typ)
		u.deferred = append(u.deferred, func() error {
			if p, ok := state.(*pending); ok {
				return decodeErr(e.name, "state refers to id %s, never bound", p.id)
			}
			d, ok := state.(*Dict)
			if !ok {
				return decodeErr(e.name, "state must be a dictionary, not %T", state)
			}
			return fillStruct(e, pv.Elem(), d)
		})
		return pv.Interface(), nil
	}
	p := &pending{bound: true, id: e.name + " instance"}
	u.deferred = append(u.deferred, func() error {
		v, err := build()
		if err != nil {
			return err
		}
		return u.resolve(p, v)
	})
	return p, nil
}
