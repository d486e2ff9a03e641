package banana

import "strconv"

// Dialect is a Banana dialect. DialectNone sends every string as STRING;
// DialectPB replaces the 31 words of the pb vocabulary with VOCAB elements.
// Any value other than DialectPB behaves like DialectNone.
type Dialect uint8

const (
	DialectNone Dialect = iota
	DialectPB
)

// String returns the dialect's wire name, "none" or "pb".
func (d Dialect) String() string {
	switch d {
	case DialectNone:
		return "none"
	case DialectPB:
		return "pb"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// ParseDialect maps a wire name ("pb" or "none") to its Dialect.
func ParseDialect(name []byte) (Dialect, bool) {
	switch string(name) {
	case "none":
		return DialectNone, true
	case "pb":
		return DialectPB, true
	}
	return 0, false
}

// knownDialects is Twisted's knownDialects, in its order of preference.
var knownDialects = []Dialect{DialectPB, DialectNone}
