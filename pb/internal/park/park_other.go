//go:build !linux

package park

// Parker parks nothing outside Linux: Park reports false, and the caller
// goes on waiting on a goroutine of its own.
type Parker[T any] struct{}

// New returns a Parker; wake is never called.
func New[T any](wake func(T)) *Parker[T]     { return &Parker[T]{} }
func (p *Parker[T]) Start()                  {}
func (p *Parker[T]) Park(slot *Slot[T]) bool { return false }
func (p *Parker[T]) Unpark(slot *Slot[T])    {}
func (p *Parker[T]) Count() int              { return 0 }
