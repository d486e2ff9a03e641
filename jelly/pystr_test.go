package jelly

import (
	"math"
	"math/big"
	"testing"
)

// Each want is what CPython 3.11 prints with str() for the value.
func TestPyStr(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "None"},
		{true, "True"},
		{false, "False"},
		{int64(-42), "-42"},
		{big1, "123456789012345678901234567890"},
		{1.0, "1.0"},
		{0.1, "0.1"},
		{1e-05, "1e-05"},
		{1e16, "1e+16"},
		{123456789.0, "123456789.0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
		{"héllo", "héllo"},
		{[]byte("it's"), `b"it's"`},
		{[]byte(`a'"b`), `b'a\'"b'`},
		{[]byte{0, '\t', '\n', '\r', '\\', 0x7f, 0xff}, `b'\x00\t\n\r\\\x7f\xff'`},
	} {
		if got := PyStr(c.v); got != c.want {
			t.Errorf("PyStr(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
