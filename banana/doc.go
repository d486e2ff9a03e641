// Package banana implements Banana, the s-expression framing under Twisted's
// Perspective Broker, byte-compatible with Twisted 22.4.
//
// Banana moves four kinds of values: lists, integers, floats and byte
// strings. Everything richer (text, None, dicts, objects) is turned into
// these by jelly, one layer up. This package is pure: no goroutines, no I/O.
// The protocol is described in the repository's docs/protocol.md, section 1.
//
// # Wire format
//
// Every element is a prefix, a type byte and, for some types, a body. The
// prefix is 0 to 64 bytes below 0x80 holding an unsigned number in base 128,
// least significant group first; the first byte with the high bit set is the
// type byte (TypeList .. TypeVocab). LIST is followed by its count of
// elements, STRING by its length in bytes, FLOAT by 8 big-endian IEEE-754
// bytes (FLOAT takes no prefix; one is ignored on receipt). Twisted sends
// 0..2^31-1 as INT, -2^31..-1 as NEG, and larger magnitudes as LONGINT and
// LONGNEG; the Decoder treats INT and LONGINT (NEG and LONGNEG) alike.
//
// # Values
//
//	Banana        Go (decoded)           Go (accepted by Encoder)
//	LIST          []any                  []any
//	INT, LONGINT  int64, or *big.Int     int, int8..int64, uint, uint8..uint64, *big.Int
//	NEG, LONGNEG  when int64 cannot hold it
//	FLOAT         float64                float32, float64
//	STRING        []byte                 []byte, string
//	VOCAB         string                 (a []byte or string equal to a word)
//
// A Go string is raw bytes on the wire, not Python text: jelly uses it for
// tags such as "list". bool, nil and other types are refused by the Encoder
// (jelly converts bools before they get here, while Twisted's Banana would
// send True as the INT 1).
//
// A VOCAB element decodes to its word as a Go string, boxed once for the
// whole program, so that it costs no allocation; the receiver must treat it
// as the same bytes a STRING would carry (Twisted sends application bytes
// equal to a word as VOCAB too). A STRING decodes to a fresh []byte that
// never aliases the input and may be modified. Small ones (up to 64 bytes)
// of one top-level expression are cut from one shared array, without
// overlapping and with capacity equal to length, so that modifying or
// appending to one never affects another; keeping one keeps that array (at
// most 512 bytes of the same expression) alive. The element arrays of small
// lists (up to 16 elements) are shared the same way (at most 64 slots). An
// empty STRING or LIST decodes to a shared empty value of zero capacity.
//
// # Dialects
//
// In DialectPB the 31 words of the pb vocabulary (VocabIndex, VocabWord) are
// sent as VOCAB elements. The Encoder compresses every []byte or string equal
// to a word, including application data, exactly as Twisted does; the
// Decoder turns VOCAB into a shared Go string (see Values). In DialectNone, which is also the
// state before negotiation, VOCAB is a SyntaxError. The server offers
// dialects as a list (AppendOffer), the client answers with a bare string
// (ChooseDialect, AppendChoice), and the server checks the answer
// (AcceptChoice); both messages are sent in dialect none.
//
// # Limits
//
// The Encoder refuses strings and lists longer than SizeLimit (655360, or
// Encoder.SizeLimit) and integers with magnitude 2^448 or more (they would
// need more than PrefixLimit prefix bytes), with an *EncodeError; nothing is
// appended then. Appending to a dst with enough capacity does not allocate.
//
// The Decoder enforces, each as a *LimitError naming the limit:
//
//	PrefixLimit   64 prefix bytes; the 65th is refused even before a type byte
//	SizeLimit     655360 (Config.SizeLimit): STRING length and LIST count,
//	              checked at the header before any body byte is read
//	MaxDepth      100 (Config.MaxDepth): LIST nesting; Twisted has no such limit
//	MaxExprBytes  4 MiB (Config.MaxExprBytes): wire bytes of one top-level
//	              expression, also checked at STRING and LIST headers
//
// Memory use follows the bytes actually received, never a header's claim: a
// LIST header preallocates at most a few slots and a STRING buffer grows as
// its body arrives. The Decoder is an incremental state machine that looks
// at each input byte once; input may be split anywhere, and several
// expressions may arrive in one Feed. After any error the Decoder stays
// broken and returns the same error.
//
// # Twisted compatibility
//
// Encodings are byte-identical to Twisted 22.4's, in both dialects, and the
// Decoder accepts what Twisted's accepts: an empty prefix means 0, prefixes
// may be non-minimal, INT may exceed 2^31, NEG 0 is 0, a prefix before FLOAT
// is ignored. It refuses what Twisted refuses: type bytes 0x88..0xFF, VOCAB 0
// or 32 and above, VOCAB in dialect none, and the limits above. Float bits are
// sent as they are: Go's math.NaN() differs in its payload from Python's
// float("nan") (0x7ff8000000000000). Twisted's decoder has no depth or
// expression size limit; peers that need more than the defaults can raise
// them in Config.
package banana
