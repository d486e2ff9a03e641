package pb_test

// Replays of the Twisted 22.4 sessions recorded in
// shared/testdata/twisted/sessions (see its README).
//
//   - TestReplayGoServer feeds each recorded client byte stream
//     (*.c2s.hex) to a Go server whose realm mimics the Python scenario
//     server, and compares what the server sends with *.s2c.hex.
//   - TestReplayGoClient runs a Go client against a fake server that
//     plays *.s2c.hex, and compares the client's bytes with *.c2s.hex.
//
// Expressions are compared byte for byte. Where Spread legitimately
// differs from Twisted the comparison falls back to the decoded
// structure with the differing fields normalized; every such place is
// listed here:
//
//  1. CopyableFailure `count` is Twisted's process-global failure
//     counter; Spread's counter is process-global too but starts
//     elsewhere. Dropped before comparing.
//  2. CopyableFailure `pickled: 1` appears in Twisted only when the
//     failure went through a Deferred; Spread always sends it (a Python
//     client ignores it). Dropped before comparing.
//  3. The `value` text of a builtins.TypeError raised by argument
//     binding is CPython's ("Perspective.perspective_foo() missing 1
//     required positional argument: 'arg'", "keywords must be
//     strings"); Spread's binder words it its own way ("foo() takes 1
//     positional arguments but 0 were given", "add() keywords must be
//     strings"). The type, parents and everything else must match.
//  4. Order inside one burst: in `cacheable`, bumpScore sends the
//     cachemessage to the observer and then answers. Twisted's
//     callRemote does not wait; a Go handler that must not block on its
//     observer sends the cachemessage from another goroutine, so the
//     cachemessage and the answer may leave in either order. Likewise
//     the uncache that answers the last decache is sent by the reader
//     at once, while the answer to the foo call that preceded it comes
//     from that call's handler goroutine, so uncache may overtake it.
//     Only in the scenarios listed in reorderOK is a burst of
//     consecutive server expressions compared as a multiset.
//  5. Go client: decref/decache placement follows Go's explicit Release
//     calls, not CPython's refcounting (the README allows it); only the
//     count per id is compared. Everything else the Go client sends
//     must match byte for byte (in particular, Login must not send
//     anything a Twisted client would not).
//
// Twisted-dropped raw_* scenarios (bad dialect, version mismatch,
// non-list expression, unknown verb, unsolicited answer) must make
// Spread close the connection too; they do, so there is no deliberate
// difference there.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const sessionsDir = "../../shared/testdata/twisted/sessions"

// ioTimeout bounds each blocking read in the replays. It only turns a
// hang into a failure; nothing is asserted about timing.
const ioTimeout = 15 * time.Second

func readHexLines(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(sessionsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// event is one line of a transcript: an expression or an EOF, in one
// direction ('c' client to server, 's' server to client).
type event struct {
	dir byte
	eof bool
}

func readTranscript(t *testing.T, scenario string) []event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sessionsDir, scenario+".transcript.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []event
	for _, line := range strings.Split(string(data), "\n") {
		var dir byte
		switch {
		case strings.HasPrefix(line, "C->S  "):
			dir = 'c'
		case strings.HasPrefix(line, "S->C  "):
			dir = 's'
		default:
			continue
		}
		evs = append(evs, event{dir: dir, eof: strings.HasPrefix(line[6:], "<EOF")})
	}
	return evs
}

// dialectOf returns the dialect the recorded client chose.
func dialectOf(t *testing.T, choice []byte) banana.Dialect {
	v := decodeOne(t, choice, banana.DialectNone)
	d, ok := banana.ParseDialect(v.([]byte))
	if !ok {
		return banana.DialectNone // e.g. raw_bad_dialect's "klingon"
	}
	return d
}

func decodeOne(t testing.TB, p []byte, d banana.Dialect) any {
	t.Helper()
	dec := banana.NewDecoder(nil)
	dec.SetDialect(d)
	var got []any
	if err := dec.Feed(p, func(v any) error { got = append(got, v); return nil }); err != nil {
		t.Fatalf("decoding %x: %v", p, err)
	}
	if len(got) != 1 || dec.Buffered() != 0 {
		t.Fatalf("%x is %d expressions", p, len(got))
	}
	return got[0]
}

// rawExpr is one top-level expression as it came off the wire.
type rawExpr struct {
	raw []byte
	v   any
}

// exprReader splits a byte stream into expressions, keeping each one's
// exact bytes. The first expression is in dialect none (offer or
// choice); the rest in the negotiated dialect.
type exprReader struct {
	conn    net.Conn
	dec     *banana.Decoder
	dialect banana.Dialect
	first   bool
	cur     []byte
	ready   []rawExpr
	buf     []byte
}

func newExprReader(conn net.Conn, d banana.Dialect) *exprReader {
	return &exprReader{conn: conn, dec: banana.NewDecoder(nil), dialect: d, first: true, buf: make([]byte, 4096)}
}

// next returns the next expression, or io.EOF when the peer closed.
func (r *exprReader) next() (rawExpr, error) {
	for len(r.ready) == 0 {
		r.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		n, err := r.conn.Read(r.buf)
		for i := 0; i < n; i++ {
			r.cur = append(r.cur, r.buf[i])
			if ferr := r.dec.Feed(r.buf[i:i+1], func(v any) error {
				r.ready = append(r.ready, rawExpr{raw: r.cur, v: v})
				r.cur = nil
				if r.first {
					r.first = false
					r.dec.SetDialect(r.dialect)
				}
				return nil
			}); ferr != nil {
				return rawExpr{}, ferr
			}
		}
		if err != nil {
			if len(r.ready) > 0 {
				break
			}
			if isClosedErr(err) {
				return rawExpr{}, io.EOF
			}
			return rawExpr{}, err
		}
	}
	e := r.ready[0]
	r.ready = r.ready[1:]
	return e, nil
}

func isClosedErr(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var oe *net.OpError
	// A reset after the peer closed with unread input counts as closed.
	return errors.As(err, &oe) && strings.Contains(err.Error(), "reset")
}

// expectEOF reads until the peer closes; any expression first is an
// error.
func (r *exprReader) expectEOF() error {
	e, err := r.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("expected the connection to close, got %s", pyRepr(e.v))
}

// normalize rewrites a decoded expression for the structural
// comparison: failure count and pickled go, and TypeError values when
// looseTypeError is set.
func normalize(v any, looseTypeError bool) any {
	l, ok := v.([]any)
	if !ok || len(l) != 3 || !isWord(l[0], "error") {
		return v
	}
	f, ok := l[2].([]any)
	if !ok || len(f) != 2 || !isWord(f[0], "twisted.spread.pb.CopyableFailure") {
		return v
	}
	d, ok := f[1].([]any)
	if !ok || len(d) == 0 || !isWord(d[0], "dictionary") {
		return v
	}
	isTypeError := false
	for _, it := range d[1:] {
		if p, ok := it.([]any); ok && len(p) == 2 && isUnicode(p[0], "type") && isWord(p[1], "builtins.TypeError") {
			isTypeError = true
		}
	}
	nd := []any{d[0]}
	for _, it := range d[1:] {
		p, ok := it.([]any)
		if ok && len(p) == 2 {
			if isUnicode(p[0], "count") || isUnicode(p[0], "pickled") {
				continue
			}
			if looseTypeError && isTypeError && isUnicode(p[0], "value") {
				continue
			}
		}
		nd = append(nd, it)
	}
	return []any{l[0], l[1], []any{f[0], nd}}
}

// isWord reports whether v is the byte string w: a STRING ([]byte) or,
// in the pb dialect, a vocabulary word (string).
func isWord(v any, w string) bool {
	return wordOf(v) == w
}

// wordOf returns the text of a STRING or VOCAB element, or "".
func wordOf(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return ""
}

func isUnicode(v any, s string) bool {
	l, ok := v.([]any)
	return ok && len(l) == 2 && isWord(l[0], "unicode") && isWord(l[1], s)
}

// pyRepr renders a decoded banana value for failure messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case []byte:
		return fmt.Sprintf("b%q", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// sameExpr compares a received expression with the recorded one.
func sameExpr(want, got []byte, d banana.Dialect, t testing.TB) bool {
	if bytes.Equal(want, got) {
		return true
	}
	wv := normalize(decodeOne(t, want, d), true)
	gv := normalize(decodeOne(t, got, d), true)
	return reflect.DeepEqual(wv, gv)
}

// ---------------------------------------------------------------------
// The scenario server: a Go twin of pbscenarios.py's server, inferred
// from the transcripts and server logs.

type scenarioServer struct {
	mu     sync.Mutex
	events []string
	groups map[string]*scGroup
	score  *scScore
}

func (s *scenarioServer) log(format string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *scenarioServer) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func (s *scenarioServer) count(ev string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e == ev {
			n++
		}
	}
	return n
}

func (s *scenarioServer) RequestAvatar(ctx context.Context, id string, mind any) (any, func(), error) {
	m, _ := mind.(*pb.RemoteReference)
	s.log("requestAvatar(%q)", id)
	p := &Perspective{srv: s, name: id, mind: m}
	return p, func() { s.log("logout") }, nil
}

var (
	scChallenges = []string{"e3577062926f5447a902657a14868d4a", "0c0957dc4a65cbd2f8da97d9f0ffddb3"}
)

func scenarioConfig() (*pb.Config, *scenarioServer) {
	s := &scenarioServer{groups: map[string]*scGroup{}}
	s.score = &scScore{srv: s, value: 5, observers: map[*pb.Observer]struct{}{}}
	reg := jelly.NewRegistry()
	if err := reg.Register("vecmodel.Point", &scPoint{}); err != nil {
		panic(err)
	}
	portal := cred.NewPortal(s, checkers.NewInMemory(map[string]string{"user1": "pass1"}), checkers.NewAnonymous())
	cfg := &pb.Config{Portal: portal, Registry: reg, Logger: testLogger()}
	var mu sync.Mutex
	n := 0
	pb.SetChallenge(cfg, func() []byte {
		mu.Lock()
		defer mu.Unlock()
		c, _ := hex.DecodeString(scChallenges[n%len(scChallenges)])
		n++
		return c
	})
	return cfg, s
}

// Perspective is the scenario avatar. Its Go type name matches the
// Python class, so AttributeError texts match too.
type Perspective struct {
	pb.Avatar
	srv  *scenarioServer
	name string
	mind *pb.RemoteReference
}

// Dispatch handles echo(*args, **kw), which reflection cannot express,
// and hands everything else to the reflective binder.
func (p *Perspective) Dispatch(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method == "echo" {
		return []any{jelly.Tuple(c.Args), c.Kwargs}, nil
	}
	return pb.CallByReflection(ctx, p, "Perspective", c)
}

func (p *Perspective) PerspectiveFoo(arg any) { p.srv.log("foo(%v)", arg) }

func (p *Perspective) PerspectiveFail() error { return pb.ValueError("boom") }

func (p *Perspective) PerspectiveFailError() error {
	return &pb.Error{Type: "twisted.spread.pb.Error", Message: "polite failure"}
}

func (p *Perspective) PerspectiveFailDeferred() error {
	return &pb.Error{Type: "builtins.KeyError", Message: "'missing'"}
}

func (p *Perspective) PerspectiveFailErrorDeferred() error {
	return &pb.Error{Type: "twisted.spread.pb.Error", Message: "deferred polite failure"}
}

type scAddArgs struct {
	A int64 `pb:"a"`
	B int64 `pb:"b,default=0"`
	C any   `pb:"c,default=None"`
}

func (p *Perspective) PerspectiveAdd(a scAddArgs) *jelly.Dict {
	d := jelly.NewDict()
	d.Set("sum", a.A+a.B)
	d.Set("c", a.C)
	return d
}

func (p *Perspective) PerspectiveGetCounter() *scCounter { return &scCounter{} }

func (p *Perspective) PerspectiveCallMind(ctx context.Context, text string) (string, error) {
	if p.mind == nil {
		return "", pb.ValueError("no mind")
	}
	p.srv.log("calling mind.print")
	v, err := p.mind.CallRemote(ctx, "print", text)
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return "mind answered '" + s + "'", nil
}

func (p *Perspective) PerspectiveGetGroup(name string) *scGroup {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	g := p.srv.groups[name]
	if g == nil {
		g = &scGroup{name: name}
		p.srv.groups[name] = g
	}
	return g
}

func (p *Perspective) PerspectiveIsMyGroup(g any, name string) bool {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	mine, ok := g.(*scGroup)
	return ok && mine == p.srv.groups[name]
}

func (p *Perspective) PerspectiveGetScore() *scScore { return p.srv.score }

func (p *Perspective) PerspectiveBumpScore(n int64) int64 {
	p.srv.score.set(n)
	return n
}

func (p *Perspective) PerspectiveIsMyScore(s any) bool {
	return s == any(p.srv.score)
}

func (p *Perspective) PerspectiveGetPoint() *scPoint { return &scPoint{X: 1, Y: 2, Label: "label"} }

func (p *Perspective) PerspectiveGetSecret() *scSecret {
	return &scSecret{public: "visible", secret: "hidden"}
}

func (p *Perspective) PerspectiveTakePoint(pt *scPoint) string {
	return fmt.Sprintf("got RemotePoint([('label', '%s'), ('x', %d), ('y', %d)])", pt.Label, pt.X, pt.Y)
}

func (p *Perspective) PerspectiveGetPlain() jelly.Unpersistable {
	return jelly.Unpersistable{Reason: "instance of class vecmodel.Plain deemed insecure"}
}

type scCounter struct {
	pb.Referenceable
	mu sync.Mutex
	n  int64
}

type scIncArgs struct {
	By int64 `pb:"by,default=1"`
}

func (c *scCounter) RemoteIncrement(a scIncArgs) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += a.By
	return c.n
}

type scGroup struct {
	pb.Viewable
	name string
}

func (g *scGroup) ViewSend(p *Perspective, msg string) string {
	return fmt.Sprintf("%s got '%s' from b'%s'", g.name, msg, p.name)
}

type scPoint struct {
	X     int64  `jelly:"x"`
	Y     int64  `jelly:"y"`
	Label string `jelly:"label"`
}

type scSecret struct{ public, secret string }

func (s *scSecret) JellyType() string { return "custom.tag.Secret" }
func (s *scSecret) JellyState() any {
	d := jelly.NewDict()
	d.Set("public", s.public)
	return d
}

type scScore struct {
	srv       *scenarioServer
	mu        sync.Mutex
	value     int64
	observers map[*pb.Observer]struct{}
}

func (s *scScore) JellyType() string { return "vecmodel.Score" }

func (s *scScore) CacheState(perspective any, o *pb.Observer) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers[o] = struct{}{}
	d := jelly.NewDict()
	d.Set("value", s.value)
	return d
}

func (s *scScore) StoppedObserving(perspective any, o *pb.Observer) {
	s.mu.Lock()
	delete(s.observers, o)
	s.mu.Unlock()
	s.srv.log("stoppedObserving")
}

// set changes the value and tells every observer, without waiting for
// their answers (as Twisted's callRemote does not).
func (s *scScore) set(v int64) {
	s.mu.Lock()
	s.value = v
	obs := make([]*pb.Observer, 0, len(s.observers))
	for o := range s.observers {
		obs = append(obs, o)
	}
	s.mu.Unlock()
	for _, o := range obs {
		go o.CallRemote(context.Background(), "setValue", v)
	}
}

// ---------------------------------------------------------------------

// serverScenarios are the captures a Go server can serve, with what
// each must show on the server side afterwards.
var serverScenarios = []struct {
	name        string
	logouts     int  // logout runs expected
	clientFirst bool // write the choice before reading the offer
	closes      bool // Spread closes the connection itself (Twisted drops)
	extra       func(t *testing.T, s *scenarioServer)
}{
	{name: "login_foo", logouts: 1},
	{name: "login_anonymous", logouts: 1},
	{name: "login_badpassword", logouts: 0},
	{name: "call_exception", logouts: 1},
	{name: "call_nomethod", logouts: 1},
	{name: "call_kwargs", logouts: 1},
	{name: "mind_callback", logouts: 1},
	{name: "mind_release", logouts: 1},
	{name: "viewable", logouts: 1},
	{name: "copyable", logouts: 1},
	{name: "cacheable", logouts: 1, extra: func(t *testing.T, s *scenarioServer) {
		if n := s.count("stoppedObserving"); n != 1 {
			t.Errorf("StoppedObserving ran %d times, want 1", n)
		}
	}},
	{name: "referenceable", logouts: 1},
	{name: "noanswer", logouts: 1, extra: func(t *testing.T, s *scenarioServer) {
		if s.count("foo(1)") != 1 || s.count("foo(2)") != 1 {
			t.Errorf("foo calls: %v", s.events)
		}
	}},
	{name: "raw_dialect_none", logouts: 1},
	{name: "raw_unknown_verb", closes: true},
	{name: "raw_version_mismatch", closes: true},
	{name: "raw_bad_requests", logouts: 1, closes: true},
	{name: "raw_decref", logouts: 1},
	{name: "raw_nonlist", closes: true},
	{name: "raw_client_first", logouts: 1, clientFirst: true},
	{name: "raw_bad_dialect", closes: true},
}

// reorderOK lists the scenarios whose server bursts may come in another
// order (difference 4 above).
var reorderOK = map[string]bool{"cacheable": true}

func TestReplayGoServer(t *testing.T) {
	for _, sc := range serverScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			cfg, state := scenarioConfig()
			srv, addr := serve(t, cfg)
			c2s := readHexLines(t, sc.name+".c2s.hex")
			s2c := readHexLines(t, sc.name+".s2c.hex")
			evs := readTranscript(t, sc.name)
			d := dialectOf(t, c2s[0])

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			rd := newExprReader(conn, d)
			ci, si := 0, 0
			serverClosed := false
			skipC := 0
			if sc.clientFirst {
				skipC = 2
				for k := 0; k < 2; k++ {
					if _, err := conn.Write(c2s[ci]); err != nil {
						t.Fatal(err)
					}
					ci++
				}
			}
			lineDialect := func(i int) banana.Dialect {
				if i == 0 {
					return banana.DialectNone
				}
				return d
			}
			for i := 0; i < len(evs); i++ {
				ev := evs[i]
				switch {
				case ev.dir == 'c' && ev.eof:
					if !serverClosed {
						conn.(*net.TCPConn).CloseWrite()
					}
				case ev.dir == 'c':
					if skipC > 0 {
						skipC-- // already written
						continue
					}
					if ci >= len(c2s) {
						t.Fatalf("transcript has more client lines than c2s.hex")
					}
					line := c2s[ci]
					ci++
					if serverClosed {
						conn.Write(line) // Twisted's client wrote on; ignore errors
						continue
					}
					if _, err := conn.Write(line); err != nil {
						t.Fatalf("writing client line %d: %v", ci-1, err)
					}
				case ev.dir == 's' && ev.eof:
					if err := rd.expectEOF(); err != nil {
						t.Fatalf("after client line %d: %v", ci-1, err)
					}
					serverClosed = true
				default:
					// A burst of consecutive server expressions.
					j := i
					for j < len(evs) && evs[j].dir == 's' && !evs[j].eof {
						j++
					}
					want := s2c[si : si+(j-i)]
					var got [][]byte
					for range want {
						e, err := rd.next()
						if err != nil {
							t.Fatalf("reading server expression %d (after client line %d): %v", si+len(got), ci-1, err)
						}
						got = append(got, e.raw)
					}
					compareBurst(t, sc.name, si, want, got, lineDialect, reorderOK[sc.name])
					si += len(want)
					i = j - 1
				}
			}
			if si != len(s2c) {
				t.Fatalf("compared %d of %d server expressions", si, len(s2c))
			}
			if !serverClosed {
				if err := rd.expectEOF(); err != nil {
					t.Fatalf("at the end: %v", err)
				}
			}
			if sc.closes && !serverClosed {
				t.Fatalf("Twisted dropped this connection; Spread did not")
			}
			srv.Close()
			if n := state.count("logout"); n != sc.logouts {
				t.Errorf("logout ran %d times, want %d (events %v)", n, sc.logouts, state.snapshot())
			}
			if sc.extra != nil {
				sc.extra(t, state)
			}
		})
	}
}

func compareBurst(t *testing.T, name string, first int, want, got [][]byte, dl func(int) banana.Dialect, reorder bool) {
	t.Helper()
	inOrder := true
	for k := range want {
		if !sameExpr(want[k], got[k], dl(first+k), t) {
			inOrder = false
			break
		}
	}
	if inOrder {
		return
	}
	if reorder {
		used := make([]bool, len(got))
		ok := true
		for k := range want {
			found := false
			for m := range got {
				if !used[m] && sameExpr(want[k], got[m], dl(first+k), t) {
					used[m], found = true, true
					break
				}
			}
			if !found {
				ok = false
			}
		}
		if ok {
			t.Logf("%s: server expressions %d..%d came in another order (allowed)", name, first, first+len(want)-1)
			return
		}
	}
	for k := range want {
		d := dl(first + k)
		t.Errorf("%s: server expression %d\n want %x\n      %s\n got  %x\n      %s", name, first+k,
			want[k], pyRepr(decodeOne(t, want[k], d)), got[k], pyRepr(decodeOne(t, got[k], d)))
	}
	t.FailNow()
}

// ---------------------------------------------------------------------
// Go client against a replayed Twisted server.

type scRemoteScore struct {
	mu    sync.Mutex
	value int64
}

func (s *scRemoteScore) SetCacheState(state any) error {
	d, ok := state.(*jelly.Dict)
	if !ok {
		return fmt.Errorf("score state %T", state)
	}
	v, _ := d.Get("value")
	n, _ := v.(int64)
	s.mu.Lock()
	s.value = n
	s.mu.Unlock()
	return nil
}

func (s *scRemoteScore) ObserveSetValue(v int64) string {
	s.mu.Lock()
	s.value = v
	s.mu.Unlock()
	return fmt.Sprintf("observed %d", v)
}

func clientConfig() *pb.Config {
	reg := jelly.NewRegistry()
	if err := reg.Register("vecmodel.Point", &scPoint{}); err != nil {
		panic(err)
	}
	return &pb.Config{
		Registry: reg,
		Caches:   map[string]func() pb.RemoteCache{"vecmodel.Score": func() pb.RemoteCache { return &scRemoteScore{} }},
		Logger:   testLogger(),
	}
}

func loginUser1(ctx context.Context, t *testing.T, b *pb.Broker) *pb.RemoteReference {
	t.Helper()
	av, err := b.Login(ctx, &cred.UsernamePassword{Username: "user1", Password: []byte("pass1")}, nil)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return av
}

func mustCall(ctx context.Context, t *testing.T, r *pb.RemoteReference, method string, args ...any) any {
	t.Helper()
	v, err := r.CallRemote(ctx, method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

var clientScenarios = []struct {
	name string
	run  func(ctx context.Context, t *testing.T, b *pb.Broker)
}{
	{"login_foo", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		if v := mustCall(ctx, t, av, "foo", int64(12)); v != nil {
			t.Errorf("foo(12) = %#v", v)
		}
		av.Release()
	}},
	{"call_kwargs", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		v := mustCall(ctx, t, av, "add", int64(1), pb.Kw{"b": int64(2), "c": "x"})
		d, ok := v.(*jelly.Dict)
		if sum, _ := d.Get("sum"); !ok || sum != int64(3) {
			t.Errorf("add = %#v", v)
		}
		six := jelly.NewDict()
		six.Set("six", int64(6))
		v = mustCall(ctx, t, av, "echo", int64(1), "two", []byte("three"), []any{int64(4)}, jelly.Tuple{int64(5)}, six, nil, true, 1.5, pb.Kw{"key": "val"})
		if l, ok := v.([]any); !ok || len(l) != 2 {
			t.Errorf("echo = %#v", v)
		}
		av.Release()
	}},
	{"call_exception", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		for _, c := range []struct{ method, typ, value string }{
			{"fail", "builtins.ValueError", "boom"},
			{"failError", "twisted.spread.pb.Error", "polite failure"},
			{"failDeferred", "builtins.KeyError", "'missing'"},
			{"failErrorDeferred", "twisted.spread.pb.Error", "deferred polite failure"},
		} {
			_, err := av.CallRemote(ctx, c.method)
			var re *pb.RemoteError
			if !errors.As(err, &re) || re.Type != c.typ || re.Value != c.value || !re.Check("builtins.Exception") {
				t.Errorf("%s: %v", c.method, err)
			}
		}
		av.Release()
	}},
	{"referenceable", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		c1, ok := mustCall(ctx, t, av, "getCounter").(*pb.RemoteReference)
		if !ok {
			t.Fatal("getCounter did not return a reference")
		}
		if v := mustCall(ctx, t, c1, "increment", pb.Kw{"by": int64(5)}); v != int64(5) {
			t.Errorf("increment(by=5) = %#v", v)
		}
		c2, ok := mustCall(ctx, t, av, "getCounter").(*pb.RemoteReference)
		if !ok {
			t.Fatal("getCounter did not return a reference")
		}
		c1.Release()
		mustCall(ctx, t, av, "foo", int64(3))
		c2.Release()
		av.Release()
	}},
	{"viewable", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		g, ok := mustCall(ctx, t, av, "getGroup", "g1").(*pb.RemoteReference)
		if !ok {
			t.Fatal("getGroup did not return a reference")
		}
		if v := mustCall(ctx, t, g, "send", "hi"); v != "g1 got 'hi' from b'user1'" {
			t.Errorf("send = %#v", v)
		}
		if v := mustCall(ctx, t, av, "isMyGroup", g, "g1"); v != true {
			t.Errorf("isMyGroup = %#v", v)
		}
		g.Release()
		mustCall(ctx, t, av, "foo", int64(1))
		av.Release()
	}},
	{"cacheable", func(ctx context.Context, t *testing.T, b *pb.Broker) {
		av := loginUser1(ctx, t, b)
		sc, ok := mustCall(ctx, t, av, "getScore").(*scRemoteScore)
		if !ok {
			t.Fatal("getScore did not return the cache")
		}
		if v := mustCall(ctx, t, av, "bumpScore", int64(7)); v != int64(7) {
			t.Errorf("bumpScore = %#v", v)
		}
		if v := mustCall(ctx, t, av, "isMyScore", sc); v != true {
			t.Errorf("isMyScore = %#v", v)
		}
		if again := mustCall(ctx, t, av, "getScore"); again != any(sc) {
			t.Errorf("second getScore = %#v, want the same cache", again)
		}
		mustCall(ctx, t, av, "foo", int64(2))
		if err := b.ReleaseCache(sc); err != nil {
			t.Error(err)
		}
		// The owner answers the last decache with uncache; wait for it so
		// the comparison sees the whole exchange.
		av.Release()
	}},
}

func isRefCount(v any) (string, int64, bool) {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return "", 0, false
	}
	for _, w := range []string{"decref", "decache"} {
		if isWord(l[0], w) {
			id, ok := l[1].(int64)
			return w, id, ok
		}
	}
	return "", 0, false
}

func TestReplayGoClient(t *testing.T) {
	for _, sc := range clientScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			c2s := readHexLines(t, sc.name+".c2s.hex")
			s2c := readHexLines(t, sc.name+".s2c.hex")
			evs := readTranscript(t, sc.name)
			d := dialectOf(t, c2s[0])
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			fakeErr := make(chan error, 1)
			go func() { fakeErr <- fakeTwisted(t, ln, c2s, s2c, evs, d) }()

			ctx := ctxT(t)
			b, err := pb.Dial(ctx, ln.Addr().String(), clientConfig())
			if err != nil {
				t.Fatal(err)
			}
			sc.run(ctx, t, b)
			b.Close()
			select {
			case err := <-fakeErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * ioTimeout):
				t.Fatal("the fake server did not finish")
			}
		})
	}
}

// fakeTwisted plays the recorded server side to one client and checks
// the client's expressions.
func fakeTwisted(t testing.TB, ln net.Listener, c2s, s2c [][]byte, evs []event, d banana.Dialect) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	rd := newExprReader(conn, d)
	lineDialect := func(i int) banana.Dialect {
		if i == 0 {
			return banana.DialectNone
		}
		return d
	}
	owed := map[string]int{} // decref/decache the recording shows
	got := map[string]int{}  // decref/decache the Go client sent
	var pendingC [][]byte    // the current burst of expected client lines
	ci, si := 0, 0
	// readOne reads the client's next expression and counts it if it is
	// a decref/decache; nextClient skips those.
	readOne := func() (e rawExpr, counted bool, err error) {
		e, err = rd.next()
		if err != nil {
			return e, false, err
		}
		if w, id, ok := isRefCount(e.v); ok {
			got[fmt.Sprintf("%s %d", w, id)]++
			return e, true, nil
		}
		return e, false, nil
	}
	nextClient := func() (rawExpr, error) {
		for {
			e, counted, err := readOne()
			if err != nil || !counted {
				return e, err
			}
		}
	}
	for i := 0; i < len(evs); i++ {
		ev := evs[i]
		switch {
		case ev.dir == 's' && ev.eof:
			return checkRefCounts(owed, got)
		case ev.dir == 's':
			// uncache answers the client's last decache: do not send it
			// before the Go client has sent as many as recorded.
			if l, ok := decodeOne(t, s2c[si], lineDialect(si)).([]any); ok && len(l) == 2 && isWord(l[0], "uncache") {
				key := fmt.Sprintf("decache %d", l[1])
				for got[key] < owed[key] {
					e, counted, err := readOne()
					if err != nil {
						return fmt.Errorf("waiting for %s: %v", key, err)
					}
					if !counted {
						return fmt.Errorf("client sent %s while the recording has it send %s", pyRepr(e.v), key)
					}
				}
			}
			line := s2c[si]
			si++
			// A write error means the client has closed; what it still
			// owed is checked when its EOF is read.
			conn.Write(line)
		case ev.dir == 'c' && ev.eof:
			// The client closes: collect its remaining decrefs.
			for {
				e, err := nextClient()
				if err == io.EOF {
					break
				}
				if err != nil {
					return fmt.Errorf("waiting for the client to close: %v", err)
				}
				return fmt.Errorf("unexpected client expression at the end: %s", pyRepr(e.v))
			}
		default:
			// A burst of consecutive client lines; they may arrive in
			// any order (the Go client answers a server call on another
			// goroutine than the one that sends its next call).
			j := i
			pendingC = pendingC[:0]
			for j < len(evs) && evs[j].dir == 'c' && !evs[j].eof {
				line := c2s[ci]
				ci++
				j++
				if ci > 1 {
					if w, id, ok := isRefCount(decodeOne(t, line, d)); ok {
						owed[fmt.Sprintf("%s %d", w, id)]++
						continue
					}
				}
				pendingC = append(pendingC, line)
			}
			i = j - 1
			for len(pendingC) > 0 {
				e, err := nextClient()
				if err != nil {
					return fmt.Errorf("reading client expression (want %x): %v", pendingC[0], err)
				}
				matched := -1
				for k, want := range pendingC {
					if bytes.Equal(want, e.raw) {
						matched = k
						break
					}
				}
				if matched < 0 {
					return fmt.Errorf("client sent %x\n  %s\nwant one of %d expected, first %x\n  %s", e.raw, pyRepr(e.v),
						len(pendingC), pendingC[0], pyRepr(decodeOne(t, pendingC[0], d)))
				}
				pendingC = append(pendingC[:matched], pendingC[matched+1:]...)
			}
		}
	}
	return checkRefCounts(owed, got)
}

func checkRefCounts(owed, got map[string]int) error {
	if !reflect.DeepEqual(owed, got) {
		keys := func(m map[string]int) []string {
			var out []string
			for k, v := range m {
				out = append(out, fmt.Sprintf("%s x%d", k, v))
			}
			sort.Strings(out)
			return out
		}
		return fmt.Errorf("decref/decache counts differ: recorded %v, Go client sent %v", keys(owed), keys(got))
	}
	return nil
}
