package pb

import "testing"

// The export table answers the same by id and by key whether it holds a
// few exports (a slice) or many (maps), across the switch and removals.
func TestExportTable(t *testing.T) {
	var tab exportTable
	type key struct{ n int }
	byID := map[int64]*export{}
	check := func(when string) {
		t.Helper()
		if tab.len() != len(byID) || len(tab.all()) != len(byID) {
			t.Fatalf("%s: len %d, all %d, want %d", when, tab.len(), len(tab.all()), len(byID))
		}
		for id, e := range byID {
			if tab.get(id) != e || tab.lookup(e.key) != e {
				t.Fatalf("%s: export %d not found by id or key", when, id)
			}
		}
		if tab.get(999) != nil || tab.lookup(key{999}) != nil {
			t.Fatalf("%s: found an export never added", when)
		}
	}
	for i := 1; i <= 3*smallExports; i++ {
		e := &export{id: int64(i), key: key{i}}
		tab.add(e)
		byID[e.id] = e
		check("adding")
		if i == smallExports && tab.byID != nil {
			t.Fatalf("maps made at %d exports", i)
		}
	}
	if tab.byID == nil {
		t.Fatal("still a slice past smallExports")
	}
	for i := 1; i <= 3*smallExports; i += 2 {
		tab.remove(byID[int64(i)])
		delete(byID, int64(i))
		check("removing")
	}

	var small exportTable
	a, b := &export{id: 1, key: key{1}}, &export{id: 2, key: key{2}}
	small.add(a)
	small.add(b)
	small.remove(a)
	small.remove(a) // twice: nothing happens
	if small.len() != 1 || small.get(2) != b || small.get(1) != nil {
		t.Fatalf("small table after removals: %d exports", small.len())
	}
}
