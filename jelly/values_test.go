package jelly

import (
	"math/big"
	"testing"
	"time"
)

func TestDecimalString(t *testing.T) {
	// Expected strings are Python's str(Decimal(...)).
	cases := []struct {
		digits *big.Int
		exp    int64
		want   string
	}{
		{big.NewInt(314), -2, "3.14"},
		{big.NewInt(1), 3, "1E+3"},
		{big.NewInt(-5), -1, "-0.5"},
		{big.NewInt(0), 0, "0"},
		{big.NewInt(1), -7, "1E-7"},
		{big.NewInt(123), -10, "1.23E-8"},
		{big.NewInt(0), -2, "0.00"},
		{big.NewInt(0), 2, "0E+2"},
		{big.NewInt(12345), 2, "1.2345E+6"},
		{big.NewInt(-1), -6, "-0.000001"},
		{big.NewInt(123456), -3, "123.456"},
		{big.NewInt(7), 0, "7"},
		{big.NewInt(10), -1, "1.0"},
	}
	for _, c := range cases {
		d := Decimal{c.digits, c.exp}
		if got := d.String(); got != c.want {
			t.Errorf("Decimal{%v, %d} = %q, want %q", c.digits, c.exp, got, c.want)
		}
		p, err := ParseDecimal(c.want)
		if err != nil || p.digits().Cmp(c.digits) != 0 || p.Exp != c.exp {
			t.Errorf("ParseDecimal(%q) = %v, %v", c.want, p, err)
		}
	}
	for _, bad := range []string{"", "NaN", "Infinity", "1.2.3", "e5", "1e", "--1"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
	if r := (Decimal{big.NewInt(314), -2}).Rat(); r.RatString() != "157/50" {
		t.Errorf("Rat = %v", r)
	}
}

func TestTimeHelpers(t *testing.T) {
	tm := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	dt := DateTimeOf(tm)
	if dt != (DateTime{2024, 1, 2, 3, 4, 5, 6}) || !dt.In(time.UTC).Equal(tm) {
		t.Fatalf("DateTimeOf = %v", dt)
	}
	td := TimeDeltaOf(-time.Second)
	if td != (TimeDelta{-1, 86399, 0}) || td.Duration() != -time.Second {
		t.Fatalf("TimeDeltaOf = %v", td)
	}
}

func TestHelpers(t *testing.T) {
	if s, ok := String([]byte("x")); !ok || s != "x" {
		t.Fatal("String")
	}
	if _, ok := String(1); ok {
		t.Fatal("String(1)")
	}
	if b, ok := Bytes("x"); !ok || string(b) != "x" {
		t.Fatal("Bytes")
	}
	if i, ok := Int(big.NewInt(-3)); !ok || i != -3 {
		t.Fatal("Int")
	}
	if _, ok := Int(new(big.Int).Lsh(big.NewInt(1), 70)); ok {
		t.Fatal("Int of huge")
	}
	if _, ok := Int(uint64(1 << 63)); ok {
		t.Fatal("Int of 2**63")
	}
}
