package banana

import (
	"bytes"
	"testing"
)

func benchValues() map[string]any {
	ints := make([]any, 10000)
	for i := range ints {
		ints[i] = int64(i)
	}
	return map[string]any{
		"CallMessage": callMessage(),
		"String64K":   bytes.Repeat([]byte{'s'}, 64<<10),
		"List10kInts": ints,
	}
}

func benchEncode(b *testing.B, name string) {
	v := benchValues()[name]
	e := Encoder{Dialect: DialectPB}
	buf, err := e.Append(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, _ = e.Append(buf[:0], v)
	}
}

func benchDecode(b *testing.B, name string) {
	wire, err := (&Encoder{Dialect: DialectPB}).Append(nil, benchValues()[name])
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	n := 0
	emit := func(any) error { n++; return nil }
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := d.Feed(wire, emit); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("nothing decoded")
	}
}

func BenchmarkEncodeCallMessage(b *testing.B) { benchEncode(b, "CallMessage") }
func BenchmarkEncodeString64K(b *testing.B)   { benchEncode(b, "String64K") }
func BenchmarkEncodeList10kInts(b *testing.B) { benchEncode(b, "List10kInts") }
func BenchmarkDecodeCallMessage(b *testing.B) { benchDecode(b, "CallMessage") }
func BenchmarkDecodeString64K(b *testing.B)   { benchDecode(b, "String64K") }
func BenchmarkDecodeList10kInts(b *testing.B) { benchDecode(b, "List10kInts") }

// BenchmarkDecodeCallMessageBytewise feeds one byte per Feed call.
func BenchmarkDecodeCallMessageBytewise(b *testing.B) {
	wire, _ := (&Encoder{Dialect: DialectPB}).Append(nil, callMessage())
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		for i := range wire {
			if err := d.Feed(wire[i:i+1], nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
