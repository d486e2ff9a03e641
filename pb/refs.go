package pb

import (
	"fmt"

	"github.com/gospread/spread/jelly"
)

// refs implements jelly.Refs for one jelly call: perspective is who the
// value is being serialized for (for Viewables and per-user state).
type refs struct {
	b           *Broker
	perspective any
	made        []int64 // exports counted by this call, for rollback

	// What a decode created, given back if the value is not delivered.
	imported  []*RemoteReference
	newCaches []RemoteCache
}

var _ jelly.Refs = (*refs)(nil)

// outgoing returns jelly options for values to send, and the refs hook
// that records what they export. If the values are then not sent (a
// later jelly or banana error), call rollback: the peer never learns
// those ids and could never release them.
func (b *Broker) outgoing(perspective any) (*jelly.Options, *refs) {
	r := &refs{b: b, perspective: perspective}
	return &jelly.Options{Registry: b.registry(), Refs: r}, r
}

// incoming returns jelly options for decoding a value from the peer,
// and the refs hook that records the proxies and caches it creates.
func (b *Broker) incoming() (*jelly.Options, *refs) {
	r := &refs{b: b}
	return &jelly.Options{Registry: b.registry(), Refs: r}, r
}

// releaseImports gives back every proxy and cache the decode created:
// the value they were part of is not delivered (it failed to decode, or
// nobody waits for it), so nothing else can ever release them. Proxies
// that already existed got their extra decref in importRef.
func (r *refs) releaseImports() {
	imported, caches := r.imported, r.newCaches
	r.imported, r.newCaches = nil, nil
	for _, p := range imported {
		p.Release()
	}
	for _, c := range caches {
		r.b.ReleaseCache(c)
	}
}

// discard decodes values that will not be delivered (the arguments of a
// refused call, a late answer) only to give back the references in
// them, so the peer's counts stay right.
func (b *Broker) discard(sexps ...any) {
	opts, r := b.incoming()
	for _, s := range sexps {
		jelly.Unmarshal(s, opts)
	}
	r.releaseImports()
}

// rollback undoes the reference counts this hook added. Objects whose
// count drops to zero are forgotten without telling the peer; an avatar
// logs out, a Cacheable stops observing.
func (r *refs) rollback() {
	ids := r.made
	r.made = nil
	b := r.b
	for _, id := range ids {
		b.mu.Lock()
		e := b.exports.get(id)
		if e == nil {
			b.mu.Unlock()
			continue
		}
		e.refs--
		if e.refs > 0 {
			b.mu.Unlock()
			continue
		}
		b.exports.remove(e)
		a, isAvatar := e.obj.(*avatarRef)
		switch {
		case isAvatar:
			if a.hasLogout() {
				b.cleanupLocked(a.runLogout)
			}
		case e.cache != nil && e.observer != nil:
			b.cleanupLocked(func() { e.cache.StoppedObserving(e.observer.perspective, e.observer) })
		}
		b.mu.Unlock()
	}
}

// IsRefTag reports whether tag is a registered Cacheable's tag, or the
// failure class, which every broker decodes whatever its Registry holds
// (so that Config.Registry is never written to).
func (r *refs) IsRefTag(tag string) bool {
	if tag == pyCopyableFailure {
		return true
	}
	_, ok := r.b.cfg.Caches[tag]
	return ok
}

// MarshalRef puts broker-level objects on the wire.
func (r *refs) MarshalRef(m *jelly.Marshaler, v any) (any, bool, error) {
	b := r.b
	switch x := v.(type) {
	case *RemoteReference:
		if x.b != b {
			return nil, true, fmt.Errorf("pb: a reference from one connection cannot be sent on another")
		}
		if x.root {
			return nil, true, fmt.Errorf("pb: the peer's root cannot be sent back")
		}
		return []any{"local", x.id}, true, nil
	case *avatarRef:
		id, err := b.exportObject(x, x, nil, nil)
		if err != nil {
			// Not exported (connection closed, MaxRefs): the avatar will
			// never reach the peer, and shutdown will not see it.
			go x.runLogout()
			return nil, true, err
		}
		r.made = append(r.made, id)
		return []any{"remote", id}, true, nil
	case Cacheable:
		return r.marshalCacheable(m, x)
	case CopyableFor:
		state, err := m.Marshal(x.JellyStateFor(r.perspective))
		if err != nil {
			return nil, true, err
		}
		return []any{x.JellyType(), state}, true, nil
	}
	if b.isHeldCache(v) {
		b.mu.Lock()
		id := b.cacheIDs[v]
		b.mu.Unlock()
		return []any{"lcache", id}, true, nil
	}
	f, ok := v.(flavored)
	if !ok {
		return nil, false, nil
	}
	if err := mustBePointer(v); err != nil {
		return nil, true, err
	}
	switch f.pbFlavor() {
	case flavorViewable:
		if !hashable(r.perspective) {
			return nil, true, fmt.Errorf("pb: cannot send a Viewable to a perspective of type %T: an avatar that receives Viewables must be a pointer or another comparable value", r.perspective)
		}
		vp := viewKey{perspective: r.perspective, view: v}
		id, err := b.exportObject(vp, nil, nil, func() any { return &viewPoint{perspective: r.perspective, view: v} })
		if err != nil {
			return nil, true, err
		}
		r.made = append(r.made, id)
		return []any{"remote", id}, true, nil
	case flavorReferenceable:
		id, err := b.exportObject(v, v, nil, nil)
		if err != nil {
			return nil, true, err
		}
		r.made = append(r.made, id)
		return []any{"remote", id}, true, nil
	}
	return nil, false, nil
}

func (r *refs) marshalCacheable(m *jelly.Marshaler, c Cacheable) (any, bool, error) {
	b := r.b
	if err := mustBePointer(c); err != nil {
		return nil, true, err
	}
	b.mu.Lock()
	if e := b.exports.lookup(c); e != nil {
		e.refs++
		id := e.id
		b.mu.Unlock()
		r.made = append(r.made, id)
		return []any{"cached", id}, true, nil
	}
	b.mu.Unlock()
	id, err := b.exportObject(c, c, c, nil)
	if err != nil {
		return nil, true, err
	}
	r.made = append(r.made, id)
	obs := &Observer{b: b, id: id, perspective: r.perspective}
	b.mu.Lock()
	if e := b.exports.get(id); e != nil {
		e.observer = obs
	}
	b.mu.Unlock()
	state, err := m.Marshal(c.CacheState(r.perspective, obs))
	if err != nil {
		return nil, true, err
	}
	return []any{c.JellyType(), id, state}, true, nil
}

// UnmarshalRef builds proxies for references received from the peer.
func (r *refs) UnmarshalRef(u *jelly.Unmarshaler, tag string, sexp []any) (any, error) {
	b := r.b
	switch tag {
	case pyCopyableFailure:
		if len(sexp) != 2 {
			return nil, fmt.Errorf("pb: failure with %d fields, want 2", len(sexp))
		}
		state, err := u.Unmarshal(sexp[1])
		if err != nil {
			return nil, err
		}
		return decodeFailure(state)
	case "remote":
		id, err := refID(sexp)
		if err != nil {
			return nil, err
		}
		ref, created, err := b.importRef(id)
		if created {
			r.imported = append(r.imported, ref)
		}
		return ref, err
	case "local":
		id, err := refID(sexp)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		e := b.exports.get(id)
		b.mu.Unlock()
		if e == nil {
			return nil, nil // Twisted gives None for an unknown id
		}
		// A reference sent home arrives as the original object: the
		// Viewable behind a view point, the realm's avatar.
		switch o := e.obj.(type) {
		case *viewPoint:
			return o.view, nil
		case *avatarRef:
			return o.avatar, nil
		}
		return e.obj, nil
	case "cached":
		id, err := refID(sexp)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		h := b.caches[id]
		b.mu.Unlock()
		if h == nil {
			return nil, fmt.Errorf("pb: cached: unknown cache id %d", id)
		}
		// One decache is owed per occurrence; this side keeps one.
		b.w.send([]any{verbDecache, id})
		return h.obj, nil
	case "lcache":
		id, err := refID(sexp)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		e := b.exports.get(id)
		b.mu.Unlock()
		if e == nil || e.cache == nil {
			return nil, nil
		}
		return e.obj, nil
	}
	mk, ok := b.cfg.Caches[tag]
	if !ok {
		return nil, &jelly.InsecureError{Tag: tag}
	}
	if len(sexp) != 3 {
		return nil, fmt.Errorf("pb: cacheable %q: %d elements, want 3", tag, len(sexp))
	}
	id, ok := sexp[1].(int64)
	if !ok {
		return nil, fmt.Errorf("pb: cacheable %q: id is not an int", tag)
	}
	state, err := u.Unmarshal(sexp[2])
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if h := b.caches[id]; h != nil {
		b.mu.Unlock()
		b.w.send([]any{verbDecache, id})
		return h.obj, h.obj.SetCacheState(state)
	}
	if len(b.caches)+len(b.imports) >= b.cfg.MaxImports {
		b.mu.Unlock()
		return nil, protoErr(nil, "peer sent more than %d references", b.cfg.MaxImports)
	}
	obj := mk()
	if !hashable(obj) {
		b.mu.Unlock()
		return nil, fmt.Errorf("pb: the RemoteCache for %q is a %T; it must be a pointer", tag, obj)
	}
	if b.caches == nil {
		b.caches = make(map[int64]*heldCache)
		b.cacheIDs = make(map[any]int64)
	}
	b.caches[id] = &heldCache{obj: obj}
	b.cacheIDs[obj] = id
	b.mu.Unlock()
	r.newCaches = append(r.newCaches, obj)
	if err := obj.SetCacheState(state); err != nil {
		return nil, err
	}
	return obj, nil
}

func (b *Broker) registry() *jelly.Registry {
	if b.cfg.Registry != nil {
		return b.cfg.Registry
	}
	return defaultRegistry
}
