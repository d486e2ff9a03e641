package banana

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestEncodeIntKinds(t *testing.T) {
	pow := func(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }
	neg := func(x *big.Int) *big.Int { return new(big.Int).Neg(x) }
	sub1 := func(x *big.Int) *big.Int { return new(big.Int).Sub(x, big.NewInt(1)) }
	for _, c := range []struct {
		v    any
		want string
	}{
		{0, "0081"}, {int8(-1), "0183"}, {int16(128), "000181"}, {int32(-129), "010183"},
		{uint8(255), "7f0181"}, {uint16(16384), "00000181"}, {uint32(1 << 31), "000000000885"},
		{uint(1<<31 - 1), "7f7f7f7f0781"}, {int64(-1 << 31), "000000000883"}, {int64(-1<<31 - 1), "010000000886"},
		{int64(math.MaxInt64), "7f7f7f7f7f7f7f7f7f85"}, {int64(math.MinInt64), "0000000000000000000186"},
		{uint64(math.MaxUint64), "7f7f7f7f7f7f7f7f7f0185"},
		{big.NewInt(5), "0581"}, {big.NewInt(-5), "0583"}, {pow(31), "000000000885"}, {neg(pow(31)), "000000000883"},
		{pow(64), "0000000000000000000285"}, {neg(pow(64)), "0000000000000000000286"},
		{pow(63), "0000000000000000000185"}, {neg(pow(63)), "0000000000000000000186"},
		{float32(1.5), "843ff8000000000000"}, {-2.25, "84c002000000000000"},
	} {
		got, err := (&Encoder{}).Append(nil, c.v)
		if err != nil || hex.EncodeToString(got) != c.want {
			t.Errorf("Append(%T %v) = %x, %v; want %s", c.v, c.v, got, err, c.want)
		}
	}
	// 2^448-1 uses all 64 prefix bytes, 2^448 is refused; both signs.
	for _, x := range []*big.Int{sub1(pow(448)), neg(sub1(pow(448)))} {
		got, err := (&Encoder{}).Append(nil, x)
		if err != nil || len(got) != PrefixLimit+1 || !equal(decodeOne(t, DialectNone, got), x) {
			t.Errorf("Append(%v): %x, %v", x, got, err)
		}
	}
	for _, x := range []*big.Int{pow(448), neg(pow(448)), pow(1000)} {
		var ee *EncodeError
		if _, err := (&Encoder{}).Append(nil, x); !errors.As(err, &ee) {
			t.Errorf("Append(2^%d): %v, want *EncodeError", x.BitLen()-1, err)
		}
	}
}

// Every bit pattern of a big.Int prefix survives a round trip.
func TestEncodeBigPrefixBits(t *testing.T) {
	for n := uint(60); n <= 448; n++ {
		for _, x := range []*big.Int{
			new(big.Int).Lsh(big.NewInt(1), n-1),
			new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), n), big.NewInt(1)),
			new(big.Int).Add(new(big.Int).Lsh(big.NewInt(0x5a5a5a5a), n-32), big.NewInt(12345)),
		} {
			for _, v := range []*big.Int{x, new(big.Int).Neg(x)} {
				wire, err := (&Encoder{}).Append(nil, v)
				if err != nil {
					t.Fatalf("2^%d: %v", n, err)
				}
				if got := decodeOne(t, DialectNone, wire); !equal(got, v) {
					t.Fatalf("round trip of %v gave %v", v, got)
				}
				if want := (x.BitLen() + 6) / 7; len(wire) != want+1 {
					t.Fatalf("%v: %d prefix bytes, want %d (minimal)", v, len(wire)-1, want)
				}
			}
		}
	}
}

func TestEncodeRefused(t *testing.T) {
	cyc := make([]any, 1)
	cyc[0] = cyc
	for _, v := range []any{nil, true, false, map[string]any{}, []int{1}, struct{}{},
		(*big.Int)(nil), []any{int64(1), nil}, cyc, complex(1, 2)} {
		got, err := (&Encoder{Dialect: DialectPB}).Append([]byte("ab"), v)
		var ee *EncodeError
		if !errors.As(err, &ee) || string(got) != "ab" || !strings.HasPrefix(err.Error(), "banana: ") {
			t.Errorf("Append(%T): %x, %v; want *EncodeError and dst unchanged", v, got, err)
		}
	}
}

// TestAppendList: AppendList writes what Append writes for the same
// list, refuses what Append refuses and leaves dst as it was then.
func TestAppendList(t *testing.T) {
	e := Encoder{Dialect: DialectPB, SizeLimit: 8}
	for _, items := range [][]any{nil, {"answer", int64(7), []any{"unicode", "hi"}}, {[]byte("x"), 2.5}} {
		want, werr := e.Append([]byte("ab"), items)
		got, err := e.AppendList([]byte("ab"), items)
		if werr != nil || err != nil || string(got) != string(want) {
			t.Errorf("AppendList(%v) = %x, %v; Append = %x, %v", items, got, err, want, werr)
		}
	}
	for _, items := range [][]any{{1, 2, 3, 4, 5, 6, 7, 8, 9}, {"ok", nil}, {[]any{"abcdefghi"}}} {
		got, err := e.AppendList([]byte("ab"), items)
		var ee *EncodeError
		if !errors.As(err, &ee) || string(got) != "ab" {
			t.Errorf("AppendList(%v) = %x, %v; want *EncodeError and dst unchanged", items, got, err)
		}
	}
}

func TestEncodeSizeLimit(t *testing.T) {
	e := Encoder{SizeLimit: 3}
	for _, v := range []any{"abc", []byte("abc"), []any{1, 2, 3}} {
		if _, err := e.Append(nil, v); err != nil {
			t.Errorf("at the limit: %v", err)
		}
	}
	for _, v := range []any{"abcd", []byte("abcd"), []any{1, 2, 3, 4}, []any{[]any{"abcd"}}} {
		var ee *EncodeError
		if _, err := e.Append(nil, v); !errors.As(err, &ee) {
			t.Errorf("over the limit (%v): %v", v, err)
		}
	}
	// A vocabulary word is sent as VOCAB whatever the limit, as in Twisted.
	e.Dialect = DialectPB
	if got, err := e.Append(nil, "dereference"); err != nil || hex.EncodeToString(got) != "0387" {
		t.Errorf("vocab over size limit: %x, %v", got, err)
	}
}

func TestEncodeVocabEveryWord(t *testing.T) {
	for i := 1; i <= 31; i++ {
		w, _ := VocabWord(i)
		for _, v := range []any{w, string(w), []any{w}} {
			pb, err := (&Encoder{Dialect: DialectPB}).Append(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			none, _ := (&Encoder{}).Append(nil, v)
			want := []byte{byte(i), TypeVocab}
			if _, isList := v.([]any); isList {
				want = append([]byte{1, TypeList}, want...)
			}
			if string(pb) != string(want) || strings.Contains(string(none), string([]byte{TypeVocab})) {
				t.Errorf("word %d %q: pb %x none %x", i, w, pb, none)
			}
			if got := decodeOne(t, DialectPB, pb); !equal(got, v) {
				t.Errorf("word %d decodes to %v", i, got)
			}
		}
	}
	// Decoded vocabulary words are shared, immutable Go strings; STRING
	// elements equal to a word (dialect none) stay fresh []byte.
	if got := decodeOne(t, DialectPB, []byte{19, TypeVocab}); got != any("version") {
		t.Fatalf("VOCAB 19 decodes to %T %v", got, got)
	}
	if got, ok := decodeOne(t, DialectNone, append([]byte{7, TypeString}, "version"...)).([]byte); !ok || string(got) != "version" {
		t.Fatalf("STRING version decodes to %T %v", got, got)
	}
}

// Decoding VOCAB does not allocate.
func TestDecodeVocabNoAllocs(t *testing.T) {
	d := NewDecoder(nil)
	d.SetDialect(DialectPB)
	in := []byte{19, TypeVocab, 27, TypeVocab, 31, TypeVocab}
	var last any
	emit := func(v any) error { last = v; return nil }
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Feed(in, emit); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per Feed of three VOCAB elements", n)
	}
	if last != any("uncache") {
		t.Fatalf("last = %v", last)
	}
}

func TestEncodeNoAllocs(t *testing.T) {
	big448 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 448), big.NewInt(1))
	values := map[string]any{
		"call":  callMessage(),
		"mixed": []any{1.5, "version", []byte("tuple"), int64(-1 << 40), uint64(1 << 63), float32(2), big448, -7},
		"big":   big448,
		"long":  make([]any, 1000),
	}
	for i := range values["long"].([]any) {
		values["long"].([]any)[i] = int64(i)
	}
	buf := make([]byte, 0, 8192)
	for _, dl := range []Dialect{DialectNone, DialectPB} {
		e := &Encoder{Dialect: dl}
		for name, v := range values {
			var err error
			n := testing.AllocsPerRun(100, func() { _, err = e.Append(buf[:0], v) })
			if err != nil || n != 0 {
				t.Errorf("%s/%s: %v allocations per Append into a big enough dst (err %v)", name, dl, n, err)
			}
		}
	}
}

// callMessage is a typical PB call as jelly and pb hand it to Banana.
func callMessage() []any {
	return []any{[]byte("message"), int64(3), int64(2), []byte("echo"), int64(1),
		[]any{[]byte("tuple"), []any{[]byte("unicode"), []byte("hello")}}, []any{[]byte("dictionary")}}
}
