package jelly

import (
	"math/big"
	"testing"
)

func TestDictKeyEquality(t *testing.T) {
	d := &Dict{}
	d.Set("a", 1)
	d.Set([]byte("a"), 2)
	if d.Len() != 2 {
		t.Fatalf("str and bytes keys merged: %d keys", d.Len())
	}
	if v, _ := d.Get("a"); v != 1 {
		t.Errorf(`Get("a") = %v`, v)
	}
	if v, _ := d.Get([]byte("a")); v != 2 {
		t.Errorf(`Get(b"a") = %v`, v)
	}
	d.Set(int64(5), "five")
	if v, ok := d.Get(big.NewInt(5)); !ok || v != "five" {
		t.Errorf("big.Int key not equal to int64: %v %v", v, ok)
	}
	if v, ok := d.Get(5); !ok || v != "five" {
		t.Errorf("int key not equal to int64: %v %v", v, ok)
	}
	huge := new(big.Int).Lsh(big.NewInt(1), 100)
	d.Set(huge, "huge")
	if v, _ := d.Get(new(big.Int).Lsh(big.NewInt(1), 100)); v != "huge" {
		t.Errorf("equal big.Int keys differ")
	}
	d.Set(Tuple{int64(1), "x"}, "t")
	if v, _ := d.Get(Tuple{int64(1), "x"}); v != "t" {
		t.Errorf("Tuple keys not compared element-wise")
	}
	if _, ok := d.Get(Tuple{int64(1), []byte("x")}); ok {
		t.Errorf("Tuple key with bytes matched str")
	}
	// Python: True == 1 == 1.0 as keys; the first key object is kept.
	e := &Dict{}
	e.Set(int64(1), "a")
	e.Set(true, "b")
	e.Set(1.0, "c")
	if e.Len() != 1 || e.Keys()[0] != int64(1) {
		t.Errorf("1/True/1.0 not one key: %v", e.Items())
	}
	if v, _ := e.Get(int64(1)); v != "c" {
		t.Errorf("value = %v", v)
	}
	if e.Has(1.5) || e.Has(false) {
		t.Error("unexpected keys")
	}
	if !KeyEqual(NewFrozenSet(int64(1), int64(2)), NewFrozenSet(int64(2), int64(1))) {
		t.Error("frozensets compare as sets")
	}
	if KeyEqual("a", []byte("a")) {
		t.Error(`KeyEqual("a", b"a")`)
	}
	if !KeyEqual(Decimal{big.NewInt(100), -2}, int64(1)) {
		t.Error("Decimal('1.00') == 1 in Python")
	}
}

func TestDictOrderAndDelete(t *testing.T) {
	d := &Dict{}
	for i := 0; i < 20; i++ {
		d.Set(int64(i), i)
	}
	d.Set(int64(3), "again") // keeps its position
	if !d.Delete(int64(0)) || d.Delete(int64(0)) {
		t.Fatal("Delete")
	}
	keys := d.Keys()
	if len(keys) != 19 || keys[0] != int64(1) || keys[18] != int64(19) {
		t.Fatalf("keys %v", keys)
	}
	if v, _ := d.Get(int64(3)); v != "again" || keys[2] != int64(3) {
		t.Fatalf("overwrite moved the key: %v", keys)
	}
	for i := 1; i < 20; i++ {
		if !d.Has(int64(i)) {
			t.Fatalf("lost key %d after delete", i)
		}
	}
	n := 0
	for k, v := range d.All() {
		if n == 0 && (k != int64(1) || v != 1) {
			t.Fatalf("All starts with %v %v", k, v)
		}
		n++
	}
	if n != 19 {
		t.Fatalf("All yielded %d", n)
	}
	var nilDict *Dict
	if nilDict.Len() != 0 || nilDict.Items() != nil {
		t.Fatal("nil dict")
	}
	if v, ok := NewDict(Item{[]byte("name"), 1}).Lookup("name"); !ok || v != 1 {
		t.Fatal("Lookup does not fall back to bytes keys")
	}
}

func TestSet(t *testing.T) {
	s := NewSet(int64(1), true, 1.0, "1", []byte("1"))
	if s.Len() != 3 {
		t.Fatalf("set = %v", s.Items)
	}
	if !s.Has(big.NewInt(1)) || s.Has(int64(2)) {
		t.Fatal("Has")
	}
	if Hashable(NewSet()) || !Hashable(NewFrozenSet()) || Hashable([]any{}) || Hashable(&Dict{}) || !Hashable(Tuple{nil, "x"}) || Hashable(Tuple{[]any{}}) {
		t.Fatal("Hashable")
	}
}
