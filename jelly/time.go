package jelly

import (
	"bytes"
	"fmt"
	"time"
)

// DateTime is a naive Python datetime.datetime, sent as
// `[b"datetime", b"Y M D h m s us"]`. Twisted cannot send aware datetimes.
type DateTime struct {
	Year, Month, Day, Hour, Minute, Second, Microsecond int
}

// Date is a Python datetime.date, sent as `[b"date", b"Y M D"]`.
type Date struct {
	Year, Month, Day int
}

// Time is a naive Python datetime.time, sent as `[b"time", b"h m s us"]`.
type Time struct {
	Hour, Minute, Second, Microsecond int
}

// TimeDelta is a Python datetime.timedelta, sent as
// `[b"timedelta", b"days seconds microseconds"]` in Python's normalized form
// (0 <= Seconds < 86400, 0 <= Microseconds < 1000000; -1 day is "-1 0 0").
// The encoder normalizes; the decoder always returns normalized values.
type TimeDelta struct {
	Days, Seconds, Microseconds int64
}

func (t DateTime) String() string {
	return fmt.Sprintf("%d %d %d %d %d %d %d", t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, t.Microsecond)
}

func (t Date) String() string { return fmt.Sprintf("%d %d %d", t.Year, t.Month, t.Day) }

func (t Time) String() string {
	return fmt.Sprintf("%d %d %d %d", t.Hour, t.Minute, t.Second, t.Microsecond)
}

func (t TimeDelta) String() string {
	return fmt.Sprintf("%d %d %d", t.Days, t.Seconds, t.Microseconds)
}

// DateTimeOf returns the wall-clock fields of t (its location is dropped).
func DateTimeOf(t time.Time) DateTime {
	return DateTime{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1000}
}

// In returns the instant with these wall-clock fields in loc.
func (t DateTime) In(loc *time.Location) time.Time {
	return time.Date(t.Year, time.Month(t.Month), t.Day, t.Hour, t.Minute, t.Second, t.Microsecond*1000, loc)
}

// TimeDeltaOf converts d (microsecond precision, truncated).
func TimeDeltaOf(d time.Duration) TimeDelta {
	td, _ := TimeDelta{Microseconds: int64(d / time.Microsecond)}.Normalize()
	return td
}

// Duration converts t; it is wrong for spans beyond about 292 years.
func (t TimeDelta) Duration() time.Duration {
	return time.Duration(t.Days)*24*time.Hour + time.Duration(t.Seconds)*time.Second + time.Duration(t.Microseconds)*time.Microsecond
}

const maxDeltaDays = 999999999

// floorDiv returns the quotient and remainder of a/b rounded toward -inf.
func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// Normalize returns t in Python's normalized form, or an error when the
// span is outside Python's range (|days| <= 999999999).
func (t TimeDelta) Normalize() (TimeDelta, error) {
	cs, us := floorDiv(t.Microseconds, 1000000)
	secs := t.Seconds + cs
	if (cs > 0 && secs < t.Seconds) || (cs < 0 && secs > t.Seconds) {
		return TimeDelta{}, &TypeError{Value: "TimeDelta", Want: "timedelta", Msg: "out of range"}
	}
	cd, s := floorDiv(secs, 86400)
	days := t.Days + cd
	if (cd > 0 && days < t.Days) || (cd < 0 && days > t.Days) || days > maxDeltaDays || days < -maxDeltaDays {
		return TimeDelta{}, &TypeError{Value: "TimeDelta", Want: "timedelta", Msg: "out of range"}
	}
	return TimeDelta{days, s, us}, nil
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func validDate(y, m, d int) error {
	switch {
	case y < 1 || y > 9999:
		return fmt.Errorf("year %d is out of range", y)
	case m < 1 || m > 12:
		return fmt.Errorf("month must be in 1..12")
	case d < 1 || d > daysIn(y, m):
		return fmt.Errorf("day is out of range for month")
	}
	return nil
}

func validTime(h, mi, s, us int) error {
	switch {
	case h < 0 || h > 23:
		return fmt.Errorf("hour must be in 0..23")
	case mi < 0 || mi > 59:
		return fmt.Errorf("minute must be in 0..59")
	case s < 0 || s > 59:
		return fmt.Errorf("second must be in 0..59")
	case us < 0 || us > 999999:
		return fmt.Errorf("microsecond must be in 0..999999")
	}
	return nil
}

func isASCIISpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// parsePyInt parses a field the way Python's int() parses bytes: optional
// sign, ASCII digits, single underscores between digits.
func parsePyInt(f []byte) (int64, bool) {
	s := f
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 || s[0] == '_' || s[len(s)-1] == '_' {
		return 0, false
	}
	var n int64
	prevUnderscore := false
	for _, c := range s {
		if c == '_' {
			if prevUnderscore {
				return 0, false
			}
			prevUnderscore = true
			continue
		}
		prevUnderscore = false
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/5 { // n*10 would overflow well before
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// decodeTime decodes the arguments of datetime, date, time and timedelta.
func decodeTime(tag string, args []any) (any, error) {
	b, err := byteArg(tag, args)
	if err != nil {
		return nil, err
	}
	fields := bytes.FieldsFunc(b, isASCIISpace)
	if len(fields) > 8 {
		return nil, decodeErr(tag, "too many fields")
	}
	n := make([]int64, len(fields))
	for i, f := range fields {
		v, ok := parsePyInt(f)
		if !ok {
			return nil, decodeErr(tag, "bad integer %q", f)
		}
		n[i] = v
	}
	small := func(lo, hi int) ([]int, error) {
		if len(n) < lo || len(n) > hi {
			return nil, decodeErr(tag, "needs %d to %d fields, got %d", lo, hi, len(n))
		}
		out := make([]int, hi)
		for i, v := range n {
			if v < -1<<31 || v > 1<<31 {
				return nil, decodeErr(tag, "field out of range")
			}
			out[i] = int(v)
		}
		return out, nil
	}
	switch tag {
	case TagDateTime:
		f, err := small(3, 7)
		if err != nil {
			return nil, err
		}
		if err := validDate(f[0], f[1], f[2]); err != nil {
			return nil, decodeErr(tag, "%v", err)
		}
		if err := validTime(f[3], f[4], f[5], f[6]); err != nil {
			return nil, decodeErr(tag, "%v", err)
		}
		return DateTime{f[0], f[1], f[2], f[3], f[4], f[5], f[6]}, nil
	case TagDate:
		f, err := small(3, 3)
		if err != nil {
			return nil, err
		}
		if err := validDate(f[0], f[1], f[2]); err != nil {
			return nil, decodeErr(tag, "%v", err)
		}
		return Date{f[0], f[1], f[2]}, nil
	case TagTime:
		f, err := small(0, 4)
		if err != nil {
			return nil, err
		}
		if err := validTime(f[0], f[1], f[2], f[3]); err != nil {
			return nil, decodeErr(tag, "%v", err)
		}
		return Time{f[0], f[1], f[2], f[3]}, nil
	default: // timedelta
		if len(n) != 3 {
			return nil, decodeErr(tag, "needs 3 fields, got %d", len(n))
		}
		td, err := TimeDelta{n[0], n[1], n[2]}.Normalize()
		if err != nil {
			return nil, decodeErr(tag, "out of range")
		}
		return td, nil
	}
}
