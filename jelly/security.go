package jelly

// The receiver's allow-list. A list tag is decoded only if it is one of the
// built-in forms below, a broker reference form handled by Options.Refs, or
// a class name registered in Options.Registry. Everything else - class,
// module, function, method, instance, unregistered dotted names, and names
// Twisted allows but cannot decode (long, dict, copy, ...) - is refused
// with *InsecureError naming the tag.

// builtinTags are the tags this package decodes itself.
var builtinTags = map[string]bool{
	TagNone: true, TagBoolean: true, TagUnicode: true,
	TagList: true, TagTuple: true, TagDictionary: true,
	TagSet: true, TagFrozenset: true,
	TagDecimal: true, TagDateTime: true, TagDate: true, TagTime: true, TagTimeDelta: true,
	TagReference: true, TagDereference: true,
	TagUnpersistable: true, TagPersistent: true,
}

// reservedTags may not be registered as class names: the built-in forms,
// the broker forms, and the names Twisted gives a meaning to.
var reservedTags = map[string]bool{
	TagRemote: true, TagLocal: true, TagCached: true, TagLCache: true,
	"NoneType": true, "bool": true, "str": true, "string": true, "int": true,
	"float": true, "long": true, "long_int": true, "dict": true,
	"class": true, "module": true, "function": true, "method": true,
	"instance": true, "copy": true,
}

// BuiltinTag reports whether tag is one of the forms jelly decodes itself
// (None, boolean, unicode, list, tuple, dictionary, set, frozenset, decimal,
// datetime, date, time, timedelta, reference, dereference, unpersistable,
// persistent).
func BuiltinTag(tag string) bool { return builtinTags[tag] }
