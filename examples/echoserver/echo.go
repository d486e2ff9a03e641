package main

import (
	"context"
	"sync"

	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// Python type tags of the echo service's Copyable and Cacheable.
const (
	pointTag   = "spread.test.Point"
	counterTag = "spread.test.Counter"
)

// Point is a Copyable: it travels as [pointTag, {"x": x, "y": y}].
type Point struct {
	X int64 `jelly:"x"`
	Y int64 `jelly:"y"`
}

// config returns the server configuration of the echo service: a root
// object per connection, and a registry that knows Point.
func config() (*pb.Config, error) {
	reg := jelly.NewRegistry()
	if err := reg.Register(pointTag, &Point{}); err != nil {
		return nil, err
	}
	return &pb.Config{
		Root:     func(b *pb.Broker) any { return newRoot() },
		Registry: reg,
	}, nil
}

// Root is the echo service's root object, one per connection.
type Root struct {
	pb.Referenceable
	child   *Child
	counter *Counter
}

func newRoot() *Root {
	return &Root{child: &Child{}, counter: &Counter{observers: map[*pb.Observer]struct{}{}}}
}

// RemoteEcho returns its argument.
func (r *Root) RemoteEcho(x any) any { return x }

// EchoKwArgs are echoKw's parameters.
type EchoKwArgs struct {
	A any `pb:"a"`
	B any `pb:"b,default=default"`
}

// RemoteEchoKw returns [a, b].
func (r *Root) RemoteEchoKw(a EchoKwArgs) []any { return []any{a.A, a.B} }

// RemoteFail fails with a ValueError carrying message.
func (r *Root) RemoteFail(message string) error { return pb.ValueError(message) }

// RemoteRef returns the root's child.
func (r *Root) RemoteRef() *Child { return r.child }

// RemoteSame reports whether x is the root's child, come home.
func (r *Root) RemoteSame(x any) bool {
	c, ok := x.(*Child)
	return ok && c == r.child
}

// RemoteCallback calls obj.echo(value) on the caller's object and
// returns the result.
func (r *Root) RemoteCallback(ctx context.Context, obj *pb.RemoteReference, value any) (any, error) {
	if obj == nil {
		return nil, pb.TypeError("callback() needs an object")
	}
	return obj.CallRemote(ctx, "echo", value)
}

// RemotePoint returns a Point copy.
func (r *Root) RemotePoint(x, y int64) *Point { return &Point{X: x, Y: y} }

// RemotePointSum adds the coordinates of a Point sent by copy.
func (r *Root) RemotePointSum(p *Point) (int64, error) {
	if p == nil {
		return 0, pb.TypeError("pointSum() needs a Point")
	}
	return p.X + p.Y, nil
}

// RemoteCounter returns the root's Cacheable counter.
func (r *Root) RemoteCounter() *Counter { return r.counter }

// RemoteIncrement adds one to the counter and tells every observer.
func (r *Root) RemoteIncrement(ctx context.Context) int64 { return r.counter.increment() }

// Child is the Referenceable that ref() returns.
type Child struct{ pb.Referenceable }

// RemoteAdd returns a + b.
func (c *Child) RemoteAdd(a, b int64) int64 { return a + b }

// Counter is a Cacheable integer: every observer hears setValue(n).
type Counter struct {
	mu        sync.Mutex
	value     int64
	observers map[*pb.Observer]struct{}
}

// JellyType returns counterTag.
func (c *Counter) JellyType() string { return counterTag }

// CacheState returns {"value": n} and starts observing.
func (c *Counter) CacheState(perspective any, o *pb.Observer) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observers[o] = struct{}{}
	return map[string]any{"value": c.value}
}

// StoppedObserving forgets o.
func (c *Counter) StoppedObserving(perspective any, o *pb.Observer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.observers, o)
}

func (c *Counter) increment() int64 {
	c.mu.Lock()
	c.value++
	v := c.value
	obs := make([]*pb.Observer, 0, len(c.observers))
	for o := range c.observers {
		obs = append(obs, o)
	}
	c.mu.Unlock()
	for _, o := range obs {
		o.Notify("setValue", v)
	}
	return v
}
