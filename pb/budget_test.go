package pb_test

// Byte budgets and message deadlines (Limits) against raw PB peers
// that start messages and never finish them, and log output under a
// stream of bad messages.

import (
	"bytes"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/pb"
)

// halfMessage is the start of a call whose arguments are strings of
// 600,000 bytes (banana's SizeLimit is 640 KiB) making total bytes, of
// which only sent bytes follow.
func halfMessage(t testing.TB, total, sent int) []byte {
	enc := banana.Encoder{Dialect: banana.DialectPB}
	head := appendPrefix(nil, 7, 0x80) // ["message", 1, "root", "echo", 1, ("tuple", <strings...>
	var err error
	for _, v := range []any{"message", int64(1), "root", "echo", int64(1)} {
		if head, err = enc.Append(head, v); err != nil {
			t.Fatal(err)
		}
	}
	const piece = 600_000
	n := (total + piece - 1) / piece
	head = appendPrefix(head, uint64(n+1), 0x80)
	if head, err = enc.Append(head, []byte("tuple")); err != nil {
		t.Fatal(err)
	}
	for ; sent > 0; sent -= piece {
		head = appendPrefix(head, piece, 0x82)
		head = append(head, bytes.Repeat([]byte{'x'}, min(sent, piece))...)
	}
	return head
}

// appendPrefix appends a banana element header: n in base 128, least
// significant digit first, then the type byte.
func appendPrefix(dst []byte, n uint64, typ byte) []byte {
	for {
		dst = append(dst, byte(n&0x7f))
		n >>= 7
		if n == 0 {
			break
		}
	}
	return append(dst, typ)
}

// heapLive returns the heap's live bytes after a collection.
func heapLive() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestHalfSentMessagesStayWithinTheBudgetAndAreCutOff(t *testing.T) {
	const (
		conns   = 300
		partial = 1 << 20 // of a 3.75 MiB string
		budget  = 32 << 20
		timeout = 3 * time.Second
	)
	rec := &logRecorder{}
	cfg := echo.Config()
	cfg.Logger = slog.New(rec)
	cfg.Limits = &pb.Limits{ProcessInputBytes: budget, MessageTimeout: timeout}
	srv, addr := serve(t, cfg)
	good := dial(t, addr, echo.ClientConfig())
	ctx := ctxT(t)

	before := heapLive()
	msg := halfMessage(t, 3840<<10, partial)
	peers := make([]*rawPeer, conns)
	var wg sync.WaitGroup
	for i := range peers {
		peers[i] = dialRaw(t, addr, 0)
	}
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.rd.next() // the offer
			p.conn.Write(banana.AppendChoice(nil, banana.DialectPB))
			p.conn.Write(msg) // may fail once the server closed it
		}()
	}
	wg.Wait()
	// Let the server read what it will.
	waitFor(t, "the server to read the half messages", func() bool {
		in, _, _ := pb.BudgetUse()
		return in >= budget-partial || srv.Connections() < conns/2
	})
	// ... and finish closing the connections it closed for the budget.
	for n, stable := srv.Connections(), 0; stable < 3; {
		time.Sleep(100 * time.Millisecond)
		if m := srv.Connections(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	in, _, _ := pb.BudgetUse()
	grown := int64(heapLive()) - int64(before)
	t.Logf("%d connections with %d KiB of a 3.75 MiB message each: %d open, input held %.1f MiB (budget %d MiB), heap +%.1f MiB",
		conns, partial>>10, srv.Connections()-1, float64(in)/(1<<20), budget>>20, float64(grown)/(1<<20))
	if in > budget {
		t.Fatalf("input held %d bytes, over the budget of %d", in, budget)
	}
	// The decoder holds more than the wire bytes (buffers grow by
	// doubling), and each connection has its own buffers and goroutine:
	// 3x the budget plus 64 KiB a connection bounds it with room.
	if grown > 3*budget+conns*64<<10 {
		t.Fatalf("heap grew by %d bytes with a budget of %d", grown, budget)
	}
	if n := rec.count("budget for buffered input exhausted"); n == 0 {
		t.Fatal("no connection was closed for the input budget")
	}
	if v, err := good.Root().CallRemote(ctx, "echo", "still here"); err != nil || v != "still here" {
		t.Fatalf("the good client: %v, %v", v, err)
	}

	// The message deadline closes the rest, parked or not.
	waitFor(t, "the message deadline to close the half-sent messages", func() bool { return srv.Connections() == 1 })
	waitFor(t, "the input budget to be given back", func() bool { in, _, _ := pb.BudgetUse(); return in == 0 })
	if rec.count("a message was not finished within") == 0 {
		t.Fatal("the message deadline was not logged")
	}
	if v, err := good.Root().CallRemote(ctx, "echo", "still here"); err != nil || v != "still here" {
		t.Fatalf("the good client: %v, %v", v, err)
	}
}

func TestTrickledMessageIsCutOff(t *testing.T) {
	const timeout = 600 * time.Millisecond
	cfg := echo.Config()
	cfg.Logger = discard()
	cfg.Limits = &pb.Limits{MessageTimeout: timeout}
	_, addr := serve(t, cfg)
	p := dialRaw(t, addr, 0)
	p.negotiate()
	p.expectEcho(1) // complete messages are fine
	msg := halfMessage(t, 1000, 1000)
	start := time.Now()
	var err error
	for _, c := range msg {
		if _, err = p.conn.Write([]byte{c}); err != nil {
			break
		}
		time.Sleep(40 * time.Millisecond) // 25 bytes/s
		if time.Since(start) > 20*time.Second {
			t.Fatal("the trickle was not cut off")
		}
	}
	p.expectClosed()
	if took := time.Since(start); took < timeout {
		t.Fatalf("cut off after %v, before the deadline %v", took, timeout)
	}
}

func TestCallsThatWaitHoldABoundedBudget(t *testing.T) {
	// callback(obj, value) calls obj.echo(value) on the peer, which
	// never answers: each call holds its arguments.
	cfg := echo.Config()
	cfg.Logger = discard()
	cfg.Limits = &pb.Limits{MaxCallBytes: 4 << 20}
	_, addr := serve(t, cfg)
	p := dialRaw(t, addr, 0)
	p.negotiate()
	value := bytes.Repeat([]byte{'v'}, 512<<10)
	var refused int
	for req := int64(1); req <= 20; req++ {
		p.send([]any{"message", req, "root", "callback", int64(1),
			[]any{"tuple", []any{"remote", int64(1)}, value}, []any{"dictionary"}})
	}
	// The first call runs and calls obj.echo; 6 more wait behind it on
	// the root, within the 4 MiB; the other 13 are refused at once.
	for i := 0; refused < 13 && i < 40; i++ {
		v := p.nextReal()
		l, ok := v.([]any)
		if !ok || len(l) < 2 {
			t.Fatalf("unexpected %s", pyRepr(v))
		}
		switch {
		case isWord(l[0], "message"):
			// an outgoing echo call, never answered
		case isWord(l[0], "error"):
			_, text := failureText(l[2])
			if !strings.Contains(text, "bytes of calls in flight") {
				t.Fatalf("unexpected error %q", text)
			}
			refused++
		default:
			t.Fatalf("unexpected %s", pyRepr(v))
		}
	}
	if refused != 13 {
		t.Fatalf("%d of 20 calls of 512 KiB refused with a 4 MiB budget, want 13", refused)
	}
	_, _, calls := pb.BudgetUse()
	t.Logf("calls in flight held %d KiB of the process budget", calls>>10)
	if calls > 4<<20 {
		t.Fatalf("calls in flight hold %d bytes, over the 4 MiB budget", calls)
	}
	p.conn.Close()
}

// countingWriter counts bytes and lines.
type countingWriter struct {
	bytes, lines atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	w.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

func TestBadMessagesProduceBoundedLogs(t *testing.T) {
	out := &countingWriter{}
	cfg := echo.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(out, nil))
	_, addr := serve(t, cfg)
	p := dialRaw(t, addr, 0)
	p.negotiate()

	// 100,000 bad messages: unknown decrefs, calls of unknown objects,
	// didNotUnderstand with 600 KB, in one stream.
	var buf []byte
	var err error
	big := bytes.Repeat([]byte{0xff, 0x01, 'a'}, 200_000)
	sent := 0
	for i := int64(0); i < 100_000; i++ {
		var m any
		switch {
		case i%10_000 == 0:
			m = []any{"didNotUnderstand", big}
		case i%2 == 0:
			m = []any{"decref", 1_000_000 + i}
		default:
			m = message(i, int64(5000+i), "nothing", 0)
		}
		if buf, err = p.enc.Append(buf, m); err != nil {
			t.Fatal(err)
		}
		sent++
		if len(buf) > 1<<20 {
			p.write(buf)
			buf = buf[:0]
		}
	}
	p.write(buf)
	p.expectEcho(1) // all of it was read
	p.conn.Close()
	time.Sleep(100 * time.Millisecond) // the summary at the end of the connection
	t.Logf("%d bad messages: %d log lines, %d bytes", sent, out.lines.Load(), out.bytes.Load())
	if n := out.lines.Load(); n > 25 {
		t.Fatalf("%d log lines for one peer's bad messages", n)
	}
	if n := out.bytes.Load(); n > 16<<10 {
		t.Fatalf("%d bytes of logs for one peer's bad messages", n)
	}
}

func TestQueuedOutputProcessBudget(t *testing.T) {
	rec := &logRecorder{}
	cfg := echo.Config()
	cfg.Root = func(*pb.Broker) any { return &hostileRoot{Root: echo.NewRoot()} }
	cfg.Logger = slog.New(rec)
	cfg.MaxQueuedBytes = 64 << 20 // the connection's own cap is far
	cfg.Limits = &pb.Limits{ProcessQueuedBytes: 4 << 20}
	srv, addr := serve(t, cfg)
	good := dial(t, addr, echo.ClientConfig())
	p := dialRaw(t, addr, 4096)
	p.negotiate()
	var buf []byte
	var err error
	for req := int64(1); req <= 20; req++ { // 12 MB of answers, never read
		if buf, err = p.enc.Append(buf, message(req, "root", "big", 1, int64(600000))); err != nil {
			t.Fatal(err)
		}
	}
	p.write(buf)
	waitFor(t, "the slow peer to be disconnected for the process budget", func() bool {
		return rec.count("budget for queued output exhausted") > 0 && srv.Connections() == 1
	})
	waitFor(t, "the queued-output budget to be given back", func() bool { _, q, _ := pb.BudgetUse(); return q == 0 })
	if v, err := good.Root().CallRemote(ctxT(t), "echo", "still here"); err != nil || v != "still here" {
		t.Fatalf("the good client: %v, %v", v, err)
	}
}
