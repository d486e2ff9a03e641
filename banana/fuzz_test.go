package banana

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"testing"
)

// fuzzConfig keeps the limits small enough that the fuzzer reaches them.
var fuzzConfig = &Config{SizeLimit: 4096, MaxDepth: 20, MaxExprBytes: 8192}

// addVectorSeeds adds the input of every vector row, encoded and decode side.
func addVectorSeeds(f *testing.F, add func(data []byte, dl Dialect)) {
	v := loadVectors(f)
	for _, row := range v.Encode {
		for _, c := range []struct {
			dl  Dialect
			res encodeResult
		}{{DialectNone, row.None}, {DialectPB, row.PB}} {
			if c.res.Hex != nil {
				b, _ := hex.DecodeString(*c.res.Hex)
				add(b, c.dl)
			}
		}
	}
	for _, row := range v.Decode {
		dl, _ := ParseDialect([]byte(row.Dialect))
		b, _ := hex.DecodeString(row.Hex)
		add(b, dl)
	}
	wire, _ := stream(f)
	add(wire, DialectPB)
	add(AppendOffer(nil), DialectNone)
}

// FuzzDecode feeds arbitrary bytes, whole and split in two at cut. It checks
// that nothing panics, that both feedings agree, that Buffered stays within
// MaxExprBytes, and that every decoded value re-encodes and decodes equal.
func FuzzDecode(f *testing.F) {
	addVectorSeeds(f, func(data []byte, dl Dialect) {
		f.Add(data, uint8(dl), uint16(len(data)/2))
	})
	f.Fuzz(func(t *testing.T, data []byte, dl uint8, cut uint16) {
		dialect := Dialect(dl % 2)
		run := func(pieces ...[]byte) ([]any, error) {
			d := NewDecoder(fuzzConfig)
			d.SetDialect(dialect)
			var out []any
			var err error
			for _, p := range pieces {
				if err = d.Feed(p, func(v any) error { out = append(out, v); return nil }); err != nil {
					break
				}
				if d.Buffered() > fuzzConfig.MaxExprBytes || d.Buffered() < 0 {
					t.Fatalf("Buffered %d out of range", d.Buffered())
				}
			}
			if err != nil {
				var le *LimitError
				var se *SyntaxError
				if !errors.As(err, &le) && !errors.As(err, &se) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				if d.Feed([]byte{0x81}, nil) != err {
					t.Fatal("decoder not broken after error")
				}
			}
			return out, err
		}
		whole, err := run(data)
		c := int(cut) % (len(data) + 1)
		split, err2 := run(data[:c], data[c:])
		if (err == nil) != (err2 == nil) || len(whole) != len(split) {
			t.Fatalf("whole: %d values, %v; split at %d: %d values, %v", len(whole), err, c, len(split), err2)
		}
		enc := Encoder{Dialect: dialect}
		for i, v := range whole {
			if !equal(v, split[i]) {
				t.Fatalf("value %d differs when split", i)
			}
			wire, err := enc.Append(nil, v)
			if err != nil {
				t.Fatalf("re-encode %s: %v", pyRepr(v), err)
			}
			again, err := run(wire)
			if err != nil || len(again) != 1 || !equal(again[0], v) {
				t.Fatalf("re-decode of %x: %v, %v", wire, again, err)
			}
		}
	})
}

// FuzzRoundTrip builds a value from the fuzzer's bytes, encodes it in both
// dialects and decodes it in pieces of every size up to 8.
func FuzzRoundTrip(f *testing.F) {
	addVectorSeeds(f, func(data []byte, _ Dialect) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		v := valueFrom(&data, 0)
		for _, dl := range []Dialect{DialectNone, DialectPB} {
			wire, err := (&Encoder{Dialect: dl}).Append(nil, v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			for chunk := 0; chunk <= 8; chunk++ {
				out, d, err := decodeAll(t, nil, dl, wire, chunk)
				if err != nil || len(out) != 1 || d.Buffered() != 0 || !equal(out[0], v) {
					t.Fatalf("dialect %s chunk %d: %v, %d values", dl, chunk, err, len(out))
				}
			}
		}
	})
}

// valueFrom consumes bytes of *data to build a Banana value.
func valueFrom(data *[]byte, depth int) any {
	next := func() byte {
		if len(*data) == 0 {
			return 0
		}
		b := (*data)[0]
		*data = (*data)[1:]
		return b
	}
	take := func(n int) []byte {
		n = min(n, len(*data))
		b := (*data)[:n]
		*data = (*data)[n:]
		return b
	}
	u64 := func() uint64 {
		var u uint64
		for _, b := range take(8) {
			u = u<<8 | uint64(b)
		}
		return u
	}
	switch k := next(); k % 8 {
	case 0:
		return int64(u64())
	case 1:
		return uint64(u64())
	case 2:
		return math.Float64frombits(u64())
	case 3:
		return append([]byte(nil), take(int(next()))...)
	case 4:
		w, _ := VocabWord(int(next()%31) + 1)
		return string(w)
	case 5:
		n := int(next() % 57) // at most 56 bytes: below 2^448
		x := new(big.Int).SetBytes(take(n))
		if k&0x80 != 0 {
			x.Neg(x)
		}
		return x
	case 6:
		if depth >= 50 {
			return []any{}
		}
		n := int(next() % 16)
		l := make([]any, 0, n)
		for range n {
			l = append(l, valueFrom(data, depth+1))
		}
		return l
	}
	return int64(int8(next()))
}
