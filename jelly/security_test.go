package jelly

import (
	"errors"
	"testing"
)

func TestRefusedTags(t *testing.T) {
	opt := &Options{Registry: testRegistry(t)}
	for _, tag := range []string{
		"class", "module", "function", "method", "instance", "long", "long_int", "dict",
		"copy", "NoneType", "bool", "str", "string", "int", "float", "frobnicate",
		"os.system", "builtins.object", "vecmodel.Plain", "twisted.spread.pb.CopyableFailure",
		"remote", "local", "cached", "lcache", "", "vecmodel.point",
	} {
		for _, form := range []any{[]byte(tag), tag} {
			_, err := Unmarshal([]any{form, []any{"dictionary"}}, opt)
			var ie *InsecureError
			if !errors.As(err, &ie) || ie.Tag != tag {
				t.Errorf("tag %q: err = %v, want InsecureError naming it", tag, err)
			}
		}
	}
	// Nested deep inside an allowed value, still refused.
	_, err := Unmarshal([]any{"list", []any{"tuple", []any{"class", "builtins.int"}}}, opt)
	var ie *InsecureError
	if !errors.As(err, &ie) || ie.Tag != "class" {
		t.Fatalf("nested class: %v", err)
	}
	if (&InsecureError{Tag: "class"}).Error() != `jelly: insecure type "class"` {
		t.Fatal("message")
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string]any{
		"bool payload":       []any{"boolean", "True"},
		"bool missing":       []any{"boolean"},
		"bool not bytes":     []any{"boolean", int64(1)},
		"unicode bad utf8":   []any{"unicode", []byte{0xed, 0xa0, 0x80}}, // surrogate
		"unicode missing":    []any{"unicode"},
		"pair length 1":      []any{"dictionary", []any{int64(1)}},
		"pair length 3":      []any{"dictionary", []any{int64(1), int64(2), int64(3)}},
		"pair not list":      []any{"dictionary", "ab"},
		"unhashable key":     []any{"dictionary", []any{[]any{"list"}, int64(1)}},
		"unhashable in set":  []any{"set", []any{"dictionary"}},
		"dangling deref":     []any{"list", []any{"dereference", int64(9)}},
		"top deref":          []any{"dereference", int64(9)},
		"double reference":   []any{"list", []any{"reference", int64(1), int64(5)}, []any{"reference", int64(1), int64(6)}},
		"reference short":    []any{"reference", int64(1)},
		"decimal float":      []any{"decimal", 1.5, int64(0)},
		"decimal str exp":    []any{"decimal", int64(1), "F"},
		"datetime month 13":  []any{"datetime", "2024 13 1 0 0 0 0"},
		"date 2 fields":      []any{"date", "2024 1"},
		"date feb 30":        []any{"date", "2023 2 29"},
		"time 25h":           []any{"time", "25 0 0 0"},
		"timedelta 2 fields": []any{"timedelta", "1 2"},
		"timedelta overflow": []any{"timedelta", "1000000000 0 0"},
		"datetime junk":      []any{"datetime", "2024 1 x"},
		"empty list":         []any{},
		"int tag":            []any{int64(1), int64(2)},
		"state not dict":     []any{"vecmodel.Point", []any{"list"}},
		"state missing":      []any{"vecmodel.Point"},
		"field type":         []any{"vecmodel.Point", []any{"dictionary", []any{[]any{"unicode", "x"}, []any{"unicode", "one"}}}},
		"odd atom":           []any{"list", struct{}{}},
		"unpersistable int":  []any{"unpersistable", int64(1)},
		"bytes reference id": []any{"reference", []byte("k"), []any{"list"}},
	}
	opt := &Options{Registry: testRegistry(t)}
	for name, sexp := range cases {
		_, err := Unmarshal(sexp, opt)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want *DecodeError", name, err)
		}
	}
}

func TestLenientForms(t *testing.T) {
	// Accepted as Twisted accepts them.
	cases := []struct {
		sexp any
		want any
	}{
		{[]any{"None", int64(1)}, nil},
		{[]any{"time", ""}, Time{}},
		{[]any{"datetime", " 2024\t1  2 "}, DateTime{2024, 1, 2, 0, 0, 0, 0}},
		{[]any{"timedelta", "0 -1 0"}, TimeDelta{-1, 86399, 0}},
		{[]any{"timedelta", "0 0 1_000_000"}, TimeDelta{0, 1, 0}},
		{[]any{"set", int64(1), []any{"boolean", "true"}, 1.0}, &Set{Items: []any{int64(1)}}},
		{[]any{[]byte("unicode"), "x"}, "x"},
		{"raw", []byte("raw")},
	}
	for _, c := range cases {
		got, err := Unmarshal(c.sexp, nil)
		if err != nil || !equal(got, c.want, true) {
			t.Errorf("%s: got %#v, %v; want %#v", sexpString(c.sexp), got, err, c.want)
		}
	}
}

func nested(n int, leaf any) any {
	v := leaf
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return v
}

func nestedSexp(n int) any {
	var v any = int64(1)
	for i := 0; i < n; i++ {
		v = []any{"list", v}
	}
	return v
}

func TestMaxDepth(t *testing.T) {
	for _, max := range []int{0, 5, 100} {
		limit := max
		if limit == 0 {
			limit = DefaultMaxDepth
		}
		opt := &Options{MaxDepth: max}
		if _, err := Marshal(nested(limit, int64(1)), opt); err != nil {
			t.Errorf("max %d: Marshal at the limit: %v", max, err)
		}
		var de *DepthError
		if _, err := Marshal(nested(limit+1, int64(1)), opt); !errors.As(err, &de) || de.Max != limit {
			t.Errorf("max %d: Marshal over the limit: %v", max, err)
		}
		if _, err := Unmarshal(nestedSexp(limit), opt); err != nil {
			t.Errorf("max %d: Unmarshal at the limit: %v", max, err)
		}
		if _, err := Unmarshal(nestedSexp(limit+1), opt); !errors.As(err, &de) || de.Max != limit {
			t.Errorf("max %d: Unmarshal over the limit: %v", max, err)
		}
	}
	// Dicts, tuples, sets and instances count too; references do not.
	deep := any(int64(1))
	for i := 0; i < 101; i++ {
		switch i % 4 {
		case 0:
			deep = NewDict(Item{"k", deep})
		case 1:
			deep = Tuple{deep}
		case 2:
			deep = []any{deep, deep}
		case 3:
			deep = NewFrozenSet(deep)
		}
	}
	var de *DepthError
	if _, err := Marshal(deep, nil); !errors.As(err, &de) {
		t.Errorf("mixed nesting: %v", err)
	}
	// Very deep input neither overflows the stack nor takes long.
	if _, err := Unmarshal(nestedSexp(100_000), nil); !errors.As(err, &de) {
		t.Errorf("huge nesting: %v", err)
	}
}

// Nothing in incoming data creates a Go type that was not registered.
func TestOnlyRegisteredTypes(t *testing.T) {
	sexp := []any{"vecmodel.Point", []any{"dictionary", []any{"x", int64(3)}}}
	if _, err := Unmarshal(sexp, nil); err == nil {
		t.Fatal("decoded a class without a registry")
	}
	r := NewRegistry()
	if err := r.Register("vecmodel.Point", Point{}); err != nil {
		t.Fatal(err)
	}
	v, err := Unmarshal(sexp, &Options{Registry: r})
	if err != nil || v != (Point{X: 3}) {
		t.Fatalf("value proto: %#v %v", v, err)
	}
	if !r.Allowed("vecmodel.Point") || r.Allowed("vecmodel.Plain") || (*Registry)(nil).Allowed("x") {
		t.Fatal("Allowed")
	}
}

func TestRegistryErrors(t *testing.T) {
	r := NewRegistry()
	var re *RegisterError
	for _, c := range []struct {
		name  string
		proto any
	}{{"", Point{}}, {"list", Point{}}, {"remote", Point{}}, {"class", Point{}}, {"x.Int", 5}, {"x.Nil", nil}} {
		if err := r.Register(c.name, c.proto); !errors.As(err, &re) {
			t.Errorf("Register(%q, %T) = %v", c.name, c.proto, err)
		}
	}
	if err := r.Register("a.P", &Point{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("a.P", &secretState{}); !errors.As(err, &re) {
		t.Error("duplicate name accepted")
	}
	if err := r.Register("b.P", Point{}); !errors.As(err, &re) {
		t.Error("duplicate type accepted")
	}
	if err := r.RegisterFunc("a.P", func(any) (any, error) { return nil, nil }); !errors.As(err, &re) {
		t.Error("duplicate func accepted")
	}
	if err := r.RegisterFunc("c.F", nil); !errors.As(err, &re) {
		t.Error("nil func accepted")
	}
	if name, ok := r.NameOf(Point{}); !ok || name != "a.P" {
		t.Error("NameOf")
	}
}
