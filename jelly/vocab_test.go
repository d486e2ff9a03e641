package jelly

import (
	"bytes"
	"testing"

	"github.com/gospread/spread/banana"
)

// vocabThing is a registered class whose state carries vocabulary words.
type vocabThing struct {
	Raw     []byte `jelly:"raw"`
	Any     any    `jelly:"any"`
	Text    string `jelly:"text"`
	Version int    `jelly:"version"`
}

func vocabOptions(t testing.TB) *Options {
	r := testRegistry(t)
	if err := r.Register("test.VocabThing", &vocabThing{}); err != nil {
		t.Fatal(err)
	}
	return &Options{Registry: r}
}

// viaBanana sends sexp through a pb-dialect Banana encoder and decoder, as
// the broker does: byte strings equal to a vocabulary word come back as
// shared Go strings, the others as fresh []byte.
func viaBanana(t *testing.T, sexp any) ([]byte, any) {
	t.Helper()
	wire, err := (&banana.Encoder{Dialect: banana.DialectPB}).Append(nil, sexp)
	if err != nil {
		t.Fatal(err)
	}
	d := banana.NewDecoder(nil)
	d.SetDialect(banana.DialectPB)
	var out []any
	if err := d.Feed(wire, func(v any) error { out = append(out, v); return nil }); err != nil || len(out) != 1 {
		t.Fatalf("banana: %v, %d values", err, len(out))
	}
	return wire, out[0]
}

// containsString reports whether a Go string atom occurs in sexp.
func containsString(sexp any) bool {
	switch x := sexp.(type) {
	case string:
		return true
	case []any:
		for _, e := range x {
			if containsString(e) {
				return true
			}
		}
	}
	return false
}

// A Python bytes value equal to a pb vocabulary word (b"list") travels as
// VOCAB, which the Banana decoder gives as a shared Go string. Wherever it
// is a value, not a tag, Unmarshal must still return a fresh []byte.
func TestVocabWordAsBytesValue(t *testing.T) {
	opt := vocabOptions(t)
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name  string
		value any // sent with Marshal
		sexp  any // or sent as is (hand-built, as Twisted frames it)
		want  any
	}{
		{name: "top level", value: b("list"), want: b("list")},
		{name: "each word at top level", value: b("dereference"), want: b("dereference")},
		{name: "in a list", value: []any{b("tuple"), b("x"), b("tuple")}, want: []any{b("tuple"), b("x"), b("tuple")}},
		{name: "in a tuple", value: Tuple{b("dictionary"), int64(1)}, want: Tuple{b("dictionary"), int64(1)}},
		{name: "nested", value: []any{Tuple{[]any{b("None")}}}, want: []any{Tuple{[]any{b("None")}}}},
		{name: "dict key", value: NewDict(Item{b("None"), int64(1)}, Item{"None", int64(2)}),
			want: NewDict(Item{b("None"), int64(1)}, Item{"None", int64(2)})},
		{name: "dict value", value: NewDict(Item{"k", b("reference")}), want: NewDict(Item{"k", b("reference")})},
		{name: "tuple dict key", value: NewDict(Item{Tuple{b("local"), b("remote")}, b("cache")}),
			want: NewDict(Item{Tuple{b("local"), b("remote")}, b("cache")})},
		{name: "set element", value: NewSet(b("module"), "module"), want: NewSet(b("module"), "module")},
		{name: "frozenset element", value: NewFrozenSet(b("class")), want: NewFrozenSet(b("class"))},
		{name: "unicode payload", value: "version", want: "version"},
		{name: "unicode payload in a list", value: []any{"list", b("list")}, want: []any{"list", b("list")}},
		{name: "Copyable state fields", value: &vocabThing{Raw: b("message"), Any: b("answer"), Text: "error"},
			want: &vocabThing{Raw: b("message"), Any: b("answer"), Text: "error"}},
		{name: "Copyable state with bytes keys",
			sexp: []any{"test.VocabThing", []any{"dictionary",
				[]any{"version", int64(6)}, []any{b("raw"), "login"}, []any{b("any"), "password"}}},
			want: &vocabThing{Raw: b("login"), Any: b("password"), Version: 6}},
		{name: "RegisterFunc state", sexp: []any{"custom.tag.Secret", []any{"dictionary", []any{b("public"), "challenge"}}},
			want: secretState{"challenge"}},
		{name: "unpersistable reason", sexp: []any{"unpersistable", "instance"}, want: Unpersistable{Reason: "instance"}},
		{name: "referenced list", sexp: []any{"list", []any{"reference", int64(1), []any{"list", "uncache"}}, []any{"dereference", int64(1)}},
			want: func() any { l := []any{b("uncache")}; return []any{l, l} }()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sexp := c.sexp
			if sexp == nil {
				var err error
				if sexp, err = Marshal(c.value, opt); err != nil {
					t.Fatal(err)
				}
			}
			wire, decoded := viaBanana(t, sexp)
			if !containsString(decoded) {
				t.Fatalf("no VOCAB in %x: the case tests nothing", wire)
			}
			got, err := Unmarshal(decoded, opt)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !equal(got, c.want, true) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			// Nothing decoded is shared with the vocabulary or with another
			// occurrence: scribbling over every []byte leaves a second
			// decoding of the same wire bytes intact.
			scribble(got, map[uintptr]bool{})
			_, again := viaBanana(t, sexp)
			got2, err := Unmarshal(again, opt)
			if err != nil || !equal(got2, c.want, true) {
				t.Fatalf("second decoding: %#v, %v", got2, err)
			}
			// The decoded value goes back out as the same wire bytes.
			back, err := Marshal(got2, opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.sexp == nil {
				if wire2, _ := viaBanana(t, back); !bytes.Equal(wire2, wire) {
					t.Fatalf("re-sent as %x, want %x", wire2, wire)
				}
			}
		})
	}
}

// scribble overwrites every []byte reachable from v.
func scribble(v any, seen map[uintptr]bool) {
	if p := ptrOf(v); p != 0 {
		if seen[p] {
			return
		}
		seen[p] = true
	}
	switch x := v.(type) {
	case []byte:
		for i := range x {
			x[i] = '#'
		}
	case []any:
		for _, e := range x {
			scribble(e, seen)
		}
	case Tuple:
		for _, e := range x {
			scribble(e, seen)
		}
	case *Dict:
		for k, e := range x.All() {
			scribble(k, seen)
			scribble(e, seen)
		}
	case *Set:
		for _, e := range x.Items {
			scribble(e, seen)
		}
	case *vocabThing:
		scribble(x.Raw, seen)
		scribble(x.Any, seen)
	}
}

// Two occurrences of a word in one value are two distinct []byte.
func TestVocabWordOccurrencesDistinct(t *testing.T) {
	got, err := Unmarshal([]any{"list", "list", "list"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := got.([]any)
	a, b := l[0].([]byte), l[1].([]byte)
	a[0] = 'X'
	if string(b) != "list" {
		t.Fatalf("occurrences share memory: %q", b)
	}
}
