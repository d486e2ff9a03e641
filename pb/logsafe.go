package pb

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Logs cannot be flooded by a peer:
//
//   - Every attribute of a pb log line passes through safeHandler, which
//     shortens text to maxLogText bytes and escapes control characters
//     and invalid UTF-8, so a peer-supplied value (a method name, a user
//     name, what a didNotUnderstand carried) costs a bounded line.
//   - The lines a connection logs (Broker.plog) are rate-limited: at most
//     Limits.LogLinesPerMinute a minute, and the rest are counted and
//     reported in one summary line when the next minute begins or the
//     connection ends.
//   - Lines about connections as a whole (refused, timed out) and accept
//     errors are rate-limited per Server (Server.logConn).

// maxLogText is the most bytes of one attribute's text in a log line.
const maxLogText = 256

// safeHandler shortens and escapes every attribute.
type safeHandler struct{ h slog.Handler }

func (s safeHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s safeHandler) Handle(ctx context.Context, r slog.Record) error {
	clean := true
	r.Attrs(func(a slog.Attr) bool {
		if !safeAttrOK(a) {
			clean = false
		}
		return clean
	})
	if clean && logTextOK(r.Message) {
		return s.h.Handle(ctx, r)
	}
	r2 := slog.NewRecord(r.Time, r.Level, logText(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		r2.AddAttrs(safeAttr(a))
		return true
	})
	return s.h.Handle(ctx, r2)
}

func (s safeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := make([]slog.Attr, len(as))
	for i, a := range as {
		c[i] = safeAttr(a)
	}
	return safeHandler{s.h.WithAttrs(c)}
}

func (s safeHandler) WithGroup(name string) slog.Handler {
	return safeHandler{s.h.WithGroup(logText(name))}
}

// safeAttrOK reports whether a needs no change.
func safeAttrOK(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindString:
		return logTextOK(a.Value.String())
	case slog.KindAny, slog.KindGroup, slog.KindLogValuer:
		return false
	}
	return true
}

// safeAttr returns a with its text shortened and escaped.
func safeAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, logText(v.String()))
	case slog.KindGroup:
		g := v.Group()
		c := make([]any, len(g))
		for i, x := range g {
			c[i] = safeAttr(x)
		}
		return slog.Group(a.Key, c...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, logText(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, logText(x.String()))
		default:
			return slog.String(a.Key, peerValue(x))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// logTextOK reports whether s can be logged as it is: short, valid
// UTF-8, no control characters.
func logTextOK(s string) bool {
	if len(s) > maxLogText {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			if c >= 0x80 {
				return utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
			}
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

// logText returns s shortened to maxLogText bytes and escaped; a
// shortened text ends with the length of the whole.
func logText(s string) string {
	if logTextOK(s) {
		return s
	}
	n := len(s)
	if n > maxLogText {
		s = s[:maxLogText]
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if n > maxLogText {
		q += "...(" + strconv.Itoa(n) + " bytes)"
	}
	return q
}

// peerValue renders a decoded value for a log line in at most about
// maxLogText bytes, without formatting more of it than it shows.
func peerValue(v any) string {
	var sb strings.Builder
	writeValue(&sb, v, 0)
	if sb.Len() > maxLogText {
		return sb.String()[:maxLogText] + "..."
	}
	return sb.String()
}

func writeValue(sb *strings.Builder, v any, depth int) {
	if sb.Len() > maxLogText {
		return
	}
	switch x := v.(type) {
	case nil:
		sb.WriteString("None")
	case []any:
		if depth > 8 {
			sb.WriteString("[...]")
			return
		}
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			if sb.Len() > maxLogText {
				sb.WriteString("...")
				break
			}
			writeValue(sb, e, depth+1)
		}
		sb.WriteByte(']')
	case []byte:
		sb.WriteByte('b')
		sb.WriteString(strconv.Quote(string(x[:min(len(x), maxLogText)])))
		if len(x) > maxLogText {
			sb.WriteString("...(" + strconv.Itoa(len(x)) + " bytes)")
		}
	case string:
		sb.WriteString(strconv.Quote(x[:min(len(x), maxLogText)]))
		if len(x) > maxLogText {
			sb.WriteString("...(" + strconv.Itoa(len(x)) + " bytes)")
		}
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case int:
		sb.WriteString(strconv.Itoa(x))
	case float64:
		sb.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case *big.Int:
		if x.BitLen() > 256 {
			sb.WriteString("<int of " + strconv.Itoa(x.BitLen()) + " bits>")
		} else {
			sb.WriteString(x.String())
		}
	default:
		sb.WriteString("<" + fmt.Sprintf("%T", v) + ">")
	}
}

// lineLimiter allows at most per lines in each window.
type lineLimiter struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether a line may be logged now, and how many lines
// were suppressed in the window that ended (to be summarized first).
func (l *lineLimiter) allow(now time.Time, per int, window time.Duration) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= window {
		dropped = l.suppressed
		l.start, l.n, l.suppressed = now, 0, 0
	}
	if per >= 0 && l.n >= per {
		l.suppressed++
		return false, dropped
	}
	l.n++
	return true, dropped
}

// takeSuppressed returns and clears the count of suppressed lines.
func (l *lineLimiter) takeSuppressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}

// connLog is a connection's logger and its rate limit.
type connLog struct {
	log *slog.Logger
	lim lineLimiter
}

// rateHandler is a connection's log handler: safeHandler's lines, at
// most Limits.LogLinesPerMinute of them a minute.
type rateHandler struct {
	h   slog.Handler // the settings' safeHandler
	b   *Broker
	lim *lineLimiter
}

func (r *rateHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *rateHandler) Handle(ctx context.Context, rec slog.Record) error {
	ok, dropped := r.lim.allow(rec.Time, r.b.cfg.lim.LogLinesPerMinute, time.Minute)
	if dropped > 0 {
		r.b.logSuppressed(dropped)
	}
	if !ok {
		return nil
	}
	return r.h.Handle(ctx, rec)
}

func (r *rateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &rateHandler{h: r.h.WithAttrs(as), b: r.b, lim: r.lim}
}

func (r *rateHandler) WithGroup(name string) slog.Handler {
	return &rateHandler{h: r.h.WithGroup(name), b: r.b, lim: r.lim}
}

// plog returns the connection's rate-limited logger. It is made when
// first used: most connections never log.
func (b *Broker) plog() *slog.Logger {
	if l := b.logger.Load(); l != nil {
		return l.log
	}
	l := &connLog{}
	l.log = slog.New(&rateHandler{h: b.cfg.log.Handler(), b: b, lim: &l.lim})
	if b.logger.CompareAndSwap(nil, l) {
		return l.log
	}
	return b.logger.Load().log
}

// logSuppressed writes the summary of n lines the connection did not
// log.
func (b *Broker) logSuppressed(n int) {
	b.cfg.log.Warn("pb: log lines suppressed for this connection", "peer", b.conn.RemoteAddr().String(), "suppressed", n)
}

// flushLogSummary reports the lines suppressed since the last summary
// (shutdown).
func (b *Broker) flushLogSummary() {
	l := b.logger.Load()
	if l == nil {
		return
	}
	if n := l.lim.takeSuppressed(); n > 0 {
		b.logSuppressed(n)
	}
}

// logConn logs a line about a connection as a whole (refused, timed
// out), at most serverLogPer lines per serverLogWindow per server; the
// others are counted and summarized.
func (s *Server) logConn(msg string, peer net.Addr, args ...any) {
	s.logConnKind(msg, msg, peer, args...)
}

// logConnKind is logConn with lines of each kind rate-limited apart.
// There are few kinds: the messages, and error types.
func (s *Server) logConnKind(kind, msg string, peer net.Addr, args ...any) {
	s.logMu.Lock()
	lim := s.logLims[kind]
	if lim == nil {
		if s.logLims == nil {
			s.logLims = make(map[string]*lineLimiter)
		}
		lim = &lineLimiter{}
		s.logLims[kind] = lim
	}
	s.logMu.Unlock()
	ok, dropped := lim.allow(time.Now(), serverLogPer, serverLogWindow)
	if dropped > 0 {
		s.cfg.log.Warn("pb: connection log lines suppressed", "kind", msg, "suppressed", dropped, "window", serverLogWindow.String())
	}
	if !ok {
		return
	}
	peerText := ""
	if peer != nil {
		peerText = peer.String()
	}
	s.cfg.log.Warn(msg, append([]any{"peer", peerText}, args...)...)
}

const (
	serverLogPer    = 20
	serverLogWindow = 10 * time.Second
)

// logEnd logs why the connection is ending. Not rate-limited per
// connection (it ends once), but per server: a flood of connections that
// each end badly costs a bounded number of lines.
func (b *Broker) logEnd(msg string, err error) {
	if b.server != nil {
		b.server.logConnKind(msg+reflect.TypeOf(err).String(), msg, b.conn.RemoteAddr(), "err", err)
		return
	}
	b.cfg.log.Warn(msg, "peer", b.conn.RemoteAddr().String(), "err", err)
}
