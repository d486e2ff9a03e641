package pb

import (
	"fmt"
	"reflect"
)

// The proxies and caches this side holds for the peer's objects on one
// connection.

// heldCache is a peer's Cacheable that this side mirrors.
type heldCache struct {
	obj RemoteCache
}

func refID(sexp []any) (int64, error) {
	if len(sexp) != 2 {
		return 0, fmt.Errorf("pb: %s: %d elements, want 2", sexp[0], len(sexp))
	}
	id, ok := sexp[1].(int64)
	if !ok {
		return 0, fmt.Errorf("pb: reference id is not an int")
	}
	return id, nil
}

func (b *Broker) isHeldCache(v any) bool {
	if v == nil || reflect.TypeOf(v).Kind() != reflect.Pointer {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.cacheIDs[v]
	return ok
}

// importRef returns the proxy for the peer's object id. Every
// occurrence obliges one decref; a proxy already held answers the extra
// occurrence with a decref at once, so the peer's count stays at one per
// live proxy.
func (b *Broker) importRef(id int64) (ref *RemoteReference, created bool, err error) {
	b.mu.Lock()
	if r := b.imports[id]; r != nil {
		b.mu.Unlock()
		b.w.send([]any{verbDecref, id})
		return r, false, nil
	}
	if len(b.imports)+len(b.caches) >= b.cfg.MaxImports {
		b.mu.Unlock()
		return nil, false, protoErr(nil, "peer sent more than %d references", b.cfg.MaxImports)
	}
	r := &RemoteReference{b: b, id: id}
	if b.imports == nil {
		b.imports = make(map[int64]*RemoteReference)
	}
	b.imports[id] = r
	b.mu.Unlock()
	return r, true, nil
}

// uncache handles the peer forgetting a Cacheable this side mirrors.
func (b *Broker) uncache(idv any) {
	id, _ := idv.(int64)
	b.mu.Lock()
	h := b.caches[id]
	if h != nil {
		delete(b.caches, id)
		delete(b.cacheIDs, h.obj)
	}
	b.mu.Unlock()
	if h == nil {
		b.plog().Warn("pb: uncache of unknown id ignored", "peer", b.conn.RemoteAddr().String(), "id", id)
	}
}

// ReleaseCache tells the peer this side no longer needs the RemoteCache
// rc. The peer answers with uncache once every copy is released.
func (b *Broker) ReleaseCache(rc RemoteCache) error {
	if !hashable(rc) {
		return fmt.Errorf("pb: ReleaseCache: not a cache held on this connection")
	}
	b.mu.Lock()
	id, ok := b.cacheIDs[rc]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("pb: ReleaseCache: not a cache held on this connection")
	}
	return b.w.send([]any{verbDecache, id})
}
