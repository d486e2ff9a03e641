package pb

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrConnectionLost is matched (errors.Is) by every error that a call
// gets because its connection ended before the answer arrived.
var ErrConnectionLost = errors.New("pb: connection lost")

// ErrClosed is returned when a call is started on a broker that is
// already closed.
var ErrClosed = errors.New("pb: broker closed")

// ConnectionLostError is the error of a pending or new call whose
// connection has ended. Cause says why the connection ended.
type ConnectionLostError struct {
	Cause error
}

func (e *ConnectionLostError) Error() string {
	if e.Cause == nil {
		return "pb: connection lost"
	}
	return "pb: connection lost: " + e.Cause.Error()
}

// Is makes errors.Is(err, ErrConnectionLost) true.
func (e *ConnectionLostError) Is(target error) bool { return target == ErrConnectionLost }

// Unwrap returns the cause.
func (e *ConnectionLostError) Unwrap() error { return e.Cause }

// ProtocolError is a fatal violation of the PB protocol by the peer (or
// a limit it exceeded). The connection is closed with it.
type ProtocolError struct {
	Msg string
	Err error // an underlying banana or jelly error, if any
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "pb: protocol error: " + e.Msg + ": " + e.Err.Error()
	}
	return "pb: protocol error: " + e.Msg
}

// Unwrap returns the underlying error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// protoErr builds a ProtocolError. It is kept out of line: inlined, it
// puts its formatting state in the frames of the decoding functions on
// the reader's stack (see rawReader).
//
//go:noinline
func protoErr(err error, format string, args ...any) *ProtocolError {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...), Err: err}
}

// RemoteError is a failure the peer reported for a call: a Python
// exception or a Go handler's error. Type is the qualified class name,
// for example "builtins.ValueError"; Parents lists the class hierarchy
// as the peer sent it.
type RemoteError struct {
	Type      string
	Value     string
	Traceback string
	Parents   []string

	// Code is the machine-readable reason a Spread server attaches to a
	// refused login (LoginCodeThrottled, ...); empty from Twisted peers
	// and for other failures.
	Code string
	// RetryAfter is, with LoginCodeThrottled, how long until the server
	// accepts a login attempt again.
	RetryAfter time.Duration
}

func (e *RemoteError) Error() string {
	return "pb: remote " + e.Type + ": " + e.Value
}

// Check reports whether the remote failure is of class pyType or one of
// its subclasses, as Twisted's Failure.check does.
func (e *RemoteError) Check(pyType string) bool {
	if e.Type == pyType {
		return true
	}
	for _, p := range e.Parents {
		if p == pyType {
			return true
		}
	}
	return false
}

// Is lets errors.Is compare with an *Error by Python type.
func (e *RemoteError) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return e.Check(t.Type) && (t.Message == "" || t.Message == e.Value)
	}
	return false
}

// Error is an error a handler returns to choose what the calling peer
// sees: a Python exception type and a message. A handler's other errors
// reach the peer as twisted.spread.pb.Error with the error's text.
type Error struct {
	// Type is the qualified Python class name, e.g. "builtins.ValueError".
	Type string
	// Message is str(exception) on the Python side.
	Message string
	// Parents is the class hierarchy sent to the peer. Empty means the
	// known hierarchy for Type, or Type and builtins.Exception.
	Parents []string

	// code and retryAfter (seconds) travel as extra keys of the failure
	// state (see RemoteError.Code): Twisted peers ignore them.
	code       string
	retryAfter int64
}

// LoginError is the error of a login the server refused. Err is the cred
// error it stands for (cred.ErrUnauthorizedLogin, a *cred.ThrottledError,
// a *cred.UnavailableError, cred.ErrUsernameTooLong,
// cred.ErrUnhandledCredentials); Remote is the server's failure, nil when
// the client refused to send the login. errors.Is and errors.As see both.
type LoginError struct {
	Err    error
	Remote *RemoteError
}

func (e *LoginError) Error() string {
	msg := "pb: login refused: " + strings.TrimPrefix(e.Err.Error(), "cred: ")
	if e.Remote != nil && e.Remote.Value != "" {
		msg += " (server: " + e.Remote.Value + ")"
	}
	return msg
}

// Unwrap returns Err and Remote.
func (e *LoginError) Unwrap() []error {
	if e.Remote == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Remote}
}

func (e *Error) Error() string {
	return "pb: " + e.Type + ": " + e.Message
}

// Errorf returns an *Error of the given Python type.
func Errorf(pyType, format string, args ...any) *Error {
	return &Error{Type: pyType, Message: fmt.Sprintf(format, args...)}
}

// ValueError returns an *Error that a Python peer sees as ValueError.
func ValueError(msg string) *Error { return &Error{Type: "builtins.ValueError", Message: msg} }

// TypeError returns an *Error that a Python peer sees as TypeError.
func TypeError(msg string) *Error { return &Error{Type: "builtins.TypeError", Message: msg} }

// Python class names PB uses.
const (
	pyPBError             = "twisted.spread.pb.Error"
	pyNoSuchMethod        = "twisted.spread.flavors.NoSuchMethod"
	pyAttributeError      = "builtins.AttributeError"
	pyTypeError           = "builtins.TypeError"
	pyRuntimeError        = "builtins.RuntimeError"
	pyInsecureJelly       = "twisted.spread.jelly.InsecureJelly"
	pyUnauthorizedLogin   = "twisted.cred.error.UnauthorizedLogin"
	pyUnhandledCredential = "twisted.cred.error.UnhandledCredentials"
	pyCopyableFailure     = "twisted.spread.pb.CopyableFailure"
)

var baseParents = []string{"builtins.Exception", "builtins.BaseException", "builtins.object"}

// knownParents holds the class hierarchy of the exceptions Spread sends,
// below builtins.Exception.
var knownParents = map[string][]string{
	"builtins.KeyError":   {"builtins.LookupError"},
	"builtins.IndexError": {"builtins.LookupError"},
	pyNoSuchMethod:        {pyAttributeError},
	pyUnauthorizedLogin:   {"twisted.cred.error.LoginFailed", "twisted.cred.error.Unauthorized"},
	pyUnhandledCredential: {"twisted.cred.error.LoginFailed"},
}

func parentsOf(pyType string) []string {
	if pyType == "builtins.Exception" {
		return append([]string{}, baseParents...)
	}
	out := []string{pyType}
	out = append(out, knownParents[pyType]...)
	return append(out, baseParents...)
}

// pyTypeName names the Python type of a decoded jelly value, for
// TypeError messages.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, int, *bigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case *RemoteReference:
		return "RemoteReference"
	}
	n := fmt.Sprintf("%T", v)
	n = strings.TrimPrefix(n, "*")
	switch n {
	case "jelly.Tuple":
		return "tuple"
	case "jelly.Dict":
		return "dict"
	case "jelly.Set":
		return "set"
	}
	return n
}
