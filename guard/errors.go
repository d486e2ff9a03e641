package guard

import "errors"

// ErrNoSession is returned by a Store for a session it does not hold.
var ErrNoSession = errors.New("guard: no such session")

// ErrClosed is returned for requests served after Guard.Close.
var ErrClosed = errors.New("guard: closed")

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "guard: Config." + e.Field + " " + e.Reason }

// StoreError wraps an error of a session store's database.
type StoreError struct {
	Op  string
	Err error
}

func (e *StoreError) Error() string { return "guard: session store: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the database's error.
func (e *StoreError) Unwrap() error { return e.Err }
