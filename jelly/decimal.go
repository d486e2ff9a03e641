package jelly

import (
	"math/big"
	"strconv"
	"strings"
)

// Decimal is a finite Python decimal.Decimal: the value Digits * 10**Exp.
// It travels as `[b"decimal", digits, exponent]`; Decimal('3.14') is
// {314, -2}. A nil Digits means 0. Python's sign of zero is not sent (Twisted
// drops it), and NaN and infinities cannot be sent by Twisted at all.
type Decimal struct {
	Digits *big.Int
	Exp    int64
}

func (d Decimal) digits() *big.Int {
	if d.Digits == nil {
		return new(big.Int)
	}
	return d.Digits
}

// String formats d like Python's str(Decimal).
func (d Decimal) String() string {
	ds := d.digits()
	c := new(big.Int).Abs(ds).String()
	sign := ""
	if ds.Sign() < 0 {
		sign = "-"
	}
	e := d.Exp
	adjusted := e + int64(len(c)) - 1
	if e <= 0 && adjusted >= -6 {
		if e == 0 {
			return sign + c
		}
		n := int64(len(c))
		if -e >= n {
			return sign + "0." + strings.Repeat("0", int(-e-n)) + c
		}
		return sign + c[:n+e] + "." + c[n+e:]
	}
	s := c[:1]
	if len(c) > 1 {
		s += "." + c[1:]
	}
	exp := strconv.FormatInt(adjusted, 10)
	if adjusted >= 0 {
		exp = "+" + exp
	}
	return sign + s + "E" + exp
}

// Rat returns the exact value of d.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.digits())
	if d.Exp == 0 {
		return r
	}
	e := d.Exp
	if e < 0 {
		e = -e
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(e), nil)
	if d.Exp > 0 {
		return r.Mul(r, new(big.Rat).SetInt(p))
	}
	return r.Quo(r, new(big.Rat).SetInt(p))
}

// ParseDecimal parses a finite decimal number such as "3.14", "-0.5",
// "1E+3" or "2.5e-7" exactly.
func ParseDecimal(s string) (Decimal, error) {
	bad := func() (Decimal, error) { return Decimal{}, &TypeError{Value: strconv.Quote(s), Want: "Decimal"} }
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil {
			return bad()
		}
		mant, exp = s[:i], e
	}
	neg := false
	if mant != "" && (mant[0] == '-' || mant[0] == '+') {
		neg = mant[0] == '-'
		mant = mant[1:]
	}
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		exp -= int64(len(mant) - i - 1)
		mant = mant[:i] + mant[i+1:]
	}
	if mant == "" || strings.Trim(mant, "0123456789") != "" {
		return bad()
	}
	n, ok := new(big.Int).SetString(mant, 10)
	if !ok {
		return bad()
	}
	if neg {
		n.Neg(n)
	}
	return Decimal{Digits: n, Exp: exp}, nil
}

// key gives equal numbers equal keys: an integral decimal is keyed as
// the int, others in normalized form.
func (d Decimal) key() string {
	n := new(big.Int).Set(d.digits())
	e := d.Exp
	if n.Sign() == 0 {
		return intKey(0)
	}
	ten := big.NewInt(10)
	m := new(big.Int)
	for e < 0 {
		q, r := new(big.Int).QuoRem(n, ten, m)
		if r.Sign() != 0 {
			break
		}
		n, e = q, e+1
	}
	if e >= 0 && e <= 4000 { // beyond, never equal to an int that can be sent
		n.Mul(n, new(big.Int).Exp(ten, big.NewInt(e), nil))
		return bigKey(n)
	}
	return digest('d', []byte("d"+n.String()+"e"+strconv.FormatInt(e, 10)+";"))
}

// decodeDecimal decodes the arguments of [b"decimal", digits, exponent].
func decodeDecimal(args []any) (any, error) {
	if len(args) < 2 {
		return nil, decodeErr(TagDecimal, "needs digits and exponent")
	}
	var digits *big.Int
	switch x := args[0].(type) {
	case *big.Int:
		if x == nil {
			return nil, decodeErr(TagDecimal, "nil digits")
		}
		digits = new(big.Int).Set(x)
	default:
		i, ok := Int(x)
		if !ok {
			return nil, decodeErr(TagDecimal, "digits must be an int, not %T", args[0])
		}
		digits = big.NewInt(i)
	}
	exp, ok := Int(args[1])
	if !ok {
		return nil, decodeErr(TagDecimal, "exponent must be an int that fits in 64 bits")
	}
	return Decimal{Digits: digits, Exp: exp}, nil
}
