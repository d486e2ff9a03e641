package jelly

import "iter"

// Dict is a Python dict: ordered by insertion, with Python key equality
// (see [KeyEqual]): str "a" and bytes b"a" are different keys, int64 and
// *big.Int of the same value are the same key, Tuple keys compare
// element-wise. The zero value is an empty dict ready to use. A *Dict is
// identity-tracked: the same pointer twice in a value is sent once and
// referenced.
type Dict struct {
	keys  []any
	vals  []any
	ckeys []string       // canonical keys, parallel to keys
	index map[string]int // canonical key -> position; built when large
}

// Item is one key/value pair of a Dict.
type Item struct {
	Key   any
	Value any
}

const dictIndexMin = 8

// NewDict returns a dict holding the given pairs, in order.
func NewDict(items ...Item) *Dict {
	d := &Dict{}
	for _, it := range items {
		d.Set(it.Key, it.Value)
	}
	return d
}

// Len returns the number of keys.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

func (d *Dict) find(ck string) int {
	if d == nil {
		return -1
	}
	if d.index != nil {
		if i, ok := d.index[ck]; ok {
			return i
		}
		return -1
	}
	for i, k := range d.ckeys {
		if k == ck {
			return i
		}
	}
	return -1
}

// Get returns the value for key k.
func (d *Dict) Get(k any) (any, bool) {
	i := d.find(keyOf(k))
	if i < 0 {
		return nil, false
	}
	return d.vals[i], true
}

// Lookup returns the value for the str key name, or else for the bytes key
// name (Python peers may use either for attribute names).
func (d *Dict) Lookup(name string) (any, bool) {
	if v, ok := d.Get(name); ok {
		return v, true
	}
	return d.Get([]byte(name))
}

// Has reports whether k is a key.
func (d *Dict) Has(k any) bool { return d.find(keyOf(k)) >= 0 }

// Set stores v under k. As in Python, a new key goes to the end and an
// existing key keeps its position and its original key object. Set accepts
// unhashable keys (lists, dicts, mutable sets) by identity, but a Python
// peer refuses a dict containing them.
func (d *Dict) Set(k, v any) {
	d.setCanon(keyOf(k), k, v)
}

func (d *Dict) setCanon(ck string, k, v any) {
	if i := d.find(ck); i >= 0 {
		d.vals[i] = v
		return
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	d.ckeys = append(d.ckeys, ck)
	if d.index != nil {
		d.index[ck] = len(d.keys) - 1
	} else if len(d.keys) > dictIndexMin {
		d.reindex()
	}
}

// setHashable is Set for decoded data: an unhashable key is an error, as in
// Python.
func (d *Dict) setHashable(h *hasher, k, v any) error {
	ck, ok := h.key(k, 0)
	if !ok {
		return decodeErr(TagDictionary, "unhashable key of type %T", k)
	}
	d.setCanon(ck, k, v)
	return nil
}

func (d *Dict) reindex() {
	d.index = make(map[string]int, len(d.ckeys))
	for i, k := range d.ckeys {
		d.index[k] = i
	}
}

// Delete removes k and reports whether it was present.
func (d *Dict) Delete(k any) bool {
	i := d.find(keyOf(k))
	if i < 0 {
		return false
	}
	d.keys = append(d.keys[:i], d.keys[i+1:]...)
	d.vals = append(d.vals[:i], d.vals[i+1:]...)
	d.ckeys = append(d.ckeys[:i], d.ckeys[i+1:]...)
	if d.index != nil {
		if len(d.keys) > dictIndexMin {
			d.reindex()
		} else {
			d.index = nil
		}
	}
	return true
}

// Items returns the pairs in order (a copy).
func (d *Dict) Items() []Item {
	if d == nil {
		return nil
	}
	out := make([]Item, len(d.keys))
	for i := range d.keys {
		out[i] = Item{d.keys[i], d.vals[i]}
	}
	return out
}

// Keys returns the keys in order (a copy).
func (d *Dict) Keys() []any {
	if d == nil {
		return nil
	}
	return append([]any(nil), d.keys...)
}

// All iterates over the pairs in order.
func (d *Dict) All() iter.Seq2[any, any] {
	return func(yield func(any, any) bool) {
		if d == nil {
			return
		}
		for i := 0; i < len(d.keys); i++ {
			if !yield(d.keys[i], d.vals[i]) {
				return
			}
		}
	}
}
