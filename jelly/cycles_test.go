package jelly

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
)

type node struct {
	Name     string `jelly:"name"`
	Children *Set   `jelly:"children"`
	Parent   *node  `jelly:"parent"`
	Keys     *Dict  `jelly:"keys,omitempty"`
}

func TestCycleThroughSetAndState(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("test.Node", &node{}); err != nil {
		t.Fatal(err)
	}
	opt := &Options{Registry: r}
	n := &node{Name: "root"}
	n.Children = NewSet(n)
	n.Parent = n
	sexp, err := Marshal(n, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"reference", int64(1), []any{"test.Node", []any{"dictionary",
		[]any{[]any{"unicode", "name"}, []any{"unicode", "root"}},
		[]any{[]any{"unicode", "children"}, []any{"set", []any{"dereference", int64(1)}}},
		[]any{[]any{"unicode", "parent"}, []any{"dereference", int64(1)}},
	}}}
	if !sexpEqual(sexp, want) {
		t.Fatalf("got %s", sexpString(sexp))
	}
	v, err := Unmarshal(sexp, opt)
	if err != nil {
		t.Fatal(err)
	}
	back := v.(*node)
	if back.Name != "root" || back.Parent != back || back.Children.Len() != 1 || back.Children.Items[0] != back {
		t.Fatalf("cycle lost: %+v", back)
	}
}

// Twisted inserts a dict pair whose value is still unknown only when it
// becomes known, which changes the order; so do we.
func TestPendingDictPairOrder(t *testing.T) {
	sexp := []any{"reference", int64(1), []any{"dictionary",
		[]any{[]any{"unicode", "self"}, []any{"dereference", int64(1)}},
		[]any{[]any{"unicode", "x"}, int64(1)},
	}}
	v, err := Unmarshal(sexp, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*Dict)
	keys := d.Keys()
	if len(keys) != 2 || keys[0] != "x" || keys[1] != "self" {
		t.Fatalf("keys %v, want [x self] as in Twisted", keys)
	}
	if s, _ := d.Get("self"); s != d {
		t.Fatal("self")
	}
}

func TestCycleThroughFuncState(t *testing.T) {
	sexp := []any{"reference", int64(1), []any{"list", []any{"custom.tag.Secret",
		[]any{"dictionary", []any{"public", []any{"dereference", int64(1)}}}}}}
	v, err := Unmarshal(sexp, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if _, ok := l[0].(secretState); !ok || len(l) != 1 {
		t.Fatalf("got %#v", v)
	}
}

func TestTupleCycleThroughSharedEmpty(t *testing.T) {
	// Every empty tuple is one object, as CPython's ().
	got, err := Marshal([]any{Tuple{}, Tuple(nil), make(Tuple, 0, 4)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"list", []any{"reference", int64(1), []any{"tuple"}}, []any{"dereference", int64(1)}, []any{"dereference", int64(1)}}
	if !sexpEqual(got, want) {
		t.Fatalf("got %s", sexpString(got))
	}
	// Empty lists are distinct objects unless shared.
	a := make([]any, 0, 1)
	got, _ = Marshal([]any{[]any{}, []any{}, a, a}, nil)
	want = []any{"list", []any{"list"}, []any{"list"}, []any{"reference", int64(1), []any{"list"}}, []any{"dereference", int64(1)}}
	if !sexpEqual(got, want) {
		t.Fatalf("got %s", sexpString(got))
	}
	v, _ := Unmarshal(want, nil)
	l := v.([]any)
	if !sameSlice(l[2], l[3]) || sameSlice(l[0], l[1]) {
		t.Fatal("sharing of empty lists")
	}
}

func TestHookSharing(t *testing.T) {
	opt := testOptions(t)
	s := []any{int64(1)}
	cache := &fakeCache{Tag: "vecmodel.Score", ID: 1, State: s}
	// State first marshaled inside the hook, repeated later: the hook's
	// copy is rewritten into the reference form.
	got, err := Marshal([]any{cache, s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"list", []any{"vecmodel.Score", int64(1), []any{"reference", int64(1), []any{"list", int64(1)}}}, []any{"dereference", int64(1)}}
	if !sexpEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", sexpString(got), sexpString(want))
	}
	v, err := Unmarshal(got, opt)
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if !sameSlice(l[0].(*fakeCache).State, l[1]) {
		t.Fatal("sharing across the hook lost")
	}
	// The other order.
	got, _ = Marshal([]any{s, cache}, opt)
	want = []any{"list", []any{"reference", int64(1), []any{"list", int64(1)}}, []any{"vecmodel.Score", int64(1), []any{"dereference", int64(1)}}}
	if !sexpEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", sexpString(got), sexpString(want))
	}
	// A cycle through a hook value cannot be rebuilt.
	_, err = Unmarshal([]any{"reference", int64(1), []any{"list", []any{"vecmodel.Score", int64(1), []any{"dereference", int64(1)}}}}, opt)
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("cycle through hook: %v", err)
	}
}

type (
	namedStr   string
	namedBytes []byte
	namedInt   int16
)

type tagged struct {
	A     int            `jelly:"a"`
	B     string         `jelly:"b,omitempty"`
	Skip  int            `jelly:"-"`
	Bytes []byte         `jelly:"raw"`
	Map   map[string]int `jelly:"m"`
	List  []string
	inner int
}

func TestMarshalGoTypes(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("t.Tagged", tagged{}); err != nil {
		t.Fatal(err)
	}
	opt := &Options{Registry: r}
	cases := []struct {
		in   any
		want any
	}{
		{int8(-3), int64(-3)},
		{uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{big.NewInt(7), int64(7)},
		{float32(1.5), 1.5},
		{map[string]any{"b": int64(1), "a": nil}, []any{"dictionary", []any{[]any{"unicode", "a"}, []any{"None"}}, []any{[]any{"unicode", "b"}, int64(1)}}},
		{[]string{"x"}, []any{"list", []any{"unicode", "x"}}},
		{map[string]int{"k": 2}, []any{"dictionary", []any{[]any{"unicode", "k"}, int64(2)}}},
		{(*tagged)(nil), []any{"None"}},
		{[]byte(nil), []byte{}},
		{Unpersistable{"why"}, []any{"unpersistable", "why"}},
		{Decimal{}, []any{"decimal", int64(0), int64(0)}},
		{namedStr("n"), []any{"unicode", "n"}},
		{namedBytes("r"), []byte("r")},
		{namedInt(-2), int64(-2)},
		{[]namedInt{1}, []any{"list", int64(1)}},
		{TimeDelta{Seconds: -1}, []any{"timedelta", "-1 86399 0"}},
		{tagged{A: 1, Skip: 9, inner: 3, List: []string{}}, []any{"t.Tagged", []any{"dictionary",
			[]any{[]any{"unicode", "a"}, int64(1)},
			[]any{[]any{"unicode", "raw"}, []byte{}},
			[]any{[]any{"unicode", "m"}, []any{"dictionary"}},
			[]any{[]any{"unicode", "List"}, []any{"list"}},
		}}},
	}
	for _, c := range cases {
		got, err := Marshal(c.in, opt)
		if err != nil || !sexpEqual(got, c.want) {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", c.in, sexpString(got), err, sexpString(c.want))
		}
	}
	var ee *EncodeError
	for _, bad := range []any{"\xff", make(chan int), (*big.Int)(nil), struct{ X int }{}, TimeDelta{Days: 1 << 40}, []any{func() {}}} {
		if _, err := Marshal(bad, opt); !errors.As(err, &ee) {
			t.Errorf("Marshal(%T) = %v, want *EncodeError", bad, err)
		}
	}
	// Registered values come back; unknown keys are ignored, bytes keys
	// accepted.
	v, err := Unmarshal([]any{"t.Tagged", []any{"dictionary",
		[]any{"a", int64(4)}, []any{[]any{"unicode", "b"}, []byte("bee")}, []any{"zzz", int64(1)},
		[]any{"m", []any{"dictionary", []any{[]any{"unicode", "q"}, int64(5)}}},
		[]any{"List", []any{"tuple", []any{"unicode", "s"}}}}}, opt)
	want := tagged{A: 4, B: "bee", Map: map[string]int{"q": 5}, List: []string{"s"}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v, %v", v, err)
	}
}

func TestConvert(t *testing.T) {
	var i8 int8
	var te *TypeError
	if err := Assign(&i8, int64(300)); !errors.As(err, &te) {
		t.Error("overflow accepted")
	}
	if err := Assign(&i8, int64(-5)); err != nil || i8 != -5 {
		t.Error(err)
	}
	var u uint
	if err := Assign(&u, int64(-1)); !errors.As(err, &te) {
		t.Error("negative to uint accepted")
	}
	var f float64
	if err := Assign(&f, int64(3)); err != nil || f != 3 {
		t.Error("int to float")
	}
	var ss []string
	if err := Assign(&ss, []any{"a", []byte("b")}); err != nil || !reflect.DeepEqual(ss, []string{"a", "b"}) {
		t.Error("[]string", err)
	}
	// Bytes fill a string only as UTF-8 text: a Go string must be able to
	// go back out as a Python str (found by FuzzUnmarshal).
	var str string
	if err := Assign(&str, []byte("caf\xc3\xa9")); err != nil || str != "café" {
		t.Error("UTF-8 bytes to string", str, err)
	}
	if err := Assign(&str, []byte{'a', 0x80}); !errors.As(err, &te) {
		t.Errorf("invalid UTF-8 bytes to string: %q, %v", str, err)
	}
	if err := Assign(&ss, []any{[]byte{0xff}}); !errors.As(err, &te) {
		t.Error("invalid UTF-8 bytes in a []string accepted")
	}
	var m map[string]int
	if err := Assign(&m, NewDict(Item{"a", int64(1)}, Item{[]byte("b"), int64(2)})); err != nil || m["a"] != 1 || m["b"] != 2 {
		t.Error("map", err)
	}
	var bi *big.Int
	if err := Assign(&bi, int64(9)); err != nil || bi.Int64() != 9 {
		t.Error("big")
	}
	var p *int
	if err := Assign(&p, int64(2)); err != nil || *p != 2 {
		t.Error("pointer")
	}
	var arr [2]int
	if err := Assign(&arr, Tuple{int64(1), int64(2)}); err != nil || arr != [2]int{1, 2} {
		t.Error("array")
	}
	if err := Assign(&arr, Tuple{int64(1)}); !errors.As(err, &te) {
		t.Error("short array")
	}
	var anyKeys map[any]int
	if err := Assign(&anyKeys, NewDict(Item{Tuple{int64(1)}, int64(1)})); !errors.As(err, &te) {
		t.Error("unhashable map key accepted")
	}
	if err := Assign(&anyKeys, NewDict(Item{"k", int64(1)})); err != nil || anyKeys["k"] != 1 {
		t.Error("map[any]int", err)
	}
	var x any
	if err := Assign(&x, "s"); err != nil || x != "s" {
		t.Error("any")
	}
	if err := Assign(i8, int64(1)); !errors.As(err, &te) {
		t.Error("non-pointer destination")
	}
	var n int
	if err := Assign(&n, nil); !errors.As(err, &te) {
		t.Error("None to int")
	}
}
