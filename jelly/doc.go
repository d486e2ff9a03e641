// Package jelly converts Go values to and from jelly, the object
// serialization of Twisted's Perspective Broker, wire-compatible with
// Twisted 22.4. The protocol is described in the repository's
// docs/protocol.md, section 2.
//
// jelly works on s-expressions, not bytes: [Marshal] returns, and
// [Unmarshal] takes, nested []any lists whose leaves are int64, *big.Int,
// float64 and byte strings. Package banana turns those into wire bytes; the
// two packages do not import each other. Byte strings produced here are Go
// string (tags such as "list", the payload of a unicode form) or []byte
// (Python bytes values); the decoder accepts either type anywhere. Where a
// byte string atom is a value, not a tag, it is Python bytes and decodes to
// []byte whatever its Go type: Banana's pb dialect delivers bytes equal to a
// vocabulary word (b"list") as a shared Go string, and Unmarshal then
// returns a fresh copy. Other []byte atoms are returned as they are (not
// copied), and a string payload of a unicode form is used as it is.
//
// # Mapping
//
//	Python 22.4          wire form                        Go (decoded)          Go (also accepted by Marshal)
//	None                 [None]                           nil                   nil pointer of a registered/Copyable type
//	bool                 [boolean, true|false]            bool
//	int                  INT / LONGINT atom               int64, or *big.Int    int, int8..int64, uint8..uint64, uint
//	                                                      when it does not fit
//	float                FLOAT atom                       float64               float32
//	str                  [unicode, utf-8]                 string                (must be valid UTF-8)
//	bytes                STRING atom                      []byte                (nil []byte is b"")
//	list                 [list, e...]                     []any                 any other slice or array ([]string, ...)
//	tuple                [tuple, e...]                    Tuple
//	dict                 [dictionary, [k, v]...]          *Dict (ordered)       map[string]any and map[string]T, str keys
//	                                                                            in sorted order; nil *Dict is {}
//	set / frozenset      [set|frozenset, e...]            *Set{Items, Frozen}
//	decimal.Decimal      [decimal, digits, exponent]      Decimal
//	datetime (naive)     [datetime, "Y M D h m s us"]     DateTime
//	date                 [date, "Y M D"]                  Date
//	time (naive)         [time, "h m s us"]               Time
//	timedelta            [timedelta, "d s us"]            TimeDelta (normalized)
//	Unpersistable        [unpersistable, reason]          Unpersistable         ([persistent, ...] also decodes to one)
//	Copyable instance    [ClassName, state]               registered Go type    Copyable, registered struct or *struct
//	PB references        [remote|local|cached|lcache ...] whatever Options.Refs  whatever Options.Refs accepts
//
// Marshal also accepts named Go types whose underlying type is a string,
// bool, integer, float or []byte (sent as that basic value). Other Go types
// are refused with *EncodeError. [Convert] and [Assign] turn decoded values
// into typed Go values (ints of any size with overflow checks, string and
// []byte interchangeably, except that bytes fill a string only when they
// are valid UTF-8; slices, arrays, maps, pointers, and structs from dicts),
// and say where in a nested value a mismatch is. [Lossy] makes text that
// is not valid UTF-8 sendable as a str, as Python's errors="replace".
//
// A value that goes Python -> Go -> Python comes back with the same Python
// type: a tuple stays a Tuple, bytes stay []byte and str stays string, a set
// stays a *Set (frozen or not), and shared sub-objects stay shared.
//
// Dict keys follow Python's equality ([KeyEqual]): "a" and []byte("a") are
// different keys; int64(5) and big.NewInt(5) are the same key, as are
// True, 1 and 1.0; Tuple keys compare element-wise and frozensets as sets.
// Decoded dicts and sets refuse unhashable keys and elements (lists, dicts,
// mutable sets) as Python does, and drop duplicate set elements.
//
// # Shared and cyclic values
//
// Lists, tuples, dicts, sets and instances are identity-tracked, as in
// Twisted. When Marshal meets one a second time (shared, or inside itself:
// a cycle), the first occurrence is rewritten in place into
// [reference, id, value] and every repeat becomes [dereference, id]. Ids
// count from 1 per Marshal call, in the order of first repeat, so the
// output is byte-identical to Twisted's for the same structure.
//
// The identity of a []any or Tuple is its backing array and length; a
// slice with no capacity has none (each occurrence is a new empty list).
// Every empty Tuple is the same object, like CPython's (), so two empty
// tuples in one value are sent as a reference exactly as Twisted does. The
// identity of a *Dict, *Set, map or pointer is its address. Strings, bytes,
// numbers, decimals and dates are never tracked.
//
// Unmarshal rebuilds shared values as shared (the same slice, *Dict, *Set or
// pointer) and cycles through lists, tuples, dicts, sets and instance state
// by patching placeholders once the referenced value is complete. As in
// Twisted, a dict pair whose key or value is still incomplete is inserted
// when it completes. A dereference that is never bound is a *DecodeError
// (Twisted leaves a junk placeholder). Referenced empty lists get capacity
// 1 so that their identity survives another Marshal.
//
// # Classes
//
// A [Registry] maps Python class names to Go types in both directions.
// [Registry.Register] maps a struct type: it is sent as
// [ClassName, [dictionary, [[unicode, field], value]...]] and a received
// state dict fills a new value (a pointer if the prototype was one).
// [Registry.RegisterFunc] accepts a class name and builds the value with a
// function. A Go value implementing [Copyable] is sent with its own tag and
// state; to receive that tag it must be registered too.
//
// # Security
//
// Unmarshal creates only the Go types listed above and types registered in
// Options.Registry. It decodes a list only if its tag is one of the built-in
// forms (None boolean unicode list tuple dictionary set frozenset decimal
// datetime date time timedelta reference dereference unpersistable
// persistent), a broker form handled by Options.Refs, or a registered class
// name. Everything else is refused with *InsecureError naming the tag:
// class, module, function, method, instance, any unregistered dotted class
// name, and names that Twisted's allow-list accepts but cannot decode
// (long, dict, copy, NoneType, ...). Malformed forms (a boolean payload
// other than true/false, a dictionary pair that is not a 2-element list,
// invalid UTF-8 in unicode, a bad date, a dangling dereference, ...) are
// *DecodeError. Nesting deeper than Options.MaxDepth (default 100
// containers: lists, tuples, dicts, sets, instances and broker forms;
// reference wrappers do not count) is a *DepthError, on both sides. The
// canonical form of a single dict key or set element is bounded, so that a
// small input cannot make hashing take exponential time.
//
// # The broker hook
//
// jelly knows nothing about brokers. Package pb implements [Refs] and sets
// Options.Refs: Marshal offers it every value that is not a basic jelly
// value before trying Copyable and the registry, and Unmarshal hands it the
// lists tagged remote, local, cached and lcache and any tag for which
// Refs.IsRefTag is true (registered cacheables). Hooks marshal and decode
// nested jelly through the *Marshaler and *Unmarshaler they receive, so
// that references and cycles span the whole value. With Options.Refs nil,
// the broker tags are refused with *InsecureError.
//
// jelly starts no goroutines and keeps no global state other than pools
// (sync.Pool) of scratch state that Marshal and Unmarshal reuse between
// calls; this is why a hook may use the *Marshaler or *Unmarshaler it
// receives only until it returns. A Registry is safe for concurrent use.
package jelly
