package banana

import (
	"fmt"
	"math"
)

// Decoder states: what the next input byte belongs to.
const (
	stHeader = iota // prefix bytes or a type byte
	stString        // STRING body
	stFloat         // FLOAT body
)

// listCapHint caps the capacity preallocated for a LIST: a header's count is
// trusted only up to this many slots; longer lists grow as elements arrive.
const listCapHint = 16

// stringCapHint is the smallest buffer started for a STRING body that arrives
// in pieces; it grows (up to the declared length) as bytes arrive.
const stringCapHint = 512

// Small lists and strings of one top-level expression are cut from shared
// arrays, so that a typical message costs one allocation for all its list
// slots and one for all its string bytes instead of one per element. Each
// piece has capacity equal to its length and pieces never overlap; the
// arrays are dropped when the expression ends, so keeping one piece keeps
// alive at most an array's worth of the same expression.
const (
	smallList   = 16  // lists of at most this many elements take shared slots
	smallString = 64  // strings of at most this many bytes take shared bytes
	arenaSlots  = 64  // the largest shared slot array
	arenaBytes  = 512 // the largest shared byte array
)

// Pre-boxed empty values: a zero-capacity slice cannot be modified, and
// appending to it copies, so sharing one costs nothing and is safe.
var (
	emptyList  any = []any{}
	emptyBytes any = []byte{}
)

// frame is an open LIST.
type frame struct {
	items []any
	want  int
}

// Decoder decodes a stream of Banana expressions incrementally. It is a state
// machine: every input byte is looked at once, input may be split anywhere,
// and an unfinished element costs memory only in proportion to the bytes
// received for it. A Decoder is not safe for concurrent use.
type Decoder struct {
	lim     limits
	dialect Dialect
	err     error

	state int
	pre   [PrefixLimit]byte // prefix of the element being read
	npre  int
	str   []byte // STRING body so far
	need  int    // bytes still missing from the STRING or FLOAT body
	flt   [floatSize]byte
	stack []frame // open lists, outermost first

	off       int64 // stream offset of the next byte
	exprBytes int64 // bytes of the unfinished top-level expression

	// Shared arrays of the current expression (see smallList): the unused
	// parts, what the expression has taken so far, and what the previous
	// expression took in all (to size the next arrays).
	slots                []any
	bytes                []byte
	usedSlots, usedBytes int
	lastSlots, lastBytes int
}

// NewDecoder returns a Decoder with the limits of cfg (nil: the defaults).
// It starts in DialectNone, as a connection does before negotiation.
func NewDecoder(cfg *Config) *Decoder {
	return &Decoder{lim: cfg.resolve()}
}

// SetDialect switches the dialect used for the bytes that follow. Called from
// an emit callback it takes effect right after the emitted expression.
func (d *Decoder) SetDialect(dl Dialect) { d.dialect = dl }

// Dialect returns the current dialect.
func (d *Decoder) Dialect() Dialect { return d.dialect }

// Buffered returns the number of input bytes that belong to the unfinished
// top-level expression: 0 exactly when the stream so far ends on an
// expression boundary. It never exceeds MaxExprBytes. (Twisted's buffer,
// which keeps only undecoded bytes, reads 0 after a bare LIST header; this
// count includes it.)
func (d *Decoder) Buffered() int { return int(d.exprBytes) }

// Offset returns the number of input bytes consumed so far. Called from
// an emit callback it is the offset just after the emitted expression.
func (d *Decoder) Offset() int64 { return d.off }

// Feed consumes p. For every complete top-level expression, in order, it
// calls emit (nil: expressions are discarded). Decoded values are []any,
// int64, *big.Int (only when int64 cannot hold the value), float64, []byte
// (STRING) and string (VOCAB, a shared vocabulary word); they never alias p. emit may call SetDialect; the change applies to the
// bytes after that expression, even within the same p.
//
// An error from emit stops Feed and is returned as is; a decode error is a
// *LimitError or *SyntaxError. Either way the Decoder is broken afterwards:
// the rest of p is not consumed and later Feeds return the same error.
func (d *Decoder) Feed(p []byte, emit func(v any) error) error {
	if d.err != nil {
		return d.err
	}
	for len(p) > 0 {
		switch d.state {
		case stHeader:
			i := 0
			for i < len(p) && p[i] < 0x80 {
				if d.npre == PrefixLimit {
					return d.fail(&LimitError{Limit: "PrefixLimit", Got: PrefixLimit + 1, Max: PrefixLimit})
				}
				d.pre[d.npre] = p[i]
				d.npre++
				i++
			}
			if err := d.consume(int64(i)); err != nil {
				return err
			}
			if i == len(p) {
				return nil
			}
			t := p[i]
			p = p[i+1:]
			if err := d.consume(1); err != nil {
				return err
			}
			if err := d.element(t, p, emit); err != nil {
				return err
			}
		case stString:
			n := min(d.need, len(p))
			d.str = appendBounded(d.str, p[:n], len(d.str)+d.need)
			d.need -= n
			p = p[n:]
			if err := d.consume(int64(n)); err != nil {
				return err
			}
			if d.need == 0 {
				s := d.str
				d.str = nil
				d.state = stHeader
				if err := d.got(s, emit); err != nil {
					return err
				}
			}
		case stFloat:
			n := min(d.need, len(p))
			copy(d.flt[floatSize-d.need:], p[:n])
			d.need -= n
			p = p[n:]
			if err := d.consume(int64(n)); err != nil {
				return err
			}
			if d.need == 0 {
				d.state = stHeader
				if err := d.got(d.float(), emit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// element handles type byte t (its prefix is d.pre[:d.npre]); rest is the
// input after t, used only to size a STRING buffer.
func (d *Decoder) element(t byte, rest []byte, emit func(any) error) error {
	pre := d.pre[:d.npre]
	d.npre = 0
	typeOff := d.off - 1
	switch t {
	case TypeList:
		n, err := d.size(pre)
		if err != nil {
			return err
		}
		if len(d.stack) >= d.lim.depth {
			return d.fail(&LimitError{Limit: "MaxDepth", Got: int64(len(d.stack)) + 1, Max: int64(d.lim.depth)})
		}
		// Each element takes at least one byte.
		if err := d.reserve(int64(n)); err != nil {
			return err
		}
		if n == 0 {
			return d.got(emptyList, emit)
		}
		d.stack = append(d.stack, frame{items: d.listItems(n), want: n})
		return nil
	case TypeString:
		n, err := d.size(pre)
		if err != nil {
			return err
		}
		if err := d.reserve(int64(n)); err != nil {
			return err
		}
		if n == 0 {
			return d.got(emptyBytes, emit)
		}
		d.str = d.stringBuf(n, len(rest))
		d.need = n
		d.state = stString
		return nil
	case TypeFloat:
		// The prefix means nothing here (Twisted ignores it).
		d.need = floatSize
		d.state = stFloat
		return nil
	case TypeInt, TypeLongInt:
		return d.got(prefixInt(pre, false), emit)
	case TypeNeg, TypeLongNeg:
		return d.got(prefixInt(pre, true), emit)
	case TypeVocab:
		i, ok := prefixUint64(pre)
		if !ok || i == 0 || i >= uint64(len(vocab)) {
			return d.fail(&SyntaxError{Offset: typeOff, Msg: fmt.Sprintf("unknown vocabulary index %s", describePrefix(pre))})
		}
		if d.dialect != DialectPB {
			return d.fail(&SyntaxError{Offset: typeOff, Msg: fmt.Sprintf("VOCAB %d (%q) in dialect %s", i, vocab[i], d.dialect)})
		}
		return d.got(vocabValues[i], emit)
	}
	return d.fail(&SyntaxError{Offset: typeOff, Msg: fmt.Sprintf("invalid type byte 0x%02x", t)})
}

// listItems returns the empty item slice for a LIST of n > 0 elements.
func (d *Decoder) listItems(n int) []any {
	if n > smallList {
		return make([]any, 0, min(n, listCapHint))
	}
	if len(d.slots) < n {
		d.slots = make([]any, min(max(n, d.lastSlots-d.usedSlots), arenaSlots))
	}
	items := d.slots[:0:n]
	d.slots = d.slots[n:]
	d.usedSlots += n
	return items
}

// stringBuf returns the empty buffer for a STRING of n > 0 bytes, of which
// at most avail are in the input at hand.
func (d *Decoder) stringBuf(n, avail int) []byte {
	if n > smallString {
		return make([]byte, 0, min(n, max(avail, stringCapHint)))
	}
	if len(d.bytes) < n {
		d.bytes = make([]byte, min(max(n, d.lastBytes-d.usedBytes), arenaBytes))
	}
	buf := d.bytes[:0:n]
	d.bytes = d.bytes[n:]
	d.usedBytes += n
	return buf
}

// endExpr drops the shared arrays at the end of a top-level expression.
func (d *Decoder) endExpr() {
	d.exprBytes = 0
	d.lastSlots, d.lastBytes = d.usedSlots, d.usedBytes
	d.usedSlots, d.usedBytes = 0, 0
	d.slots, d.bytes = nil, nil
}

// size decodes a STRING length or LIST count and checks it against SizeLimit.
func (d *Decoder) size(pre []byte) (int, error) {
	u, ok := prefixUint64(pre)
	if !ok || u > d.lim.size {
		return 0, d.fail(&LimitError{Limit: "SizeLimit", Got: saturate(u, ok), Max: int64(d.lim.size)})
	}
	return int(u), nil
}

// consume accounts n more bytes to the current top-level expression.
func (d *Decoder) consume(n int64) error {
	if d.exprBytes+n > d.lim.exprSize {
		return d.fail(&LimitError{Limit: "MaxExprBytes", Got: d.exprBytes + n, Max: d.lim.exprSize})
	}
	d.off += n
	d.exprBytes += n
	return nil
}

// reserve fails when at least n more bytes cannot fit in the expression.
func (d *Decoder) reserve(n int64) error {
	if d.exprBytes+n > d.lim.exprSize {
		return d.fail(&LimitError{Limit: "MaxExprBytes", Got: d.exprBytes + n, Max: d.lim.exprSize})
	}
	return nil
}

// got delivers a finished value to the innermost open list, closing every
// list it completes, or emits it when it is a top-level expression.
func (d *Decoder) got(v any, emit func(any) error) error {
	for len(d.stack) > 0 {
		top := &d.stack[len(d.stack)-1]
		if len(top.items) == cap(top.items) {
			// Grow by doubling, but never past the declared count.
			grown := make([]any, len(top.items), min(top.want, 2*cap(top.items)))
			copy(grown, top.items)
			top.items = grown
		}
		top.items = append(top.items, v)
		if len(top.items) < top.want {
			return nil
		}
		v = top.items
		top.items = nil
		d.stack = d.stack[:len(d.stack)-1]
	}
	d.endExpr()
	if emit == nil {
		return nil
	}
	if err := emit(v); err != nil {
		return d.fail(err)
	}
	return nil
}

func (d *Decoder) float() float64 {
	b := d.flt
	return math.Float64frombits(uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]))
}

// fail breaks the decoder with err.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.stack = nil
	d.str = nil
	d.slots, d.bytes = nil, nil
	return err
}

// appendBounded appends p to buf, growing its capacity at most to limit.
func appendBounded(buf, p []byte, limit int) []byte {
	if len(buf)+len(p) > cap(buf) {
		c := min(max(2*cap(buf), len(buf)+len(p)), limit)
		nb := make([]byte, len(buf), c)
		copy(nb, buf)
		buf = nb
	}
	return append(buf, p...)
}

// describePrefix renders a prefix's value for messages.
func describePrefix(pre []byte) string {
	if u, ok := prefixUint64(pre); ok {
		return fmt.Sprint(u)
	}
	return prefixBig(pre).String()
}
