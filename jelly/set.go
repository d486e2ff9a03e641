package jelly

// Set is a Python set (Frozen false) or frozenset (Frozen true). Items keep
// the order in which they were sent or added; received duplicates (in the
// sense of [KeyEqual]) are dropped, keeping the first. A *Set is
// identity-tracked. Only a frozenset is hashable (usable as a dict key).
//
// Python sends sets in hash order, so a set that goes Python -> Go -> Python
// keeps its elements but not necessarily the order of their encoding.
type Set struct {
	Items  []any
	Frozen bool
}

// NewSet returns a set of the given items without duplicates.
func NewSet(items ...any) *Set {
	s := &Set{}
	for _, it := range items {
		s.Add(it)
	}
	return s
}

// NewFrozenSet returns a frozenset of the given items without duplicates.
func NewFrozenSet(items ...any) *Set {
	s := NewSet(items...)
	s.Frozen = true
	return s
}

// Len returns the number of items.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Items)
}

// Has reports whether an item equal to v (see [KeyEqual]) is in the set.
func (s *Set) Has(v any) bool {
	if s == nil {
		return false
	}
	k := keyOf(v)
	for _, it := range s.Items {
		if keyOf(it) == k {
			return true
		}
	}
	return false
}

// Add appends v unless an equal item is present; it reports whether v was
// added.
func (s *Set) Add(v any) bool {
	if s.Has(v) {
		return false
	}
	s.Items = append(s.Items, v)
	return true
}

// dedup removes duplicates of decoded items; unhashable items are an error
// (as in Python).
func (s *Set) dedup(h *hasher, tag string) error {
	seen := make(map[string]struct{}, len(s.Items))
	out := s.Items[:0]
	for _, it := range s.Items {
		k, ok := h.key(it, 0)
		if !ok {
			return decodeErr(tag, "unhashable element of type %T", it)
		}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, it)
	}
	clear(s.Items[len(out):])
	s.Items = out
	return nil
}
