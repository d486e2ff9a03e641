// Package echo is the echo service that the tests and the benchmark
// harness drive. Its Python twin is internal/pypeer/py/echo_server.py;
// both behave the same. examples/echoserver serves its own copy of the
// server side, so that the example imports no internal package; keep the
// two alike.
package echo

import (
	"context"
	"fmt"
	"sync"

	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// Python type tags of the echo service's Copyable and Cacheable.
const (
	PointTag   = "spread.test.Point"
	CounterTag = "spread.test.Counter"
)

// Point is a Copyable: it travels as [PointTag, {"x": x, "y": y}].
type Point struct {
	X int64 `jelly:"x"`
	Y int64 `jelly:"y"`
}

// Registry returns a registry with Point registered.
func Registry() *jelly.Registry {
	r := jelly.NewRegistry()
	if err := r.Register(PointTag, &Point{}); err != nil {
		panic(err)
	}
	return r
}

// Config returns the server configuration of the echo service.
func Config() *pb.Config {
	return &pb.Config{
		Root:     func(b *pb.Broker) any { return NewRoot() },
		Registry: Registry(),
	}
}

// Root is the echo service's root object, one per connection.
type Root struct {
	pb.Referenceable
	child   *Child
	counter *Counter
}

// NewRoot returns a root with its child and counter.
func NewRoot() *Root {
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
func (r *Root) RemoteIncrement(ctx context.Context) int64 { return r.counter.Increment() }

// Child is the Referenceable that ref() returns.
type Child struct{ pb.Referenceable }

// RemoteAdd returns a + b.
func (c *Child) RemoteAdd(a, b int64) int64 { return a + b }

// Counter is a Cacheable integer.
type Counter struct {
	mu        sync.Mutex
	value     int64
	observers map[*pb.Observer]struct{}
}

// JellyType returns CounterTag.
func (c *Counter) JellyType() string { return CounterTag }

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

// Increment adds one and sends setValue to every observer.
func (c *Counter) Increment() int64 {
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

// RemoteCounter is the Go mirror of a Counter.
type RemoteCounter struct {
	mu      sync.Mutex
	value   int64
	Updates chan int64 // receives every observed value; buffered
}

// NewRemoteCounter is the constructor to list in Config.Caches.
func NewRemoteCounter() pb.RemoteCache { return &RemoteCounter{Updates: make(chan int64, 16)} }

// SetCacheState takes the initial {"value": n}.
func (c *RemoteCounter) SetCacheState(state any) error {
	d, ok := state.(*jelly.Dict)
	if !ok {
		return fmt.Errorf("echo: counter state is %T", state)
	}
	v, _ := d.Get("value")
	n, ok := v.(int64)
	if !ok {
		return fmt.Errorf("echo: counter value is %T", v)
	}
	c.mu.Lock()
	c.value = n
	c.mu.Unlock()
	return nil
}

// ObserveSetValue receives an update.
func (c *RemoteCounter) ObserveSetValue(v int64) {
	c.mu.Lock()
	c.value = v
	c.mu.Unlock()
	select {
	case c.Updates <- v:
	default:
	}
}

// Value returns the mirrored value.
func (c *RemoteCounter) Value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// ClientConfig returns a client configuration that understands the echo
// service's Point and Counter.
func ClientConfig() *pb.Config {
	return &pb.Config{
		Registry: Registry(),
		Caches:   map[string]func() pb.RemoteCache{CounterTag: NewRemoteCounter},
	}
}
