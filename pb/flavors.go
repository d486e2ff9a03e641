package pb

import (
	"context"
	"sync"
)

// Referenceable marks a type whose values travel by reference: embed it
// in a struct and pass a pointer to that struct. The peer receives a
// RemoteReference; its calls run the methods named Remote<Name>, for
// example RemoteEcho for the Python call ref.callRemote("echo", x).
type Referenceable struct{}

func (Referenceable) pbFlavor() flavor { return flavorReferenceable }

// Viewable marks a type shared by several users that needs to know who
// is calling: embed it and pass a pointer. Each perspective gets its
// own reference (a view point); calls run View<Name> methods, which
// receive the calling perspective (the avatar) after the context.
type Viewable struct{}

func (Viewable) pbFlavor() flavor { return flavorViewable }

// Avatar may be embedded in a realm's avatar type for documentation;
// any non-nil value a realm returns is an avatar. Calls on an avatar run
// its Perspective<Name> methods.
type Avatar struct{}

type flavor int

const (
	flavorNone flavor = iota
	flavorReferenceable
	flavorViewable
)

type flavored interface{ pbFlavor() flavor }

// Cacheable is implemented by values that are copied to the peer once
// and then kept up to date: the peer gets a RemoteCache registered
// under JellyType, filled from CacheState, and receives updates sent
// through the Observer.
type Cacheable interface {
	// JellyType is the Python type tag, e.g. "vecmodel.Score".
	JellyType() string
	// CacheState returns the state to send when the value first goes to
	// a connection; from then on o observes it.
	CacheState(perspective any, o *Observer) any
	// StoppedObserving is called when the peer has released every copy.
	StoppedObserving(perspective any, o *Observer)
}

// RemoteCache is the receiving side of a Cacheable. Register a
// constructor in Config.Caches. Updates arrive as calls to methods named
// Observe<Name>.
type RemoteCache interface {
	SetCacheState(state any) error
}

// Observer is one connection's view of a Cacheable: the owner sends
// updates through it.
type Observer struct {
	b           *Broker
	id          int64
	perspective any
}

// CallRemote calls observe_<method> on the peer's RemoteCache and waits
// for the answer.
func (o *Observer) CallRemote(ctx context.Context, method string, args ...any) (any, error) {
	return o.b.call(ctx, verbCacheMessage, o.id, method, args, true, o.perspective)
}

// Notify calls observe_<method> on the peer's RemoteCache without
// waiting for an answer.
func (o *Observer) Notify(method string, args ...any) error {
	_, err := o.b.call(context.Background(), verbCacheMessage, o.id, method, args, false, o.perspective)
	return err
}

// Broker returns the observer's connection.
func (o *Observer) Broker() *Broker { return o.b }

// viewPoint is what a Viewable becomes for one perspective.
type viewPoint struct {
	perspective any
	view        any
}

// avatarRef is what a realm's avatar becomes on the wire.
type avatarRef struct {
	avatar any
	logout func()
	mind   *RemoteReference
	once   sync.Once
}

// CopyableFor is implemented by Copyable values whose state depends on
// who receives it, like Twisted's getStateToCopyFor.
type CopyableFor interface {
	JellyType() string
	JellyStateFor(perspective any) any
}
