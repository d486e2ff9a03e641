package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// fromJSON turns a decoded JSON value (numbers as json.Number) into the
// jelly value a Python peer expects: integers as int, other numbers as
// float, objects as dicts with str keys.
func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		if n, ok := new(big.Int).SetString(string(x), 10); ok {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromJSON(e)
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := jelly.NewDict()
		for _, k := range keys {
			d.Set(k, fromJSON(x[k]))
		}
		return d
	}
	return v
}

// toJSON turns a jelly value into something encoding/json prints:
// tuples, lists and sets as arrays, dicts with str keys as objects
// (other dicts as arrays of [key, value] pairs), bytes as text when they
// are UTF-8 and as {"base64": ...} otherwise.
func toJSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case *big.Int:
		return json.Number(x.String())
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return map[string]any{"base64": base64.StdEncoding.EncodeToString(x)}
	case []any:
		return listJSON(x)
	case jelly.Tuple:
		return listJSON(x)
	case *jelly.Set:
		return listJSON(x.Items)
	case *jelly.Dict:
		obj := make(map[string]any, x.Len())
		pairs := make([]any, 0, x.Len())
		allStr := true
		for _, it := range x.Items() {
			k, ok := it.Key.(string)
			if !ok {
				allStr = false
			}
			obj[k] = toJSON(it.Value)
			pairs = append(pairs, []any{toJSON(it.Key), toJSON(it.Value)})
		}
		if allStr {
			return obj
		}
		return pairs
	case *pb.RemoteReference:
		return x.String()
	case *pb.RemoteError:
		return map[string]any{"error": x.Type, "value": x.Value}
	}
	return fmt.Sprint(v)
}

func listJSON(items []any) []any {
	out := make([]any, len(items))
	for i, e := range items {
		out[i] = toJSON(e)
	}
	return out
}
