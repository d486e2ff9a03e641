package jelly

import (
	"strings"
	"unicode/utf8"
)

// Lossy returns s with every invalid UTF-8 sequence replaced by U+FFFD,
// the way Python decodes bytes with errors="replace": each maximal
// prefix of a valid sequence, or else each single bad byte, becomes one
// replacement character. The result is a valid string that travels as a
// Python str. Use it for text that may be cut mid-character (process
// output read in chunks); send []byte where the bytes must arrive as
// they are. A valid s is returned unchanged, without copying.
func Lossy(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n > 1 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart returns how many bytes at the start of s (which does
// not start with a valid sequence) form one ill-formed unit: a lead byte
// and the continuation bytes that could still have completed it
// (Unicode's "maximal subpart", which Python follows), at least 1.
func maximalSubpart(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // the range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if k == 0 && (b < lo || b > hi) || k > 0 && (b < 0x80 || b > 0xBF) {
			break
		}
		n++
	}
	return n
}
