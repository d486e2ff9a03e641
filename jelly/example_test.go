package jelly_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gospread/spread/jelly"
)

// show formats an s-expression like Python's repr of it.
func show(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return fmt.Sprintf("b%q", x)
	case []byte:
		return fmt.Sprintf("b%q", x)
	}
	return fmt.Sprint(v)
}

func ExampleMarshal() {
	kwargs := jelly.NewDict(
		jelly.Item{Key: "b", Value: 2},
		jelly.Item{Key: "c", Value: "x"},
	)
	sexp, err := jelly.Marshal(jelly.Tuple{12, []byte("raw"), kwargs}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(show(sexp))
	// Output:
	// [b"tuple", 12, b"raw", [b"dictionary", [[b"unicode", b"b"], 2], [[b"unicode", b"c"], [b"unicode", b"x"]]]]
}

func ExampleMarshal_shared() {
	a := []any{1}
	sexp, _ := jelly.Marshal([]any{a, a}, nil)
	fmt.Println(show(sexp))
	// Output:
	// [b"list", [b"reference", 1, [b"list", 1]], [b"dereference", 1]]
}

func ExampleUnmarshal() {
	// As a Banana decoder delivers it: byte strings are []byte.
	sexp := []any{[]byte("dictionary"),
		[]any{[]any{[]byte("unicode"), []byte("a")}, int64(1)},
		[]any{[]byte("a"), []any{[]byte("tuple"), 2.5, []any{[]byte("None")}}},
	}
	v, err := jelly.Unmarshal(sexp, nil)
	if err != nil {
		panic(err)
	}
	for k, val := range v.(*jelly.Dict).All() {
		fmt.Printf("%T %q -> %T %v\n", k, k, val, val)
	}
	// Output:
	// string "a" -> int64 1
	// []uint8 "a" -> jelly.Tuple [2.5 <nil>]
}

func ExampleUnmarshal_insecure() {
	_, err := jelly.Unmarshal([]any{"class", "os.system"}, nil)
	var ie *jelly.InsecureError
	fmt.Println(errors.As(err, &ie), err)
	// Output:
	// true jelly: insecure type "class"
}

type Point struct {
	X     int    `jelly:"x"`
	Y     int    `jelly:"y"`
	Label string `jelly:"label"`
}

func ExampleRegistry_Register() {
	reg := jelly.NewRegistry()
	if err := reg.Register("vecmodel.Point", &Point{}); err != nil {
		panic(err)
	}
	opt := &jelly.Options{Registry: reg}
	sexp, _ := jelly.Marshal(&Point{1, 2, "p"}, opt)
	fmt.Println(show(sexp))
	v, _ := jelly.Unmarshal(sexp, opt)
	fmt.Printf("%+v\n", v)
	// Output:
	// [b"vecmodel.Point", [b"dictionary", [[b"unicode", b"x"], 1], [[b"unicode", b"y"], 2], [[b"unicode", b"label"], [b"unicode", b"p"]]]]
	// &{X:1 Y:2 Label:p}
}

func ExampleDict() {
	d := &jelly.Dict{}
	d.Set("k", 1)
	d.Set([]byte("k"), 2) // bytes key: a different key, as in Python
	d.Set(jelly.Tuple{1, 2}, 3)
	v, _ := d.Get(jelly.Tuple{int64(1), int64(2)})
	fmt.Println(d.Len(), v)
	// Output:
	// 3 3
}

func ExampleDecimal() {
	d, _ := jelly.ParseDecimal("3.14")
	sexp, _ := jelly.Marshal(d, nil)
	fmt.Println(show(sexp), d)
	// Output:
	// [b"decimal", 314, -2] 3.14
}
