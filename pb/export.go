package pb

import (
	"fmt"
	"reflect"
)

// The export table: the objects this side has handed to the peer on
// one connection, counted as Twisted counts them.

// export is an object this side has handed to the peer on this
// connection.
type export struct {
	id       int64
	obj      any // Referenceable, *viewPoint, *avatarRef, or Cacheable
	key      any
	refs     int
	cache    Cacheable // non-nil for a Cacheable
	observer *Observer
}

type viewKey struct {
	perspective any
	view        any
}

func mustBePointer(v any) error {
	if reflect.TypeOf(v).Kind() != reflect.Pointer {
		return fmt.Errorf("pb: %T travels by reference and must be passed as a pointer", v)
	}
	return nil
}

// exportObject registers obj (or the object build makes) under key, or
// finds it, and counts one more reference. It returns the id.
func (b *Broker) exportObject(key, obj any, c Cacheable, build func() any) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, ErrClosed
	}
	if e := b.exports.lookup(key); e != nil {
		e.refs++
		return e.id, nil
	}
	if b.exports.len() >= b.cfg.MaxRefs {
		return 0, &Error{Type: pyPBError, Message: "Maximum PB reference count exceeded."}
	}
	if obj == nil {
		obj = build()
	}
	b.nextLUID++
	id := b.nextLUID
	e := &export{id: id, obj: obj, key: key, refs: 1, cache: c}
	b.exports.add(e)
	return id, nil
}

// decref handles the peer releasing one reference to an export.
func (b *Broker) decref(idv any) { b.release(verbDecref, idv) }

// decache handles the peer releasing one copy of a Cacheable.
func (b *Broker) decache(idv any) { b.release(verbDecache, idv) }

// release drops one reference to an export (decref) or one copy of a
// Cacheable (decache). At zero the export is forgotten: an avatar logs
// out; a Cacheable stops observing and the peer is told to uncache it.
// Unknown ids are logged and ignored (Twisted drops the connection).
func (b *Broker) release(verb string, idv any) {
	cache := verb == verbDecache
	id, ok := idv.(int64)
	b.mu.Lock()
	e := b.exports.get(id)
	if !ok || e == nil || (e.cache != nil) != cache {
		b.mu.Unlock()
		var logged any = id
		if !ok {
			logged = "a " + pyTypeName(idv) // never log peer-sized data
		}
		b.plog().Warn("pb: "+verb+" of unknown id ignored", "peer", b.conn.RemoteAddr().String(), "id", logged)
		return
	}
	e.refs--
	if e.refs > 0 {
		b.mu.Unlock()
		return
	}
	b.exports.remove(e)
	if a, isAvatar := e.obj.(*avatarRef); isAvatar && a.hasLogout() {
		b.cleanupLocked(a.runLogout)
	}
	if cache {
		b.cleanupLocked(func() { e.cache.StoppedObserving(e.observer.perspective, e.observer) })
	}
	b.mu.Unlock()
	if cache {
		b.w.send([]any{verbUncache, id})
	}
}

// cleanupLocked runs f (a logout, a Cacheable's StoppedObserving) on a
// worker, off the reader; shutdown waits for it, so that when a
// connection is done every cleanup has run. Call with b.mu held on an
// open broker.
func (b *Broker) cleanupLocked(f func()) {
	b.cleanups.Add(1)
	spawn(task{fn: func() {
		defer b.cleanups.Done()
		f()
	}})
}
