package jelly

import (
	"strings"
	"testing"
	"time"
)

// dagKey returns a tuple DAG of the given depth: level i is
// (level i-1, level i-1), the second one a dereference. Small on the wire,
// exponential when expanded.
func dagKey(depth int) any {
	var lvl any = []any{"reference", int64(1), []any{"tuple", int64(7)}}
	for i := 2; i <= depth; i++ {
		lvl = []any{"reference", int64(i), []any{"tuple", lvl, []any{"dereference", int64(i - 1)}}}
	}
	return lvl
}

// Keys shared through references cost their size once: hashing a DAG, or
// using one big key many times, stays fast.
func TestSharedKeysAreCheap(t *testing.T) {
	const depth = 60
	pairs := []any{"dictionary", []any{dagKey(depth), int64(1)}}
	for i := 0; i < 20000; i++ {
		pairs = append(pairs, []any{[]any{"dereference", int64(depth)}, int64(i)})
	}
	long := []any{"reference", int64(1000), []any{"unicode", strings.Repeat("x", 600000)}}
	pairs = append(pairs, []any{long, int64(0)})
	for i := 0; i < 20000; i++ {
		pairs = append(pairs, []any{[]any{"dereference", int64(1000)}, int64(i)})
	}
	start := time.Now()
	v, err := Unmarshal([]any{"list", pairs, []any{"set", []any{"dereference", int64(depth)}, []any{"dereference", int64(depth)}}}, &Options{MaxDepth: 1000})
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if d := l[0].(*Dict); d.Len() != 2 {
		t.Fatalf("dict has %d keys, want 2", d.Len())
	}
	if s := l[1].(*Set); s.Len() != 1 {
		t.Fatalf("set has %d items, want 1", s.Len())
	}
}

// A tuple still waiting for a cyclic value is not hashed early: the pair
// is inserted once the tuple is complete.
func TestIncompleteTupleKey(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("test.Node", &node{}); err != nil {
		t.Fatal(err)
	}
	// n = Node(name="n", parent=None); d = {(n,): 1, (None,): 2} inside n's
	// own state, so (n,) is incomplete while the dict is decoded.
	sexp := []any{"reference", int64(1), []any{"test.Node", []any{"dictionary",
		[]any{[]any{"unicode", "name"}, []any{"unicode", "n"}},
		[]any{[]any{"unicode", "keys"}, []any{"dictionary",
			[]any{[]any{"tuple", []any{"dereference", int64(1)}}, int64(1)},
			[]any{[]any{"tuple", []any{"None"}}, int64(2)},
		}},
	}}}
	v, err := Unmarshal([]any{"list", sexp, []any{"dereference", int64(1)}}, &Options{Registry: r})
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	n := l[0].(*node)
	if l[1] != n || n.Name != "n" || n.Keys.Len() != 2 {
		t.Fatalf("got %#v", l)
	}
	if v, _ := n.Keys.Get(Tuple{n}); v != int64(1) {
		t.Fatalf("(n,) -> %v", v)
	}
	if v, _ := n.Keys.Get(Tuple{nil}); v != int64(2) {
		t.Fatalf("(None,) -> %v", v)
	}
}
