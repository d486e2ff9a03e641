package jelly

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The expected strings were produced by CPython 3's
// bytes.decode("utf-8", "replace").
func TestLossyMatchesPython(t *testing.T) {
	cases := []struct{ in, want string }{
		{"abc", "abc"},
		{"\xe2\x82", "\ufffd"},
		{"a\xe2\x82b", "a\ufffdb"},
		{"\xff\xfe", "\ufffd\ufffd"},
		{"\xe0\x80\x80", "\ufffd\ufffd\ufffd"},
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"},
		{"\xf0\x9f\x98", "\ufffd"},
		{"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"},
		{"\xc3", "\ufffd"},
		{"ok \xc3\xa9 \xe2\x82\xac\xe2", "ok é €\ufffd"},
		{"\xf0\x9f\x98\x80\x80", "😀\ufffd"},
	}
	for _, c := range cases {
		if got := Lossy(c.in); got != c.want {
			t.Errorf("Lossy(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

type bindEnv struct {
	CC string
}

type bindCmd struct {
	Workdir string
	Command []string
	Env     map[string]string `jelly:"env"`
	Timeout int               `jelly:"timeout,required"`
	Nested  *bindEnv          `jelly:"nested"`
	Skip    string            `jelly:"-"`
}

func TestConvertDictToStruct(t *testing.T) {
	d := NewDict(
		Item{"workdir", []byte("build")},
		Item{"command", []any{"make", "-j4"}},
		Item{"env", NewDict(Item{"CC", "gcc"})},
		Item{"timeout", int64(1200)},
		Item{"nested", NewDict(Item{"cc", "clang"})},
		Item{"Skip", "x"},
		Item{"unknown", 1.5},
	)
	var c bindCmd
	if err := Assign(&c, d); err != nil {
		t.Fatal(err)
	}
	want := bindCmd{Workdir: "build", Command: []string{"make", "-j4"}, Env: map[string]string{"CC": "gcc"}, Timeout: 1200, Nested: &bindEnv{CC: "clang"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

func TestConvertDictErrorsNamePath(t *testing.T) {
	cases := []struct {
		d    *Dict
		path string
		msg  string
	}{
		{NewDict(Item{"timeout", int64(1)}, Item{"env", NewDict(Item{"CC", int64(3)})}), `["env"]["CC"]`, "int64 to string"},
		{NewDict(Item{"timeout", int64(1)}, Item{"command", []any{"make", 4.5}}), `["command"][1]`, "float64 to string"},
		{NewDict(Item{"timeout", int64(1)}, Item{"nested", NewDict(Item{"CC", true})}), `["nested"]["CC"]`, "bool to string"},
		{NewDict(Item{"timeout", "soon"}), `["timeout"]`, "string to int"},
		{NewDict(Item{"workdir", "x"}), ``, `missing required key "timeout"`},
	}
	for _, c := range cases {
		_, err := Convert(c.d, reflect.TypeFor[bindCmd]())
		var te *TypeError
		if !errors.As(err, &te) {
			t.Fatalf("%v: error %v is not a *TypeError", c.path, err)
		}
		if te.Path != c.path || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("error %q (path %q), want path %q and %q", err, te.Path, c.path, c.msg)
		}
	}
}

// A dict that contains itself, bound to a recursive struct, ends at the
// depth limit with a TypeError instead of recursing for ever.
func TestConvertCyclicDictToStruct(t *testing.T) {
	d := NewDict(Item{"name", "root"})
	d.Set("up", d)
	_, err := Convert(d, reflect.TypeFor[fuzzTree]())
	var te *TypeError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "too deeply nested") {
		t.Fatalf("err = %v", err)
	}
}
