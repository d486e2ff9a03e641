package jelly

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

const vectorsPath = "../../shared/testdata/twisted/jelly_vectors.json"

type jellyRow struct {
	Name             string          `json:"name"`
	Value            json.RawMessage `json:"value"`
	Sexp             string          `json:"sexp"`
	SexpTyped        json.RawMessage `json:"sexp_typed"`
	PBHex            string          `json:"pb_hex"`
	Unserialized     string          `json:"unserialized"`
	UnserializedType string          `json:"unserialized_type"`
	UnserializeError string          `json:"unserialize_error"`
	JellyError       string          `json:"jelly_error"`
	BananaError      string          `json:"banana_error"`
}

type unjellyRow struct {
	Name      string          `json:"name"`
	Sexp      string          `json:"sexp"`
	PBHex     string          `json:"pb_hex"`
	SexpTyped json.RawMessage `json:"sexp_typed"`
	Result    string          `json:"result"`
	Type      string          `json:"result_type"`
	Error     string          `json:"error"`
}

type vectors struct {
	Jelly   []jellyRow   `json:"jelly"`
	Unjelly []unjellyRow `json:"unjelly"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("reading vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parsing vectors: %v", err)
	}
	if len(v.Jelly) < 50 || len(v.Unjelly) < 40 {
		t.Fatalf("vectors look truncated: %d jelly, %d unjelly rows", len(v.Jelly), len(v.Unjelly))
	}
	return &v
}

// errSkip marks JSON values the Go mapping cannot rebuild from the schema.
var errSkip = fmt.Errorf("not expressible")

func parseFloat(s string) float64 {
	switch s {
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	case "nan":
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

func parseInt(s string) any {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad int " + s)
	}
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}

var (
	reDecimal  = regexp.MustCompile(`^Decimal\('([^']*)'\)$`)
	reDateTime = regexp.MustCompile(`^datetime\.datetime\(([-\d, ]+)\)$`)
	reDate     = regexp.MustCompile(`^datetime\.date\(([-\d, ]+)\)$`)
	reTime     = regexp.MustCompile(`^datetime\.time\(([-\d, ]+)\)$`)
	reDelta    = regexp.MustCompile(`^datetime\.timedelta\((.*)\)$`)
)

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

func parseOther(s string) (any, error) {
	if m := reDecimal.FindStringSubmatch(s); m != nil {
		d, err := ParseDecimal(m[1])
		if err != nil {
			return nil, errSkip // NaN, Infinity
		}
		return d, nil
	}
	if m := reDateTime.FindStringSubmatch(s); m != nil {
		f := append(ints(m[1]), 0, 0, 0, 0)
		return DateTime{f[0], f[1], f[2], f[3], f[4], f[5], f[6]}, nil
	}
	if m := reDate.FindStringSubmatch(s); m != nil {
		f := ints(m[1])
		return Date{f[0], f[1], f[2]}, nil
	}
	if m := reTime.FindStringSubmatch(s); m != nil {
		f := append(ints(m[1]), 0, 0, 0)
		return Time{f[0], f[1], f[2], f[3]}, nil
	}
	if m := reDelta.FindStringSubmatch(s); m != nil {
		var td TimeDelta
		for _, kv := range strings.Split(m[1], ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "days":
				td.Days = n
			case "seconds":
				td.Seconds = n
			case "microseconds":
				td.Microseconds = n
			}
		}
		return td, nil
	}
	return nil, errSkip
}

// fromJSON rebuilds a Go value from the vectors' value schema.
func fromJSON(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errSkip
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return nil, fmt.Errorf("bad value %s", raw)
	}
	for k, v := range obj {
		var s string
		switch k {
		case "none":
			return nil, nil
		case "bool":
			var b bool
			json.Unmarshal(v, &b)
			return b, nil
		case "int":
			json.Unmarshal(v, &s)
			return parseInt(s), nil
		case "float":
			json.Unmarshal(v, &s)
			return parseFloat(s), nil
		case "bytes":
			json.Unmarshal(v, &s)
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, err
			}
			return b, nil
		case "str":
			json.Unmarshal(v, &s)
			return s, nil
		case "other":
			json.Unmarshal(v, &s)
			return parseOther(s)
		case "list", "tuple", "set", "frozenset":
			var items []json.RawMessage
			json.Unmarshal(v, &items)
			out := make([]any, len(items))
			for i, it := range items {
				x, err := fromJSON(it)
				if err != nil {
					return nil, err
				}
				out[i] = x
			}
			switch k {
			case "tuple":
				return Tuple(out), nil
			case "set":
				return &Set{Items: out}, nil
			case "frozenset":
				return &Set{Items: out, Frozen: true}, nil
			}
			return out, nil
		case "dict":
			var pairs [][2]json.RawMessage
			json.Unmarshal(v, &pairs)
			d := &Dict{}
			for _, p := range pairs {
				kk, err := fromJSON(p[0])
				if err != nil {
					return nil, err
				}
				vv, err := fromJSON(p[1])
				if err != nil {
					return nil, err
				}
				d.Set(kk, vv)
			}
			return d, nil
		}
	}
	return nil, errSkip
}

// sexpFromJSON rebuilds a Banana-level s-expression ([]any, []byte, int64,
// *big.Int, float64).
func sexpFromJSON(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		t.Fatalf("bad sexp_typed %s", raw)
	}
	for k, v := range obj {
		var s string
		switch k {
		case "int":
			json.Unmarshal(v, &s)
			return parseInt(s)
		case "float":
			json.Unmarshal(v, &s)
			return parseFloat(s)
		case "bytes":
			json.Unmarshal(v, &s)
			b, err := hex.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			return b
		case "list":
			var items []json.RawMessage
			json.Unmarshal(v, &items)
			out := make([]any, len(items))
			for i, it := range items {
				out[i] = sexpFromJSON(t, it)
			}
			return out
		}
		t.Fatalf("unexpected sexp_typed kind %q", k)
	}
	return nil
}

// sexpEqual compares s-expressions, treating string and []byte alike.
func sexpEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sexpEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case string, []byte:
		xs, _ := String(x)
		ys, ok := String(b)
		return ok && xs == ys
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	return a == b
}

// sexpString formats an s-expression like Python's repr of it.
func sexpString(a any) string {
	switch x := a.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = sexpString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []byte:
		return fmt.Sprintf("b%q", x)
	case string:
		return fmt.Sprintf("b%q", x)
	}
	return fmt.Sprint(a)
}

// equal is a type-strict deep equality for jelly values (str != bytes,
// list != tuple); ints compare by value; sets compare in order when ordered
// is true; cycles are handled by assuming equality on revisits.
func equal(a, b any, ordered bool) bool {
	return eq(a, b, ordered, map[[2]uintptr]bool{})
}

func ptrOf(v any) uintptr {
	switch x := v.(type) {
	case []any:
		return uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	case Tuple:
		return uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		return rv.Pointer()
	}
	return 0
}

func eq(a, b any, ordered bool, seen map[[2]uintptr]bool) bool {
	if pa, pb := ptrOf(a), ptrOf(b); pa != 0 && pb != 0 {
		k := [2]uintptr{pa, pb}
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	if ia, ok := bigOf(a); ok {
		ib, ok := bigOf(b)
		return ok && ia.Cmp(ib) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		return ok && eqSeq(x, y, ordered, seen)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && eqSeq(x, y, ordered, seen)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y)))
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xi, yi := x.Items(), y.Items()
		for i := range xi {
			if !eq(xi[i].Key, yi[i].Key, ordered, seen) || !eq(xi[i].Value, yi[i].Value, ordered, seen) {
				return false
			}
		}
		return true
	case *Set:
		y, ok := b.(*Set)
		if !ok || x.Frozen != y.Frozen || len(x.Items) != len(y.Items) {
			return false
		}
		if ordered {
			return eqSeq(x.Items, y.Items, ordered, seen)
		}
		for _, it := range x.Items {
			if !y.Has(it) {
				return false
			}
		}
		return true
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.digits().Cmp(y.digits()) == 0 && x.Exp == y.Exp
	}
	return reflect.DeepEqual(a, b)
}

func bigOf(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return x, true
	}
	return nil, false
}

func eqSeq(x, y []any, ordered bool, seen map[[2]uintptr]bool) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !eq(x[i], y[i], ordered, seen) {
			return false
		}
	}
	return true
}

// sameSlice reports whether two slices are the same object (identity).
func sameSlice(a, b any) bool {
	pa, pb := ptrOf(a), ptrOf(b)
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	return pa != 0 && pa == pb && ra.Len() == rb.Len() && ra.Cap() > 0
}
