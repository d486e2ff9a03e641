package jelly

// Tags of the jelly forms. They travel as byte strings; in s-expressions
// built by this package they are Go strings, and the decoder accepts them
// as string or []byte.
const (
	TagNone          = "None"
	TagBoolean       = "boolean"
	TagUnicode       = "unicode"
	TagList          = "list"
	TagTuple         = "tuple"
	TagDictionary    = "dictionary"
	TagSet           = "set"
	TagFrozenset     = "frozenset"
	TagDecimal       = "decimal"
	TagDateTime      = "datetime"
	TagDate          = "date"
	TagTime          = "time"
	TagTimeDelta     = "timedelta"
	TagReference     = "reference"
	TagDereference   = "dereference"
	TagUnpersistable = "unpersistable"
	TagPersistent    = "persistent"

	// Broker reference forms, handled by [Refs].
	TagRemote = "remote"
	TagLocal  = "local"
	TagCached = "cached"
	TagLCache = "lcache"
)
