package pb

// exportTable holds a broker's exports, by id and by key. Most
// connections export a few objects (a logged-in client: its avatar), so
// up to smallExports of them live in a short slice searched in order;
// past that the table moves to two maps. An idle connection then costs
// a pointer per export instead of two maps. Guarded by Broker.mu.
type exportTable struct {
	small []*export
	byID  map[int64]*export
	byKey map[any]*export
}

const smallExports = 8

// get returns the export with id, or nil.
func (t *exportTable) get(id int64) *export {
	if t.byID != nil {
		return t.byID[id]
	}
	for _, e := range t.small {
		if e.id == id {
			return e
		}
	}
	return nil
}

// lookup returns the export of key, or nil. Keys are hashable (see
// queueKey and the export functions), so == cannot panic.
func (t *exportTable) lookup(key any) *export {
	if t.byKey != nil {
		return t.byKey[key]
	}
	for _, e := range t.small {
		if e.key == key {
			return e
		}
	}
	return nil
}

func (t *exportTable) add(e *export) {
	if t.byID == nil && len(t.small) < smallExports {
		t.small = append(t.small, e)
		return
	}
	if t.byID == nil {
		t.byID = make(map[int64]*export, 2*smallExports)
		t.byKey = make(map[any]*export, 2*smallExports)
		for _, x := range t.small {
			t.byID[x.id], t.byKey[x.key] = x, x
		}
		t.small = nil
	}
	t.byID[e.id], t.byKey[e.key] = e, e
}

func (t *exportTable) remove(e *export) {
	if t.byID != nil {
		if t.byID[e.id] == e {
			delete(t.byID, e.id)
			delete(t.byKey, e.key)
		}
		return
	}
	for i, x := range t.small {
		if x == e {
			last := len(t.small) - 1
			t.small[i] = t.small[last]
			t.small[last] = nil
			t.small = t.small[:last]
			return
		}
	}
}

func (t *exportTable) len() int {
	if t.byID != nil {
		return len(t.byID)
	}
	return len(t.small)
}

// all returns every export, in no particular order.
func (t *exportTable) all() []*export {
	if t.byID == nil {
		return append([]*export(nil), t.small...)
	}
	out := make([]*export, 0, len(t.byID))
	for _, e := range t.byID {
		out = append(out, e)
	}
	return out
}
