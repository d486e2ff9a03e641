package jelly

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Binding a dict to a struct (Convert): the field table of each struct
// type is built once and kept.

type bindField struct {
	name     string // the key, from the tag or the field name
	tagged   bool   // name came from a tag: match it exactly only
	index    []int
	required bool
}

type bindTable struct {
	fields []bindField
	exact  map[string]int // key -> position in fields
}

var bindTables sync.Map // reflect.Type -> *bindTable

func bindTableOf(t reflect.Type) *bindTable {
	if bt, ok := bindTables.Load(t); ok {
		return bt.(*bindTable)
	}
	bt := &bindTable{exact: map[string]int{}}
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() || throughPointer(t, f.Index) {
			continue
		}
		tag, opts, _ := strings.Cut(f.Tag.Get("jelly"), ",")
		if tag == "-" && opts == "" {
			continue
		}
		bf := bindField{name: tag, tagged: tag != "", index: f.Index,
			required: strings.Contains(","+opts+",", ",required,")}
		if tag == "" {
			bf.name = f.Name
		}
		if _, dup := bt.exact[bf.name]; dup {
			continue // the shallower field wins, as reflect.VisibleFields orders them
		}
		bt.exact[bf.name] = len(bt.fields)
		bt.fields = append(bt.fields, bf)
	}
	v, _ := bindTables.LoadOrStore(t, bt)
	return v.(*bindTable)
}

// field finds the field a dict key fills: the exact name, else an
// untagged field whose name matches case-insensitively.
func (bt *bindTable) field(key string) int {
	if i, ok := bt.exact[key]; ok {
		return i
	}
	for i, f := range bt.fields {
		if !f.tagged && strings.EqualFold(f.name, key) {
			return i
		}
	}
	return -1
}

func bindStruct(items []Item, t reflect.Type, depth int) (reflect.Value, error) {
	bt := bindTableOf(t)
	out := reflect.New(t).Elem()
	var seen []bool
	for _, it := range items {
		key, ok := String(it.Key)
		if !ok {
			continue // a non-text key can match no field
		}
		i := bt.field(key)
		if i < 0 {
			continue
		}
		f := bt.fields[i]
		fv := out.FieldByIndex(f.index)
		cv, err := convert(it.Value, fv.Type(), depth+1)
		if err != nil {
			return reflect.Value{}, atKey(err, it.Key, false)
		}
		fv.Set(cv)
		if seen == nil {
			seen = make([]bool, len(bt.fields))
		}
		seen[i] = true
	}
	for i, f := range bt.fields {
		if f.required && (seen == nil || !seen[i]) {
			return reflect.Value{}, &TypeError{Value: "dict", Want: t.String(), WantType: t,
				Msg: fmt.Sprintf("missing required key %s", strconv.Quote(f.name))}
		}
	}
	return out, nil
}

// atIndex and atKey prefix a nested conversion error's Path.
func atIndex(err error, i int) error {
	return withPath(err, "["+strconv.Itoa(i)+"]", "")
}

func atKey(err error, key any, inKey bool) error {
	var seg string
	switch k := key.(type) {
	case string:
		seg = "[" + strconv.Quote(k) + "]"
	case []byte:
		seg = "[b" + strconv.Quote(string(k)) + "]"
	default:
		seg = "[" + fmt.Sprint(k) + "]"
	}
	if inKey {
		return withPath(err, seg, "the key")
	}
	return withPath(err, seg, "")
}

func withPath(err error, seg, note string) error {
	var te *TypeError
	if !errors.As(err, &te) {
		return err
	}
	c := *te
	c.Path = seg + c.Path
	if note != "" {
		if c.Msg != "" {
			c.Msg = note + ": " + c.Msg
		} else {
			c.Msg = note
		}
	}
	return &c
}
