package banana

// Type bytes. Every element on the wire is a prefix of 0..64 bytes below 0x80
// (a base-128 number, least significant group first) followed by one of these.
const (
	TypeList    byte = 0x80 // prefix: element count; the elements follow
	TypeInt     byte = 0x81 // prefix: value (0 <= v < 2^31 when Twisted sends it)
	TypeString  byte = 0x82 // prefix: byte length; the bytes follow
	TypeNeg     byte = 0x83 // prefix: magnitude (-2^31 <= v < 0 when Twisted sends it)
	TypeFloat   byte = 0x84 // no prefix (ignored on receipt); 8 bytes big-endian IEEE-754
	TypeLongInt byte = 0x85 // prefix: value (v >= 2^31)
	TypeLongNeg byte = 0x86 // prefix: magnitude (v < -2^31)
	TypeVocab   byte = 0x87 // prefix: vocabulary index (dialect pb only)
)

// SizeLimit is Twisted's SIZE_LIMIT: the largest STRING length and LIST
// element count, on encode and on decode.
const SizeLimit = 655360

// PrefixLimit is the largest number of prefix bytes an element may have.
// It bounds integers to magnitudes below 2^448.
const PrefixLimit = 64

// floatSize is the fixed body length of a FLOAT element.
const floatSize = 8
