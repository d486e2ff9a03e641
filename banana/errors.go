package banana

import "fmt"

// LimitError reports input or output that exceeds one of the limits.
// Limit is one of "SizeLimit", "PrefixLimit", "MaxDepth" or "MaxExprBytes".
// Got is the offending size (saturated at the largest int64 when it does not
// fit) and Max the limit in force.
type LimitError struct {
	Limit string
	Got   int64
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("banana: %s exceeded: %d > %d", e.Limit, e.Got, e.Max)
}

// SyntaxError reports input that is not valid Banana: an unknown type byte,
// VOCAB in dialect none, an unknown vocabulary index. Offset is the position
// of the offending type byte in the stream fed to the Decoder.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("banana: syntax error at offset %d: %s", e.Offset, e.Msg)
}

// EncodeError reports a value the Encoder refuses: an unsupported Go type, an
// integer with magnitude >= 2^448, a string or list longer than the size limit.
// Value describes the value (its Go type, or the number for integers).
type EncodeError struct {
	Value string
	Msg   string
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("banana: cannot encode %s: %s", e.Value, e.Msg)
}

// NegotiationError reports a failed dialect negotiation: an offer that is not
// a list, no common dialect, or a choice that was not offered.
type NegotiationError struct {
	Msg string
}

func (e *NegotiationError) Error() string {
	return "banana: dialect negotiation: " + e.Msg
}

// saturate converts a size to int64 for LimitError.Got.
func saturate(u uint64, ok bool) int64 {
	if !ok || u > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(u)
}
