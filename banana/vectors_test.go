package banana

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The vectors were recorded from Twisted 22.4 (see
// shared/testdata/twisted/README.md); testdata/ holds a copy so the package
// tests stand alone, and TestVectorsCopyCurrent checks the copy is current.
const (
	vectorsFile   = "testdata/banana_vectors.json"
	sharedVectors = "../../shared/testdata/twisted/banana_vectors.json"
)

type vectors struct {
	SizeLimit   int            `json:"SIZE_LIMIT"`
	PrefixLimit int            `json:"prefix_limit"`
	Vocabulary  map[string]int `json:"vocabulary"`
	Encode      []encodeRow    `json:"encode"`
	Decode      []decodeRow    `json:"decode"`
}

type encodeRow struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	None  encodeResult    `json:"none"`
	PB    encodeResult    `json:"pb"`
}

type encodeResult struct {
	Error          *string `json:"error"`
	Hex            *string `json:"hex"`
	HexHead        string  `json:"hex_head"`
	HexTail        string  `json:"hex_tail"`
	Len            int     `json:"len"`
	SHA256         string  `json:"sha256"`
	Decoded        string  `json:"decoded"`
	RoundtripEqual bool    `json:"roundtrip_equal"`
}

type decodeRow struct {
	Name          string   `json:"name"`
	Dialect       string   `json:"dialect"`
	Hex           string   `json:"hex"`
	Chunked       bool     `json:"chunked"`
	Expressions   []string `json:"expressions"`
	Error         *string  `json:"error"`
	BufferedBytes *int     `json:"buffered_bytes"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Encode) == 0 || len(v.Decode) == 0 {
		t.Fatal("no vectors")
	}
	return &v
}

func TestVectorsCopyCurrent(t *testing.T) {
	shared, err := os.ReadFile(sharedVectors)
	if err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	local, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, local) {
		t.Fatalf("%s differs from %s: copy it again", vectorsFile, sharedVectors)
	}
}

// buildValue turns the vectors' JSON value schema into a Go value.
func buildValue(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		t.Fatalf("bad value %s", raw)
	}
	for kind, body := range obj {
		var s string
		switch kind {
		case "int":
			json.Unmarshal(body, &s)
			x, ok := new(big.Int).SetString(s, 10)
			if !ok {
				t.Fatalf("bad int %s", body)
			}
			if x.IsInt64() {
				return x.Int64()
			}
			return x
		case "float":
			json.Unmarshal(body, &s)
			switch s {
			case "nan":
				return pyNaN
			case "inf":
				return math.Inf(1)
			case "-inf":
				return math.Inf(-1)
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("bad float %s", body)
			}
			return f
		case "bytes":
			json.Unmarshal(body, &s)
			return mustHex(t, s)
		case "str":
			json.Unmarshal(body, &s)
			return pyStr(s)
		case "bool":
			var b bool
			json.Unmarshal(body, &b)
			return b
		case "none":
			return nil
		case "dict":
			return map[any]any{}
		case "list", "tuple":
			var items []json.RawMessage
			json.Unmarshal(body, &items)
			l := make([]any, len(items))
			for i, it := range items {
				l[i] = buildValue(t, it)
			}
			return l
		case "bytes_fill":
			var f struct {
				Hex   string `json:"hex"`
				Count int    `json:"count"`
			}
			json.Unmarshal(body, &f)
			return bytes.Repeat(mustHex(t, f.Hex), f.Count)
		case "list_fill":
			var f struct {
				Item  json.RawMessage `json:"item"`
				Count int             `json:"count"`
			}
			json.Unmarshal(body, &f)
			item := buildValue(t, f.Item)
			if _, isList := item.([]any); isList {
				t.Fatalf("list_fill of lists would share one list: %s", body)
			}
			l := make([]any, f.Count)
			for i := range l {
				l[i] = item
			}
			return l
		}
		t.Fatalf("unknown value kind %q", kind)
	}
	return nil
}

var truncated = regexp.MustCompile(`^(.*)\.\.\.\((\d+) chars\)$`)

// checkRepr compares a decoded value with Twisted's (possibly truncated) repr.
func checkRepr(t *testing.T, got any, want string) {
	t.Helper()
	r := pyRepr(got)
	if m := truncated.FindStringSubmatch(want); m != nil {
		n, _ := strconv.Atoi(m[2])
		if len(r) != n || !strings.HasPrefix(r, m[1]) {
			t.Errorf("decoded repr (len %d) %.60s..., want len %d %.60s...", len(r), r, n, m[1])
		}
		return
	}
	if r != want {
		t.Errorf("decoded %s, want %s", r, want)
	}
}

func TestEncodeVectors(t *testing.T) {
	v := loadVectors(t)
	for _, row := range v.Encode {
		val := buildValue(t, row.Value)
		for _, c := range []struct {
			dl  Dialect
			res encodeResult
		}{{DialectNone, row.None}, {DialectPB, row.PB}} {
			t.Run(row.Name+"/"+c.dl.String(), func(t *testing.T) {
				enc := Encoder{Dialect: c.dl}
				dst := []byte("keep")
				got, err := enc.Append(dst, val)
				if _, isBool := val.(bool); isBool {
					// Deliberate: jelly converts bools; Banana refuses them.
					// Twisted sends True as the int 1, which Go sends for int64(1).
					var ee *EncodeError
					if !errors.As(err, &ee) || string(got) != "keep" {
						t.Fatalf("bool: got %x, %v; want *EncodeError", got, err)
					}
					one, _ := enc.Append(nil, int64(1))
					if hex.EncodeToString(one) != *c.res.Hex {
						t.Fatalf("int64(1) -> %x, want %s", one, *c.res.Hex)
					}
					return
				}
				if c.res.Error != nil {
					var ee *EncodeError
					if !errors.As(err, &ee) {
						t.Fatalf("got %v, want *EncodeError (Twisted: %s)", err, *c.res.Error)
					}
					if string(got) != "keep" || !strings.HasPrefix(err.Error(), "banana: ") {
						t.Fatalf("error path: dst %q, message %q", got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if string(got[:4]) != "keep" {
					t.Fatalf("dst prefix clobbered")
				}
				wire := got[4:]
				if c.res.Hex != nil {
					if h := hex.EncodeToString(wire); h != *c.res.Hex {
						t.Fatalf("encoded %s\nwant    %s", h, *c.res.Hex)
					}
				} else {
					sum := sha256.Sum256(wire)
					if len(wire) != c.res.Len || hex.EncodeToString(sum[:]) != c.res.SHA256 ||
						!strings.HasPrefix(hex.EncodeToString(wire), c.res.HexHead) ||
						!strings.HasSuffix(hex.EncodeToString(wire), c.res.HexTail) {
						t.Fatalf("encoded len %d, sha %x; want len %d sha %s", len(wire), sum, c.res.Len, c.res.SHA256)
					}
				}
				for _, chunk := range []int{0, 1} {
					if chunk == 1 && len(wire) > 1<<16 {
						continue
					}
					out, d, err := decodeAll(t, nil, c.dl, wire, chunk)
					if err != nil || len(out) != 1 || d.Buffered() != 0 {
						t.Fatalf("decode back (chunk %d): %d values, %d buffered, %v", chunk, len(out), d.Buffered(), err)
					}
					checkRepr(t, out[0], c.res.Decoded)
					if c.res.RoundtripEqual != equal(out[0], val) {
						t.Errorf("round trip equal = %v, Twisted says %v", !c.res.RoundtripEqual, c.res.RoundtripEqual)
					}
				}
			})
		}
	}
}

// twistedError maps a Twisted decoder exception to the Go error expected.
func checkTwistedError(t *testing.T, err error, twisted string) {
	t.Helper()
	var le *LimitError
	var se *SyntaxError
	switch {
	case strings.Contains(twisted, "bytes of prefix") || strings.Contains(twisted, "bytes worth of prefix"):
		if !errors.As(err, &le) || le.Limit != "PrefixLimit" || le.Max != PrefixLimit {
			t.Fatalf("got %v, want PrefixLimit error (Twisted: %s)", err, twisted)
		}
	case strings.Contains(twisted, "String too long") || strings.Contains(twisted, "List too long"):
		if !errors.As(err, &le) || le.Limit != "SizeLimit" || le.Got != SizeLimit+1 {
			t.Fatalf("got %v, want SizeLimit error (Twisted: %s)", err, twisted)
		}
	case strings.HasPrefix(twisted, "NotImplementedError") || strings.HasPrefix(twisted, "KeyError"):
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want *SyntaxError (Twisted: %s)", err, twisted)
		}
	default:
		t.Fatalf("unmapped Twisted error %s", twisted)
	}
	if !strings.HasPrefix(err.Error(), "banana: ") {
		t.Fatalf("message %q lacks the package prefix", err)
	}
}

func TestDecodeVectors(t *testing.T) {
	v := loadVectors(t)
	for _, row := range v.Decode {
		dl, ok := ParseDialect([]byte(row.Dialect))
		if !ok {
			t.Fatalf("%s: bad dialect %q", row.Name, row.Dialect)
		}
		in := mustHex(t, row.Hex)
		chunks := []int{0, 1}
		if row.Chunked {
			chunks = []int{1, 0} // the recorded way first
		}
		for _, chunk := range chunks {
			t.Run(row.Name+"/chunk"+strconv.Itoa(chunk), func(t *testing.T) {
				out, d, err := decodeAll(t, nil, dl, in, chunk)
				if len(out) != len(row.Expressions) {
					t.Fatalf("%d expressions, want %d (%q)", len(out), len(row.Expressions), row.Expressions)
				}
				for i := range out {
					checkRepr(t, out[i], row.Expressions[i])
				}
				if row.Error != nil {
					checkTwistedError(t, err, *row.Error)
					// Broken for good.
					if err2 := d.Feed([]byte{0x00, 0x81}, nil); err2 != err {
						t.Fatalf("after error Feed returned %v, want %v", err2, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				want := *row.BufferedBytes
				if strings.HasPrefix(row.Name, "LIST length SIZE_LIMIT header only") {
					// Twisted's buffer drops a consumed LIST header; Buffered
					// counts every byte of the unfinished expression.
					want = len(in)
				}
				if d.Buffered() != want {
					t.Fatalf("Buffered() = %d, want %d", d.Buffered(), want)
				}
			})
		}
	}
}

func TestVocabularyVector(t *testing.T) {
	v := loadVectors(t)
	if v.SizeLimit != SizeLimit || v.PrefixLimit != PrefixLimit {
		t.Fatalf("limits %d/%d, want %d/%d", v.SizeLimit, v.PrefixLimit, SizeLimit, PrefixLimit)
	}
	if len(v.Vocabulary) != 31 {
		t.Fatalf("%d words", len(v.Vocabulary))
	}
	for w, i := range v.Vocabulary {
		if got, ok := VocabIndex([]byte(w)); !ok || got != i {
			t.Errorf("VocabIndex(%q) = %d, %v; want %d", w, got, ok, i)
		}
		if got, ok := VocabWord(i); !ok || string(got) != w {
			t.Errorf("VocabWord(%d) = %q, %v; want %q", i, got, ok, w)
		}
	}
	for _, i := range []int{-1, 0, 32, 1000} {
		if _, ok := VocabWord(i); ok {
			t.Errorf("VocabWord(%d) ok", i)
		}
	}
	for _, w := range []string{"unicode", "pb", "none", "", "Non", "messages", "List"} {
		if _, ok := VocabIndex([]byte(w)); ok {
			t.Errorf("VocabIndex(%q) ok", w)
		}
	}
}
