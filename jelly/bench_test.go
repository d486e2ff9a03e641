package jelly

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gospread/spread/banana"
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

// Twisted 22.4's wire bytes (pb dialect) for ref.callRemote("echo", "x"*31)
// on a reference with luid 3 (request 2), and for the answer to request 1.
const (
	twistedCallHex   = "07801a870281038104826563686f018102800b8702800782756e69636f64651f827878787878787878787878787878787878787878787878787878787878787801800587"
	twistedAnswerHex = "03801b87018102800782756e69636f64651f8278787878787878787878787878787878787878787878787878787878787878"
)

// benchRefs stands for pb's hook: it claims nothing.
type benchRefs struct{}

func (benchRefs) MarshalRef(*Marshaler, any) (any, bool, error)         { return nil, false, nil }
func (benchRefs) UnmarshalRef(*Unmarshaler, string, []any) (any, error) { return nil, nil }
func (benchRefs) IsRefTag(string) bool                                  { return false }

// benchDecodeWire decodes wire as pb does: Banana, then jelly.Unmarshal of
// the parts at the given indexes of the message list.
func benchDecodeWire(b *testing.B, wireHex string, parts ...int) {
	wire, err := hex.DecodeString(wireHex)
	if err != nil {
		b.Fatal(err)
	}
	opt := &Options{Registry: NewRegistry(), Refs: benchRefs{}}
	d := banana.NewDecoder(nil)
	d.SetDialect(banana.DialectPB)
	emit := func(v any) error {
		l := v.([]any)
		for _, i := range parts {
			if _, err := Unmarshal(l[i], opt); err != nil {
				return err
			}
		}
		return nil
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Feed(wire, emit); err != nil {
			b.Fatal(err)
		}
	}
}

// Decoding a call: Banana, then the arguments tuple and the kwargs dict.
func BenchmarkDecodeTwistedCall(b *testing.B) { benchDecodeWire(b, twistedCallHex, 5, 6) }

// Decoding an answer: Banana, then the result.
func BenchmarkDecodeTwistedAnswer(b *testing.B) { benchDecodeWire(b, twistedAnswerHex, 2) }

// Encoding the answer: Marshal, then Banana into a reused buffer.
func BenchmarkEncodeTwistedAnswer(b *testing.B) {
	want, _ := hex.DecodeString(twistedAnswerHex)
	opt := &Options{Registry: NewRegistry(), Refs: benchRefs{}}
	e := banana.Encoder{Dialect: banana.DialectPB}
	result := strings.Repeat("x", 31)
	var buf []byte
	b.SetBytes(int64(len(want)))
	b.ReportAllocs()
	for b.Loop() {
		sexp, err := Marshal(result, opt)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = e.Append(buf[:0], []any{"answer", int64(1), sexp}); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(buf, want) {
		b.Fatalf("encoded %x, want %x", buf, want)
	}
}
