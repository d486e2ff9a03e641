package banana

import (
	"fmt"
	"math/big"
)

// Dialect negotiation, as Twisted does it when a connection starts:
//
//  1. The server sends its offer, a LIST of dialect names, in dialect none.
//  2. The client answers with the first offered name it supports, as a bare
//     STRING in dialect none, and switches to that dialect.
//  3. The server switches to the client's choice if it offered it.
//
// These helpers are pure; the caller does the I/O and calls SetDialect on its
// Decoder (and sets its Encoder's Dialect) after choosing or accepting.

// AppendOffer appends the server's offer: the names of dialects as an
// uncompressed list. With no dialects it offers Twisted's [b"pb", b"none"].
func AppendOffer(dst []byte, dialects ...Dialect) []byte {
	if len(dialects) == 0 {
		dialects = knownDialects
	}
	dst = appendPrefix(dst, uint64(len(dialects)))
	dst = append(dst, TypeList)
	for _, d := range dialects {
		dst = appendName(dst, d)
	}
	return dst
}

// AppendChoice appends the client's answer: the dialect's name as a bare,
// uncompressed STRING.
func AppendChoice(dst []byte, d Dialect) []byte {
	return appendName(dst, d)
}

func appendName(dst []byte, d Dialect) []byte {
	name := d.String()
	dst = appendPrefix(dst, uint64(len(name)))
	dst = append(dst, TypeString)
	return append(dst, name...)
}

// ChooseDialect is the client's side: offer is the first expression received
// from the server (it must be a list); the result is the first offered dialect
// that is among supported (default: pb and none). Offered names that are not
// byte strings or are unknown are skipped, as Twisted skips them.
func ChooseDialect(offer any, supported ...Dialect) (Dialect, error) {
	if len(supported) == 0 {
		supported = knownDialects
	}
	list, ok := offer.([]any)
	if !ok {
		return 0, &NegotiationError{Msg: fmt.Sprintf("offer is %s, not a list", describe(offer))}
	}
	for _, item := range list {
		name, ok := nameBytes(item)
		if !ok {
			continue
		}
		d, ok := ParseDialect(name)
		if ok && contains(supported, d) {
			return d, nil
		}
	}
	return 0, &NegotiationError{Msg: "no offered dialect is supported"}
}

// AcceptChoice is the server's side: choice is the first expression received
// from the client; it must be the name of one of the offered dialects
// (default: pb and none).
func AcceptChoice(choice any, offered ...Dialect) (Dialect, error) {
	if len(offered) == 0 {
		offered = knownDialects
	}
	name, ok := nameBytes(choice)
	if !ok {
		return 0, &NegotiationError{Msg: fmt.Sprintf("choice is %s, not a dialect name", describe(choice))}
	}
	d, ok := ParseDialect(name)
	if !ok || !contains(offered, d) {
		return 0, &NegotiationError{Msg: fmt.Sprintf("client chose %q, which was not offered", name)}
	}
	return d, nil
}

func nameBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

func contains(ds []Dialect, d Dialect) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// describe names the kind of a decoded value for messages.
func describe(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case []byte, string:
		return "a string"
	case nil:
		return "nothing"
	case float64, float32:
		return "a float"
	case int64, *big.Int:
		return "an integer"
	}
	return fmt.Sprintf("a %T", v)
}
