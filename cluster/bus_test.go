package cluster_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gospread/spread/cluster"
	"github.com/gospread/spread/internal/natstest"
)

// recorder is a Handler that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	msgs  map[string][]string // group -> "from: payload"
	opts  map[string][]byte
	moved chan struct{}
}

func newRecorder() *recorder {
	return &recorder{msgs: map[string][]string{}, opts: map[string][]byte{}, moved: make(chan struct{}, 1)}
}

func (r *recorder) Deliver(group, from string, payload []byte) {
	r.mu.Lock()
	r.msgs[group] = append(r.msgs[group], from+": "+string(payload))
	r.mu.Unlock()
	select {
	case r.moved <- struct{}{}:
	default:
	}
}

func (r *recorder) Options(group string, options []byte) {
	r.mu.Lock()
	r.opts[group] = options
	r.mu.Unlock()
}

func (r *recorder) got(group string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs[group])
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newBus(t *testing.T, url, node string, h cluster.Handler, tweak ...func(*cluster.Config)) *cluster.Bus {
	t.Helper()
	cfg := &cluster.Config{Servers: []string{url}, Node: node, Logger: quiet(),
		Heartbeat: 100 * time.Millisecond, Timeout: 400 * time.Millisecond, StateDelay: 5 * time.Millisecond}
	for _, f := range tweak {
		f(cfg)
	}
	b, err := cluster.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFanOutInOrderOnce(t *testing.T) {
	n := natstest.Start(t)
	ra, rb, rc := newRecorder(), newRecorder(), newRecorder()
	a := newBus(t, n.URL(), "a", ra)
	b := newBus(t, n.URL(), "b", rb)
	c := newBus(t, n.URL(), "c", rc)
	for _, x := range []*cluster.Bus{a, b, c} {
		if _, err := x.Open("#g", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Open("#other", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three nodes see each other", func() bool {
		return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 && len(c.Nodes()) == 2
	})
	const count = 2000
	for i := 1; i <= count; i++ {
		if err := a.Publish("#g", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := b.Publish("#g", []byte("b"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.Publish("#other", []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c hears everything", func() bool { return len(rc.got("#g")) == count+count/2 })
	eventually(t, "b hears a", func() bool { return len(rb.got("#g")) == count })
	eventually(t, "a hears b", func() bool { return len(ra.got("#g")) == count/2 })
	eventually(t, "c hears #other", func() bool { return len(rc.got("#other")) == 1 })
	// Each sender's messages arrive in its order; nobody hears itself.
	check := func(who string, lines []string, from string, step int) {
		next := step
		for _, l := range lines {
			var want string
			if from == "a" {
				want = "a: " + strconv.Itoa(next)
			} else {
				want = "b: b" + strconv.Itoa(next)
			}
			if len(l) > 1 && l[:1] == from {
				if l != want {
					t.Fatalf("%s: got %q, want %q", who, l, want)
				}
				next += step
			}
		}
		if next != count+step {
			t.Fatalf("%s heard %s up to %d", who, from, next-step)
		}
	}
	check("c", rc.got("#g"), "a", 1)
	check("c", rc.got("#g"), "b", 2)
	check("b", rb.got("#g"), "a", 1)
	if len(ra.got("#g")) != count/2 {
		t.Fatalf("a heard %d messages, want b's %d", len(ra.got("#g")), count/2)
	}
	if got := rb.got("#other"); len(got) != 0 {
		t.Fatalf("b, which never opened #other, heard %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if s := c.Stats(); s.Delivered != count+count/2+1 || s.Duplicates != 0 || s.Lost != 0 || s.Lag.Count != s.Delivered {
		t.Fatalf("c's stats: %+v", s)
	}
	if s := a.Stats(); s.Published != count+1 || !s.Connected || s.Nodes != 2 {
		t.Fatalf("a's stats: %+v", s)
	}
}

func TestMembersAndLiveness(t *testing.T) {
	n := natstest.Start(t)
	a := newBus(t, n.URL(), "a", newRecorder())
	b := newBus(t, n.URL(), "b", newRecorder())
	c := newBus(t, n.URL(), "c", newRecorder())
	a.AddMember("#g", "alice")
	b.AddMember("#g", "bob")
	b.AddMember("#g", "bob2")
	c.AddMember("#g", "carol")
	want := []string{"bob", "bob2", "carol"}
	eventually(t, "a sees b's and c's members", func() bool { return slices.Equal(a.Members("#g"), want) })
	b.RemoveMember("#g", "bob2")
	eventually(t, "bob2 leaves", func() bool { return slices.Equal(a.Members("#g"), []string{"bob", "carol"}) })
	// A clean close leaves at once.
	start := time.Now()
	c.Close(context.Background())
	eventually(t, "c leaves", func() bool { return slices.Equal(a.Members("#g"), []string{"bob"}) })
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("a clean close took %v to be seen; the timeout is 400ms", d)
	}
	eventually(t, "b sees alice", func() bool { return slices.Equal(b.Members("#g"), []string{"alice"}) })
	if errors.Is(c.Publish("#g", nil), cluster.ErrClosed) == false {
		t.Error("Publish after Close did not fail with ErrClosed")
	}
}

func TestOptionsFirstCreatorWins(t *testing.T) {
	n := natstest.Start(t)
	ra, rb := newRecorder(), newRecorder()
	a := newBus(t, n.URL(), "a", ra)
	opts, err := a.Open("#g", []byte("first"))
	if err != nil || string(opts) != "first" {
		t.Fatalf("Open = %q, %v", opts, err)
	}
	b := newBus(t, n.URL(), "b", rb)
	eventually(t, "b learns of a", func() bool { return len(b.Nodes()) == 1 })
	if opts, _ := b.Open("#g", []byte("second")); string(opts) != "first" {
		t.Fatalf("b's Open = %q, want the first creator's", opts)
	}
	// Both create #h before hearing of the other: the earlier stamp wins
	// everywhere, and the loser is told.
	n.Stop()
	eventually(t, "NATS gone", func() bool { return !a.Connected() && !b.Connected() })
	a.Open("#h", []byte("from a"))
	time.Sleep(2 * time.Millisecond)
	b.Open("#h", []byte("from b"))
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b adopts a's options", func() bool {
		o, _ := b.Options("#h")
		return string(o) == "from a"
	})
	rb.mu.Lock()
	told := string(rb.opts["#h"])
	rb.mu.Unlock()
	if told != "from a" {
		t.Fatalf("b's handler was told %q", told)
	}
	if o, _ := a.Options("#h"); string(o) != "from a" {
		t.Fatalf("a's options changed to %q", o)
	}
}

// Stopping NATS: Publish goes on returning at once, nothing arrives
// twice, and delivery resumes with the server.
func TestOutageNoDuplicates(t *testing.T) {
	n := natstest.Start(t)
	ra, rb := newRecorder(), newRecorder()
	a := newBus(t, n.URL(), "a", ra)
	b := newBus(t, n.URL(), "b", rb)
	a.Open("#g", nil)
	b.Open("#g", nil)
	eventually(t, "a and b meet", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	send := func(from, to int) {
		for i := from; i <= to; i++ {
			start := time.Now()
			if err := a.Publish("#g", []byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Fatalf("Publish blocked for %v", d)
			}
		}
	}
	send(1, 100)
	eventually(t, "first 100", func() bool { return len(rb.got("#g")) == 100 })
	n.Stop()
	eventually(t, "a sees the outage", func() bool { return !a.Connected() && !b.Connected() })
	send(101, 200)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both back", func() bool { return a.Connected() && b.Connected() })
	eventually(t, "a and b meet again", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	send(201, 300)
	eventually(t, "the last message", func() bool {
		got := rb.got("#g")
		return len(got) > 0 && got[len(got)-1] == "a: 300"
	})
	got := rb.got("#g")
	prev := 0
	for _, l := range got {
		var i int
		fmt.Sscanf(l, "a: %d", &i)
		if i <= prev {
			t.Fatalf("out of order or twice: %d after %d in %v", i, prev, got)
		}
		prev = i
	}
	// What was published during the outage waited for the other node
	// to be back: it arrives, late.
	for i := 101; i <= 300; i++ {
		if !slices.Contains(got, "a: "+strconv.Itoa(i)) {
			t.Fatalf("message %d, sent after the outage, is missing", i)
		}
	}
	s := b.Stats()
	if s.Duplicates != 0 || s.Delivered != 300 || s.Lost != 0 || len(got) != 300 {
		t.Fatalf("b's stats: delivered %d, lost %d, duplicates %d; heard %d", s.Delivered, s.Lost, s.Duplicates, len(got))
	}
	if a.Stats().Outages == 0 {
		t.Error("a counted no outage")
	}
}

// With NATS absent and a small queue, Publish refuses rather than waits.
func TestPublishNeverBlocks(t *testing.T) {
	n := natstest.Start(t)
	url := n.URL()
	n.Kill()
	a := newBus(t, url, "a", newRecorder(), func(c *cluster.Config) { c.MaxQueued = 4; c.ReconnectBuffer = 256 })
	a.Open("#g", nil)
	start := time.Now()
	var full int
	for i := 0; i < 10000; i++ {
		if err := a.Publish("#g", make([]byte, 100)); errors.Is(err, cluster.ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("10,000 publishes took %v", d)
	}
	s := a.Stats()
	if full == 0 || s.Connected || s.Dropped != uint64(full) {
		t.Fatalf("full %d, stats %+v", full, s)
	}
}

// Garbage on the bus's subjects is counted and ignored; names too long
// for a subject are refused.
func TestHostileInput(t *testing.T) {
	n := natstest.Start(t)
	r := newRecorder()
	a := newBus(t, n.URL(), "a", r)
	if _, err := a.Open("#g", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(strings.Repeat("x", cluster.MaxNameLen+1), nil); !errors.Is(err, cluster.ErrBadName) {
		t.Fatalf("long name: %v", err)
	}
	if _, err := a.Open("", nil); !errors.Is(err, cluster.ErrBadName) {
		t.Fatalf("empty name: %v", err)
	}
	raw, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	subject := "spread.g." + base64.RawURLEncoding.EncodeToString([]byte("#g"))
	bad := [][]byte{nil, {1}, {9, 9, 9}, {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, {1, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 1, 0}}
	badStates := []string{"", "{", `{"node":""}`, `[1,2]`, `{"node":"x","groups":[{"name":1}]}`}
	// a subscribes asynchronously: send the garbage until a has seen it.
	eventually(t, "garbage counted", func() bool {
		for _, p := range bad {
			raw.Publish(subject, p)
		}
		for _, p := range badStates {
			raw.Publish("spread.state", []byte(p))
		}
		raw.Flush()
		time.Sleep(20 * time.Millisecond)
		return a.Stats().Malformed >= uint64(len(bad)+len(badStates))
	})
	if got := r.got("#g"); len(got) != 0 {
		t.Fatalf("garbage delivered: %q", got)
	}
	// A well-formed message still goes through.
	b := newBus(t, n.URL(), "b", newRecorder())
	b.Open("#g", nil)
	eventually(t, "a meets b", func() bool { return len(a.Nodes()) == 1 })
	b.Publish("#g", []byte("fine"))
	eventually(t, "delivered", func() bool { return slices.Equal(r.got("#g"), []string{"b: fine"}) })
}

// A frozen NATS server (SIGSTOP: sockets open, nothing read) blocks no
// caller: Publish refuses once the queue is full, Stats and Members
// answer. When it is thawed, delivery resumes, each message at most
// once and in order. (A freeze of 9 s, past the client's pings, was
// also checked by hand: the brokers reconnect and resume the same way.)
func TestFrozenNATSBlocksNobody(t *testing.T) {
	n := natstest.Start(t)
	ra, rb := newRecorder(), newRecorder()
	a := newBus(t, n.URL(), "a", ra, func(c *cluster.Config) { c.MaxQueued = 64 })
	b := newBus(t, n.URL(), "b", rb)
	a.Open("#g", nil)
	b.Open("#g", nil)
	eventually(t, "a and b meet", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	if err := n.Freeze(); err != nil {
		t.Fatal(err)
	}
	defer n.Thaw()
	pad := strings.Repeat(".", 16<<10)
	start := time.Now()
	full := 0
	for i := 1; i <= 5000; i++ {
		if err := a.Publish("#g", []byte(strconv.Itoa(i)+pad)); errors.Is(err, cluster.ErrQueueFull) {
			full++
		}
		a.Stats()
		a.Members("#g")
		a.Connected()
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("5,000 publishes to a frozen NATS took %v", d)
	}
	if full == 0 {
		t.Fatal("80 MB went into a 64-message queue and a frozen server without a refusal")
	}
	time.Sleep(2 * time.Second)
	n.Thaw()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.Publish("#g", []byte("after"))
		got := rb.got("#g")
		if len(got) > 0 && got[len(got)-1] == "a: after" {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("nothing from a after the thaw; a's stats %+v\nb's stats %+v\n%s", a.Stats(), b.Stats(), buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
	prev := 0
	for _, l := range rb.got("#g") {
		num, _, _ := strings.Cut(strings.TrimPrefix(l, "a: "), ".")
		i, err := strconv.Atoi(num)
		if err != nil {
			continue // "after"
		}
		if i <= prev {
			t.Fatalf("b heard message %d after %d: twice or out of order", i, prev)
		}
		prev = i
	}
	t.Logf("b: %+v", b.Stats())
}
