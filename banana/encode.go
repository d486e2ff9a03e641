package banana

import (
	"fmt"
	"math"
	"math/big"
)

// maxEncodeDepth bounds the nesting of lists the Encoder follows, so that a
// cyclic []any fails with an EncodeError instead of exhausting the stack.
const maxEncodeDepth = 1000

// Boundaries of the INT/NEG forms; beyond them Twisted sends LONGINT/LONGNEG.
const (
	largestInt  = 1<<31 - 1 // largest value sent as INT
	largestNegM = 1 << 31   // largest magnitude sent as NEG
	maxIntBits  = 7 * PrefixLimit
)

// Encoder appends Banana encodings of Go values. The zero Encoder uses
// dialect none and the default size limit. An Encoder holds no state between
// calls and may be copied and used from several goroutines.
type Encoder struct {
	Dialect   Dialect
	SizeLimit int // max STRING length and LIST count; 0 means SizeLimit
}

// Append appends the encoding of v to dst and returns the extended slice.
//
// v may be []any (LIST), []byte or string (STRING; raw bytes, not text),
// int, int8..int64, uint, uint8..uint64, *big.Int (INT, NEG, LONGINT or
// LONGNEG, chosen at 2^31 like Twisted), or float32/float64 (FLOAT). In
// DialectPB every []byte/string equal to a vocabulary word is sent as VOCAB.
// bool, nil and every other type are refused.
//
// On error Append returns dst with its original length and an *EncodeError;
// nothing partial is appended. Append does not allocate when dst has enough
// capacity.
func (e *Encoder) Append(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := e.append(dst, v, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// AppendList is Append of the list items, without boxing the slice in
// an interface value.
func (e *Encoder) AppendList(dst []byte, items []any) ([]byte, error) {
	n := len(dst)
	out, err := e.appendList(dst, items, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func (e *Encoder) append(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case []any:
		return e.appendList(dst, x, depth)
	case []byte:
		if e.Dialect == DialectPB {
			if i, ok := VocabIndex(x); ok {
				return append(dst, byte(i), TypeVocab), nil
			}
		}
		if len(x) > encodeSizeLimit(e.SizeLimit) {
			return dst, oversize("byte string", len(x), e.SizeLimit)
		}
		dst = appendPrefix(dst, uint64(len(x)))
		dst = append(dst, TypeString)
		return append(dst, x...), nil
	case string:
		if e.Dialect == DialectPB {
			if i, ok := vocabIndexString(x); ok {
				return append(dst, byte(i), TypeVocab), nil
			}
		}
		if len(x) > encodeSizeLimit(e.SizeLimit) {
			return dst, oversize("byte string", len(x), e.SizeLimit)
		}
		dst = appendPrefix(dst, uint64(len(x)))
		dst = append(dst, TypeString)
		return append(dst, x...), nil
	case int64:
		return appendInt64(dst, x), nil
	case int:
		return appendInt64(dst, int64(x)), nil
	case int32:
		return appendInt64(dst, int64(x)), nil
	case int16:
		return appendInt64(dst, int64(x)), nil
	case int8:
		return appendInt64(dst, int64(x)), nil
	case uint64:
		return appendUint64(dst, x), nil
	case uint:
		return appendUint64(dst, uint64(x)), nil
	case uint32:
		return appendUint64(dst, uint64(x)), nil
	case uint16:
		return appendUint64(dst, uint64(x)), nil
	case uint8:
		return appendUint64(dst, uint64(x)), nil
	case *big.Int:
		if x == nil {
			return dst, &EncodeError{Value: "(*big.Int)(nil)", Msg: "nil integer"}
		}
		return appendBig(dst, x)
	case float64:
		return appendFloat(dst, x), nil
	case float32:
		return appendFloat(dst, float64(x)), nil
	}
	return dst, &EncodeError{Value: fmt.Sprintf("%T", v), Msg: "unsupported type (Banana carries lists, integers, floats and byte strings)"}
}

func (e *Encoder) appendList(dst []byte, x []any, depth int) ([]byte, error) {
	if len(x) > encodeSizeLimit(e.SizeLimit) {
		return dst, oversize("list", len(x), e.SizeLimit)
	}
	if depth >= maxEncodeDepth {
		return dst, &EncodeError{Value: "[]interface {}", Msg: fmt.Sprintf("lists nested deeper than %d (cyclic?)", maxEncodeDepth)}
	}
	dst = appendPrefix(dst, uint64(len(x)))
	dst = append(dst, TypeList)
	var err error
	for _, el := range x {
		if dst, err = e.append(dst, el, depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func oversize(what string, n, limit int) error {
	return &EncodeError{
		Value: fmt.Sprintf("%s of length %d", what, n),
		Msg:   fmt.Sprintf("longer than the size limit %d", encodeSizeLimit(limit)),
	}
}

func appendUint64(dst []byte, u uint64) []byte {
	dst = appendPrefix(dst, u)
	if u <= largestInt {
		return append(dst, TypeInt)
	}
	return append(dst, TypeLongInt)
}

func appendInt64(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendUint64(dst, uint64(v))
	}
	m := uint64(-(v + 1)) + 1 // magnitude, correct for math.MinInt64 too
	dst = appendPrefix(dst, m)
	if m <= largestNegM {
		return append(dst, TypeNeg)
	}
	return append(dst, TypeLongNeg)
}

func appendBig(dst []byte, x *big.Int) ([]byte, error) {
	if x.IsInt64() {
		return appendInt64(dst, x.Int64()), nil
	}
	if x.IsUint64() {
		return appendUint64(dst, x.Uint64()), nil
	}
	if x.BitLen() > maxIntBits {
		return dst, &EncodeError{Value: x.String(), Msg: "integer magnitude is 2^448 or more"}
	}
	// Here |x| >= 2^63 > 2^31: always the LONG forms.
	dst = appendBigPrefix(dst, x.Bits())
	if x.Sign() < 0 {
		return append(dst, TypeLongNeg), nil
	}
	return append(dst, TypeLongInt), nil
}

func appendFloat(dst []byte, f float64) []byte {
	b := math.Float64bits(f)
	return append(dst, TypeFloat,
		byte(b>>56), byte(b>>48), byte(b>>40), byte(b>>32),
		byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
}
