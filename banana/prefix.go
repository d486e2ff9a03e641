package banana

import (
	"math/big"
	"math/bits"
)

// A prefix is an unsigned number in base 128, least significant group first,
// one group per byte (0x00..0x7F). Zero is the single byte 0x00.

// appendPrefix appends the minimal prefix of u.
func appendPrefix(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u&0x7f))
		u >>= 7
	}
	return append(dst, byte(u))
}

// appendBigPrefix appends the minimal prefix of the magnitude held in words
// (little-endian big.Word digits, as from big.Int.Bits). It does not allocate
// when dst has room.
func appendBigPrefix(dst []byte, words []big.Word) []byte {
	n := len(words)
	for n > 0 && words[n-1] == 0 {
		n--
	}
	if n == 0 {
		return append(dst, 0)
	}
	bitLen := (n-1)*bits.UintSize + bits.Len(uint(words[n-1]))
	for pos := 0; pos < bitLen; pos += 7 {
		w, off := pos/bits.UintSize, pos%bits.UintSize
		g := uint(words[w]) >> off
		if off > bits.UintSize-7 && w+1 < n {
			g |= uint(words[w+1]) << (bits.UintSize - off)
		}
		dst = append(dst, byte(g&0x7f))
	}
	return dst
}

// significant returns pre without its most significant zero groups (a
// non-minimal prefix such as 01 00 is accepted and means 1).
func significant(pre []byte) []byte {
	n := len(pre)
	for n > 0 && pre[n-1] == 0 {
		n--
	}
	return pre[:n]
}

// prefixUint64 returns the value of pre when it fits in a uint64.
func prefixUint64(pre []byte) (uint64, bool) {
	pre = significant(pre)
	if len(pre) > 10 || (len(pre) == 10 && pre[9] > 1) {
		return 0, false
	}
	var u uint64
	for i := len(pre) - 1; i >= 0; i-- {
		u = u<<7 | uint64(pre[i])
	}
	return u, true
}

// prefixBig returns the value of pre as a new big.Int.
func prefixBig(pre []byte) *big.Int {
	pre = significant(pre)
	x := new(big.Int)
	var g big.Int
	for i := len(pre) - 1; i >= 0; i-- {
		x.Lsh(x, 7)
		x.Or(x, g.SetUint64(uint64(pre[i])))
	}
	return x
}

// prefixInt returns the integer +N or -N (neg) for the prefix N: an int64 when
// it fits, otherwise a *big.Int.
func prefixInt(pre []byte, neg bool) any {
	if u, ok := prefixUint64(pre); ok {
		switch {
		case !neg && u <= 1<<63-1:
			return int64(u)
		case neg && u <= 1<<63:
			return -int64(u) // -(1<<63) wraps to math.MinInt64, as wanted
		}
	}
	x := prefixBig(pre)
	if neg {
		x.Neg(x)
	}
	return x
}
