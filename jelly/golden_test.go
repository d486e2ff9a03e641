package jelly

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/gospread/spread/banana"
)

// Types standing in for the vecmodel classes of the vectors.

type Point struct {
	X     int    `jelly:"x"`
	Y     int    `jelly:"y"`
	Label string `jelly:"label"`
}

type secretState struct{ public string }

func (s secretState) JellyType() string { return "custom.tag.Secret" }
func (s secretState) JellyState() any   { return NewDict(Item{"public", s.public}) }

type unregisteredCopy struct{ a int64 }

func (u *unregisteredCopy) JellyType() string { return "vecmodel.Unregistered" }
func (u *unregisteredCopy) JellyState() any   { return NewDict(Item{"a", u.a}) }

// fakeRefs plays the broker for the rows that need one.
type fakeRemote struct{ ID int64 }
type fakeLocal struct{ ID any }
type fakeLCache struct{ ID int64 }
type fakeCache struct {
	Tag   string
	ID    int64
	State any
	Sent  bool
}

type fakeRefs struct{}

var (
	errUnknownCache = errors.New("unknown cache id")
	errBadSecret    = errors.New("bad custom.tag.Secret state")
)

func (fakeRefs) MarshalRef(m *Marshaler, v any) (any, bool, error) {
	switch x := v.(type) {
	case *fakeRemote:
		return []any{TagRemote, x.ID}, true, nil
	case *fakeLocal:
		return []any{TagLocal, x.ID}, true, nil
	case *fakeLCache:
		return []any{TagLCache, x.ID}, true, nil
	case *fakeCache:
		if x.Sent {
			return []any{TagCached, x.ID}, true, nil
		}
		s, err := m.Marshal(x.State)
		if err != nil {
			return nil, false, err
		}
		return []any{x.Tag, x.ID, s}, true, nil
	}
	return nil, false, nil
}

func (fakeRefs) UnmarshalRef(u *Unmarshaler, tag string, sexp []any) (any, error) {
	if len(sexp) < 2 {
		return nil, fmt.Errorf("short %s", tag)
	}
	id, isInt := Int(sexp[1])
	switch tag {
	case TagRemote:
		if !isInt {
			return nil, fmt.Errorf("bad id")
		}
		return &fakeRemote{id}, nil
	case TagLocal:
		if s, ok := String(sexp[1]); ok && s == "root" {
			return &fakeLocal{"root"}, nil
		}
		if !isInt || id == 99 {
			return nil, nil // unknown luid -> None, as in Twisted
		}
		return &fakeLocal{id}, nil
	case TagCached, TagLCache:
		return nil, errUnknownCache
	case "vecmodel.Score":
		if len(sexp) != 3 {
			return nil, fmt.Errorf("bad cache form")
		}
		st, err := u.Unmarshal(sexp[2])
		if err != nil {
			return nil, err
		}
		return &fakeCache{Tag: tag, ID: id, State: st}, nil
	}
	return nil, fmt.Errorf("unexpected tag %s", tag)
}

func (fakeRefs) IsRefTag(tag string) bool { return tag == "vecmodel.Score" }

func testRegistry(t testing.TB) *Registry {
	r := NewRegistry()
	if err := r.Register("vecmodel.Point", &Point{}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFunc("custom.tag.Secret", func(state any) (any, error) {
		d, ok := state.(*Dict)
		if !ok {
			return nil, errBadSecret
		}
		v, _ := d.Lookup("public")
		s, _ := String(v)
		return secretState{s}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func testOptions(t testing.TB) *Options {
	return &Options{Registry: testRegistry(t), Refs: fakeRefs{}}
}

// goValue returns the Go value for a jelly row (with the sharing the Python
// value had), and the value Unmarshal must give back (nil want means same).
func goValue(row jellyRow) (v any, want any, err error) {
	one := func() []any { return []any{int64(1)} }
	switch row.Name {
	case "shared list: a=[1]; [a, a]":
		a := one()
		return []any{a, a}, nil, nil
	case "shared dict: d={}; (d, d)":
		d := &Dict{}
		return Tuple{d, d}, nil, nil
	case "shared list inside dict values: {'x': a, 'y': a}":
		a := one()
		return NewDict(Item{"x", a}, Item{"y", a}), nil, nil
	case "cyclic list: a=[]; a.append(a)":
		a := make([]any, 1)
		a[0] = a
		return a, nil, nil
	case "cyclic dict: d={}; d['self']=d":
		d := &Dict{}
		d.Set("self", d)
		return d, nil, nil
	case "cycle through a tuple: l=[]; t=(l,); l.append(t); value t":
		l := make([]any, 1)
		tu := Tuple{l}
		l[0] = tu
		return tu, nil, nil
	case "three references to one list: [a, a, a]":
		a := one()
		return []any{a, a, a}, nil, nil
	case "reference ids follow first repeat: a=[1]; b=[2]; [a, b, b, a]":
		a, b := one(), []any{int64(2)}
		return []any{a, b, b, a}, nil, nil
	case "plain instance vecmodel.Plain via PB (security refuses class)":
		u := Unpersistable{Reason: "instance of class vecmodel.Plain deemed insecure"}
		return u, u, nil
	case "exception instance ValueError('x') via PB":
		u := Unpersistable{Reason: "instance of class builtins.ValueError deemed insecure"}
		return u, u, nil
	case "Copyable vecmodel.Point(1, 2, 'p')":
		p := &Point{1, 2, "p"}
		return p, p, nil
	case "Copyable with custom type tag/state (SecretState)":
		return secretState{"visible"}, secretState{"visible"}, nil
	case "Copyable not registered on receiver (Unregistered)":
		return &unregisteredCopy{1}, &InsecureError{Tag: "vecmodel.Unregistered"}, nil
	case "same Copyable twice: [p, p]":
		p := &Point{0, 0, "shared"}
		return []any{p, p}, nil, nil
	case "Referenceable vecmodel.Counter", "Viewable vecmodel.Group (serialized with a perspective)":
		return &fakeRemote{1}, &fakeRemote{1}, nil
	case "same Referenceable twice: [c, c]":
		c := &fakeRemote{1}
		return []any{c, c}, []any{&fakeRemote{1}, &fakeRemote{1}}, nil
	case "Cacheable vecmodel.Score(5): first send":
		st := NewDict(Item{"value", int64(5)})
		return &fakeCache{Tag: "vecmodel.Score", ID: 1, State: st}, &fakeCache{Tag: "vecmodel.Score", ID: 1, State: st}, nil
	case "Cacheable vecmodel.Score(5): second send on same broker":
		return &fakeCache{ID: 1, Sent: true}, errUnknownCache, nil
	case "RemoteCache sent back to the broker it came from":
		return &fakeLCache{1}, errUnknownCache, nil
	case "RemoteReference sent back to the broker it came from":
		return &fakeLocal{int64(1)}, nil, nil
	}
	v, err = fromJSON(row.Value)
	return v, nil, err
}

// Rows that are not jelly values: whole PB messages and forms that only a
// broker can produce or check. Their jelly parts are covered by other rows.
var brokerRows = map[string]string{
	"error message for ValueError('boom') raised in a remote method": "a whole PB error message; CopyableFailure is the broker's",
	"error message for pb.Error('polite') raised in a remote method": "a whole PB error message; CopyableFailure is the broker's",
	"RemoteReference jellied without a broker":                       "no wire form (Banana refuses it)",
	"class object int": "no Go value is a Python class (decoding is checked below)",
	"function object (name is a str -> Banana refuses)": "no Go value is a Python function",
	"module object (name is a str -> Banana refuses)":   "no Go value is a Python module",
	"Decimal('NaN') (jelly itself fails)":               "Decimal has no NaN",
	"Decimal('Infinity') (exponent is a str)":           "Decimal has no infinity",
	"datetime with tzinfo (refused)":                    "DateTime is naive",
	"int 2**448 (jelly ok, Banana refuses)":             "checked in TestMarshalHugeInt",
}

// The rows Twisted itself refuses to decode must be refused here too.
func TestGoldenJellyRefused(t *testing.T) {
	vec := loadVectors(t)
	n := 0
	for _, row := range vec.Jelly {
		if row.UnserializeError == "" {
			continue
		}
		n++
		_, err := Unmarshal(sexpFromJSON(t, row.SexpTyped), testOptions(t))
		var ie *InsecureError
		if !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want *InsecureError (Twisted: %s)", row.Name, err, row.UnserializeError)
		}
	}
	if n < 2 {
		t.Fatalf("only %d refused rows", n)
	}
}

func TestGoldenJelly(t *testing.T) {
	vec := loadVectors(t)
	opt := testOptions(t)
	enc := &banana.Encoder{Dialect: banana.DialectPB}
	tested := 0
	for _, row := range vec.Jelly {
		t.Run(row.Name, func(t *testing.T) {
			if why, ok := brokerRows[row.Name]; ok {
				t.Skip(why)
			}
			v, want, err := goValue(row)
			if err != nil {
				t.Fatalf("no Go value for row: %v", err)
			}
			tested++
			wantSexp := sexpFromJSON(t, row.SexpTyped)
			got, err := Marshal(v, opt)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !sexpEqual(got, wantSexp) {
				t.Fatalf("Marshal:\n got %s\nwant %s", sexpString(got), sexpString(wantSexp))
			}
			wire, err := enc.Append(nil, got)
			if err != nil {
				t.Fatalf("banana: %v", err)
			}
			if h := hex.EncodeToString(wire); h != row.PBHex {
				t.Errorf("wire:\n got %s\nwant %s", h, row.PBHex)
			}
			back, err := Unmarshal(wantSexp, opt)
			switch w := want.(type) {
			case error:
				var ie *InsecureError
				if errors.As(w, &ie) {
					var gie *InsecureError
					if !errors.As(err, &gie) || gie.Tag != ie.Tag {
						t.Fatalf("Unmarshal error = %v, want %v", err, w)
					}
					return
				}
				if !errors.Is(err, w) {
					t.Fatalf("Unmarshal error = %v, want %v", err, w)
				}
				return
			case nil:
				want = v
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !equal(back, want, true) {
				t.Fatalf("Unmarshal = %#v, want %#v", back, want)
			}
			// Re-marshaling what we decoded gives the same bytes: types
			// and sharing survived.
			again, err := Marshal(back, opt)
			if err != nil {
				t.Fatalf("re-Marshal: %v", err)
			}
			if !sexpEqual(again, wantSexp) {
				t.Fatalf("re-Marshal:\n got %s\nwant %s", sexpString(again), sexpString(wantSexp))
			}
		})
	}
	if tested < 50 {
		t.Fatalf("only %d jelly rows tested", tested)
	}
}

func TestMarshalHugeInt(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 448)
	got, err := Marshal(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := got.(*big.Int); !ok || g.Cmp(n) != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestGoldenSharing(t *testing.T) {
	vec := loadVectors(t)
	byName := map[string]any{}
	for _, row := range vec.Jelly {
		if len(row.SexpTyped) > 0 {
			v, err := Unmarshal(sexpFromJSON(t, row.SexpTyped), testOptions(t))
			if err == nil {
				byName[row.Name] = v
			}
		}
	}
	l := byName["shared list: a=[1]; [a, a]"].([]any)
	if !sameSlice(l[0], l[1]) {
		t.Error("shared list decoded as two lists")
	}
	tu := byName["shared dict: d={}; (d, d)"].(Tuple)
	if tu[0].(*Dict) != tu[1].(*Dict) {
		t.Error("shared dict decoded as two dicts")
	}
	cl := byName["cyclic list: a=[]; a.append(a)"].([]any)
	if !sameSlice(cl, cl[0]) {
		t.Error("cyclic list is not cyclic")
	}
	cd := byName["cyclic dict: d={}; d['self']=d"].(*Dict)
	if s, _ := cd.Get("self"); s != cd {
		t.Error("cyclic dict is not cyclic")
	}
	ct := byName["cycle through a tuple: l=[]; t=(l,); l.append(t); value t"].(Tuple)
	if !sameSlice(ct[0].([]any)[0], ct) {
		t.Error("tuple cycle is not cyclic")
	}
	ps := byName["same Copyable twice: [p, p]"].([]any)
	if ps[0].(*Point) != ps[1].(*Point) {
		t.Error("shared Copyable decoded twice")
	}
	ab := byName["reference ids follow first repeat: a=[1]; b=[2]; [a, b, b, a]"].([]any)
	if !sameSlice(ab[0], ab[3]) || !sameSlice(ab[1], ab[2]) || sameSlice(ab[0], ab[1]) {
		t.Error("wrong sharing for [a, b, b, a]")
	}
}

// unjellyWant is what each unjelly row must give: a value, or an error
// (matched by type, and by tag for *InsecureError).
func unjellyWant() map[string]any {
	tagErr := func(tag string) error { return &InsecureError{Tag: tag} }
	bad := &DecodeError{}
	return map[string]any{
		"bare int":                               int64(5),
		"bare bytes":                             []byte("abc"),
		"bare float":                             2.5,
		"None":                                   nil,
		"boolean true":                           true,
		"boolean maybe (bad)":                    bad,
		"unicode":                                "h\u00e9llo",
		"unicode invalid utf-8":                  bad,
		"list":                                   []any{int64(1), []any{}},
		"tuple":                                  Tuple{int64(1), int64(2)},
		"dictionary":                             NewDict(Item{"a", int64(1)}, Item{[]byte("b"), int64(2)}),
		"dictionary with malformed pair":         bad,
		"set with duplicates":                    &Set{Items: []any{int64(1), int64(2)}},
		"frozenset":                              &Set{Items: []any{int64(1)}, Frozen: true},
		"decimal 314e-2":                         Decimal{big.NewInt(314), -2},
		"decimal -5e0":                           Decimal{big.NewInt(-5), 0},
		"datetime":                               DateTime{2024, 1, 2, 3, 4, 5, 6},
		"date":                                   Date{2024, 1, 2},
		"time":                                   Time{3, 4, 5, 6},
		"timedelta":                              TimeDelta{1, 2, 3},
		"reference/dereference shared":           []any{[]any{int64(1)}, []any{int64(1)}},
		"reference cyclic":                       "cyclic",
		"dangling dereference":                   bad, // Twisted returns a junk placeholder; we refuse
		"unpersistable":                          Unpersistable{"why"},
		"persistent (no loader in PB)":           Unpersistable{"Persistent callback not found"},
		"instance (deprecated tag, not allowed)": tagErr("instance"),
		"class":                                  tagErr("class"),
		"module":                                 tagErr("module"),
		"function":                               tagErr("function"),
		"method":                                 tagErr("method"),
		"arbitrary class name builtins.object":   tagErr("builtins.object"),
		"unregistered class vecmodel.Plain":      tagErr("vecmodel.Plain"),
		"registered copy tag vecmodel.Point":     &Point{X: 1},
		"registered copy tag with bytes key":     &Point{X: 1},
		"copy tag whose state is not a dict":     bad,
		"'long' (allowed type name, no handler)": tagErr("long"),
		"'copy' atom (vocabulary word, no handler)": tagErr("copy"),
		"unknown tag without dot":                   tagErr("frobnicate"),
		"first element not a string":                bad,
		"empty list":                                bad,
		"remote":                                    &fakeRemote{5},
		"local root":                                &fakeLocal{"root"},
		"local unknown id":                          nil,
		"cached unknown id":                         errUnknownCache,
		"lcache unknown id":                         errUnknownCache,
	}
}

func checkResult(t *testing.T, got any, err error, want any) {
	t.Helper()
	switch w := want.(type) {
	case *InsecureError:
		var ie *InsecureError
		if !errors.As(err, &ie) || ie.Tag != w.Tag {
			t.Fatalf("got (%#v, %v), want InsecureError %q", got, err, w.Tag)
		}
		return
	case *DecodeError:
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("got (%#v, %v), want *DecodeError", got, err)
		}
		return
	case error:
		if !errors.Is(err, w) {
			t.Fatalf("got (%#v, %v), want %v", got, err, w)
		}
		return
	}
	if err != nil {
		t.Fatalf("error %v, want %#v", err, want)
	}
	if want == "cyclic" {
		l, ok := got.([]any)
		if !ok || len(l) != 1 || !sameSlice(l, l[0]) {
			t.Fatalf("got %#v, want a list containing itself", got)
		}
		return
	}
	if !equal(got, want, true) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestGoldenUnjelly(t *testing.T) {
	vec := loadVectors(t)
	wants := unjellyWant()
	opt := testOptions(t)
	for _, row := range vec.Unjelly {
		t.Run(row.Name, func(t *testing.T) {
			want, ok := wants[row.Name]
			if !ok {
				t.Fatalf("no expectation for row %q (%s -> %s%s)", row.Name, row.Sexp, row.Result, row.Error)
			}
			// Twisted's outcome class must agree with ours.
			if _, isErr := want.(error); isErr != (row.Error != "") && row.Name != "dangling dereference" {
				t.Fatalf("expectation disagrees with Twisted: %s%s", row.Result, row.Error)
			}
			sexp := sexpFromJSON(t, row.SexpTyped)
			got, err := Unmarshal(sexp, opt)
			checkResult(t, got, err, want)
		})
	}
	if len(wants) != len(vec.Unjelly) {
		t.Errorf("%d expectations for %d rows", len(wants), len(vec.Unjelly))
	}
}

// Without a Refs hook, broker forms are refused like any unknown tag.
func TestBrokerTagsWithoutRefs(t *testing.T) {
	for _, tag := range []string{TagRemote, TagLocal, TagCached, TagLCache, "vecmodel.Score"} {
		_, err := Unmarshal([]any{[]byte(tag), int64(1)}, &Options{Registry: testRegistry(t)})
		var ie *InsecureError
		if !errors.As(err, &ie) || ie.Tag != tag {
			t.Errorf("%s: err = %v, want InsecureError", tag, err)
		}
	}
}
