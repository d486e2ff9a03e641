package banana

// Default limits used when a Config (or one of its fields) is zero.
const (
	DefaultMaxDepth     = 100     // LIST nesting depth; Twisted has no such limit
	DefaultMaxExprBytes = 4 << 20 // wire bytes of one top-level expression
)

// Config holds the decoder's limits. A nil *Config means the defaults; a zero
// (or negative) field means the default for that field.
type Config struct {
	SizeLimit    int // max STRING length and LIST count (default 655360, Twisted's)
	MaxDepth     int // max LIST nesting depth (default 100; Twisted has none)
	MaxExprBytes int // max wire bytes of one top-level expression (default 4 MiB)
}

// limits is a Config with the defaults filled in.
type limits struct {
	size     uint64
	depth    int
	exprSize int64
}

func (c *Config) resolve() limits {
	l := limits{size: SizeLimit, depth: DefaultMaxDepth, exprSize: DefaultMaxExprBytes}
	if c == nil {
		return l
	}
	if c.SizeLimit > 0 {
		l.size = uint64(c.SizeLimit)
	}
	if c.MaxDepth > 0 {
		l.depth = c.MaxDepth
	}
	if c.MaxExprBytes > 0 {
		l.exprSize = int64(c.MaxExprBytes)
	}
	return l
}

// encodeSizeLimit returns the encoder's effective size limit.
func encodeSizeLimit(n int) int {
	if n <= 0 {
		return SizeLimit
	}
	return n
}
