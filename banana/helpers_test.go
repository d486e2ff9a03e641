package banana

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// pyNaN is the bit pattern of Python's float("nan").
var pyNaN = math.Float64frombits(0x7ff8000000000000)

// pyStr stands for a Python str in the vectors: Banana refuses text.
type pyStr string

// decodeAll feeds in to a fresh Decoder in dialect dl, in chunks of size
// chunk (0: all at once), and returns what it emitted and the error.
func decodeAll(t testing.TB, cfg *Config, dl Dialect, in []byte, chunk int) ([]any, *Decoder, error) {
	t.Helper()
	d := NewDecoder(cfg)
	d.SetDialect(dl)
	var out []any
	emit := func(v any) error { out = append(out, v); return nil }
	if chunk <= 0 {
		return out, d, d.Feed(in, emit)
	}
	for i := 0; i < len(in); i += chunk {
		if err := d.Feed(in[i:min(i+chunk, len(in))], emit); err != nil {
			return out, d, err
		}
	}
	return out, d, nil
}

// decodeOne decodes exactly one expression from in.
func decodeOne(t testing.TB, dl Dialect, in []byte) any {
	t.Helper()
	out, d, err := decodeAll(t, nil, dl, in, 0)
	if err != nil {
		t.Fatalf("decode %x: %v", in, err)
	}
	if len(out) != 1 || d.Buffered() != 0 {
		t.Fatalf("decode %x: %d expressions, %d buffered; want 1, 0", in, len(out), d.Buffered())
	}
	return out[0]
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// equal compares Banana values: []byte and string alike, integers by value
// whatever their Go type, floats by bit pattern (so NaN equals itself).
func equal(a, b any) bool {
	if x, ok := asInt(a); ok {
		y, ok := asInt(b)
		return ok && x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case []byte, string:
		xb, _ := nameBytes(x)
		yb, ok := nameBytes(b)
		return ok && bytes.Equal(xb, yb)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return false
}

func asInt(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case int:
		return big.NewInt(int64(x)), true
	case uint64:
		return new(big.Int).SetUint64(x), true
	case *big.Int:
		return x, true
	}
	return nil, false
}

// pyRepr renders a decoded value the way Python's repr renders what Twisted
// decoded, so decoder output can be compared with the vectors.
func pyRepr(v any) string {
	var sb strings.Builder
	writeRepr(&sb, v)
	return sb.String()
}

func writeRepr(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case []any:
		sb.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeRepr(sb, el)
		}
		sb.WriteByte(']')
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		sb.WriteString(x.String())
	case float64:
		sb.WriteString(floatRepr(x))
	case []byte:
		sb.WriteString(bytesRepr(x))
	case string: // a VOCAB word: Twisted decodes it to bytes too
		sb.WriteString(bytesRepr([]byte(x)))
	default:
		fmt.Fprintf(sb, "<%T>", v)
	}
}

func floatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if f != 0 {
		exp := math.Floor(math.Log10(math.Abs(f)))
		if exp < -4 || exp >= 16 {
			return strconv.FormatFloat(f, 'e', -1, 64)
		}
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

func bytesRepr(b []byte) string {
	q := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		q = '"'
	}
	var sb strings.Builder
	sb.WriteString("b")
	sb.WriteByte(q)
	for _, c := range b {
		switch {
		case c == '\\' || c == q:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}

func TestPyRepr(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{1.5, "1.5"}, {0.0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1e300, "1e+300"},
		{1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {0.0001, "0.0001"}, {0.00001, "1e-05"},
		{[]byte("a'b"), `b"a'b"`}, {[]byte{0, 0xff, '\\'}, `b'\x00\xff\\'`},
		{[]any{int64(1), []any{}}, "[1, []]"},
	} {
		if got := pyRepr(c.v); got != c.want {
			t.Errorf("pyRepr(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}
