package jelly

// Refs is the hook through which a broker (package pb) puts its own objects
// on the wire: Referenceables as `remote`, proxies sent home as `local`,
// Cacheables, and so on. jelly has no broker knowledge of its own.
//
// Marshal calls MarshalRef for every value that is not a basic jelly value
// (see the package documentation), before it tries [Copyable] and the
// [Registry]. ok == false means "not mine". The returned s-expression is
// used as is; to include jellied sub-values (a cacheable's state, say),
// marshal them with m.Marshal so that sharing and cycles span the whole
// value.
//
// Unmarshal calls UnmarshalRef for lists tagged remote, local, cached or
// lcache, and for any tag for which IsRefTag reports true (the broker's
// registered cacheable classes). sexp is the whole list: sexp[0] is the tag
// (a []byte or string), the rest its arguments, undecoded. Use u.Unmarshal
// for jellied parts. Without a Refs hook these tags are refused with
// *InsecureError.
//
// m and u are valid only until the method returns: Marshal and Unmarshal
// reuse them for later calls. Do not keep them.
type Refs interface {
	MarshalRef(m *Marshaler, v any) (sexp any, ok bool, err error)
	UnmarshalRef(u *Unmarshaler, tag string, sexp []any) (v any, err error)
	IsRefTag(tag string) bool
}

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is 0.
const DefaultMaxDepth = 100

// Options configure one Marshal or Unmarshal call. A nil *Options means
// no registry, no broker hook and the default depth limit.
type Options struct {
	Registry *Registry // allowed copy classes; nil = none
	Refs     Refs      // nil outside pb: remote/local/... are then refused
	MaxDepth int       // default 100
}

func (o *Options) maxDepth() int {
	if o == nil || o.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

func (o *Options) copy() Options {
	if o == nil {
		return Options{MaxDepth: DefaultMaxDepth}
	}
	c := *o
	c.MaxDepth = o.maxDepth()
	return c
}

func isBrokerTag(tag string) bool {
	switch tag {
	case TagRemote, TagLocal, TagCached, TagLCache:
		return true
	}
	return false
}
