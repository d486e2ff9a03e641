package banana

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestDialectNames(t *testing.T) {
	for _, d := range []Dialect{DialectNone, DialectPB} {
		got, ok := ParseDialect([]byte(d.String()))
		if !ok || got != d {
			t.Errorf("ParseDialect(%q) = %v, %v", d.String(), got, ok)
		}
	}
	for _, name := range []string{"", "PB", "None", "klingon", "pb "} {
		if _, ok := ParseDialect([]byte(name)); ok {
			t.Errorf("ParseDialect(%q) ok", name)
		}
	}
	if s := Dialect(7).String(); s != "Dialect(7)" {
		t.Errorf("Dialect(7).String() = %q", s)
	}
}

func TestOfferAndChoiceBytes(t *testing.T) {
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{AppendOffer(nil), "02800282706204826e6f6e65"}, // Twisted's [b"pb", b"none"]
		{AppendOffer(nil, DialectPB, DialectNone), "02800282706204826e6f6e65"},
		{AppendOffer([]byte{0xaa}, DialectNone), "aa018004826e6f6e65"},
		{AppendChoice(nil, DialectPB), "02827062"},
		{AppendChoice(nil, DialectNone), "04826e6f6e65"},
	} {
		if h := hex.EncodeToString(c.got); h != c.want {
			t.Errorf("got %s, want %s", h, c.want)
		}
	}
}

// Both roles, each over a Decoder, as a connection runs them.
func TestNegotiationBothRoles(t *testing.T) {
	for _, c := range []struct {
		name               string
		serverOffers       []Dialect
		clientSupports     []Dialect
		want               Dialect
		clientErr, servErr bool
	}{
		{"twisted defaults", nil, nil, DialectPB, false, false},
		{"client only none", nil, []Dialect{DialectNone}, DialectNone, false, false},
		{"server only none", []Dialect{DialectNone}, nil, DialectNone, false, false},
		{"server prefers none", []Dialect{DialectNone, DialectPB}, nil, DialectNone, false, false},
		{"nothing in common", []Dialect{DialectNone}, []Dialect{DialectPB}, 0, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := NewDecoder(nil)
			var offer any
			if err := client.Feed(AppendOffer(nil, c.serverOffers...), func(v any) error { offer = v; return nil }); err != nil {
				t.Fatal(err)
			}
			d, err := ChooseDialect(offer, c.clientSupports...)
			if c.clientErr {
				var ne *NegotiationError
				if !errors.As(err, &ne) {
					t.Fatalf("ChooseDialect: %v, want *NegotiationError", err)
				}
				return
			}
			if err != nil || d != c.want {
				t.Fatalf("ChooseDialect = %v, %v; want %v", d, err, c.want)
			}
			server := NewDecoder(nil)
			var choice any
			if err := server.Feed(AppendChoice(nil, d), func(v any) error { choice = v; return nil }); err != nil {
				t.Fatal(err)
			}
			got, err := AcceptChoice(choice, c.serverOffers...)
			if err != nil || got != c.want {
				t.Fatalf("AcceptChoice = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestChooseDialectOddOffers(t *testing.T) {
	for _, c := range []struct {
		offer any
		want  Dialect
		ok    bool
	}{
		{[]any{[]byte("klingon"), int64(3), []any{}, []byte("none"), []byte("pb")}, DialectNone, true},
		{[]any{"pb"}, DialectPB, true},
		{[]any{}, 0, false},
		{[]byte("pb"), 0, false}, // not a list: Twisted iterates its bytes and finds nothing
		{int64(1), 0, false},
		{nil, 0, false},
	} {
		d, err := ChooseDialect(c.offer)
		if c.ok != (err == nil) || (c.ok && d != c.want) {
			t.Errorf("ChooseDialect(%v) = %v, %v", c.offer, d, err)
		}
	}
}

func TestAcceptChoiceRefusals(t *testing.T) {
	for _, choice := range []any{[]byte("klingon"), []any{[]byte("pb")}, int64(0), nil, []byte("")} {
		var ne *NegotiationError
		if _, err := AcceptChoice(choice); !errors.As(err, &ne) || err.Error()[:8] != "banana: " {
			t.Errorf("AcceptChoice(%v): %v", choice, err)
		}
	}
	// A dialect that was not offered is refused even if known.
	if _, err := AcceptChoice([]byte("pb"), DialectNone); err == nil {
		t.Error("accepted pb though only none was offered")
	}
	if d, err := AcceptChoice("none", DialectNone); err != nil || d != DialectNone {
		t.Errorf("string choice: %v, %v", d, err)
	}
}
