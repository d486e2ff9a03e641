package jelly

import (
	"strings"
	"testing"
)

// A typical callRemote: args tuple and kwargs dict.
func callArgs() (Tuple, *Dict) {
	args := Tuple{int64(1), "two", []byte("three"), []any{int64(4)}, Tuple{int64(5)},
		NewDict(Item{"six", int64(6)}), nil, true, 1.5}
	kwargs := NewDict(Item{"key", "val"}, Item{"count", int64(3)}, Item{"flag", false})
	return args, kwargs
}

func largeList() []any {
	l := make([]any, 10000)
	for i := range l {
		switch i % 4 {
		case 0:
			l[i] = int64(i)
		case 1:
			l[i] = "item"
		case 2:
			l[i] = []byte("bytes")
		case 3:
			l[i] = 0.5
		}
	}
	return l
}

func benchMarshal(b *testing.B, v any) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchUnmarshal(b *testing.B, v any) {
	sexp, err := Marshal(v, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(sexp, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalCallArgs(b *testing.B)   { a, _ := callArgs(); benchMarshal(b, a) }
func BenchmarkMarshalCallKwargs(b *testing.B) { _, k := callArgs(); benchMarshal(b, k) }
func BenchmarkMarshalLargeList(b *testing.B)  { benchMarshal(b, largeList()) }
func BenchmarkMarshalLargeString(b *testing.B) {
	benchMarshal(b, strings.Repeat("héllo wörld ", 50000))
}

func BenchmarkUnmarshalCallArgs(b *testing.B)   { a, _ := callArgs(); benchUnmarshal(b, a) }
func BenchmarkUnmarshalCallKwargs(b *testing.B) { _, k := callArgs(); benchUnmarshal(b, k) }
func BenchmarkUnmarshalLargeList(b *testing.B)  { benchUnmarshal(b, largeList()) }
func BenchmarkUnmarshalLargeString(b *testing.B) {
	// As from a Banana decoder: the payload is []byte.
	sexp := []any{[]byte("unicode"), []byte(strings.Repeat("héllo wörld ", 50000))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(sexp, nil); err != nil {
			b.Fatal(err)
		}
	}
}
