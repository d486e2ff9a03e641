package cred

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock. No test here sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// retryAfter begins and cancels an attempt and returns the RetryAfter
// of its refusal, 0 if it was allowed.
func retryAfter(t *testing.T, th *Throttle, user, addr string) time.Duration {
	t.Helper()
	a, err := th.Begin(user, addr)
	if err == nil {
		a.Cancel()
		return 0
	}
	if a != nil {
		t.Fatalf("Begin returned an attempt and an error")
	}
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("Begin error %v (%T) is not a *ThrottledError matching ErrThrottled", err, err)
	}
	if errors.Is(err, ErrUnauthorizedLogin) {
		t.Fatalf("ThrottledError matches ErrUnauthorizedLogin")
	}
	if te.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %v", te.RetryAfter)
	}
	return te.RetryAfter
}

// fail begins an attempt, which must be allowed, and fails it.
func fail(t *testing.T, th *Throttle, user, addr string) FailureResult {
	t.Helper()
	a, err := th.Begin(user, addr)
	if err != nil {
		t.Fatalf("Begin(%q, %q): %v", user, addr, err)
	}
	return a.Failure()
}

// step is one action in a throttle scenario.
type step struct {
	advance time.Duration
	op      string // "fail", "ok" (Success), "allow"
	user    string
	addr    string
	n       int           // repeat count for "fail" (default 1)
	want    time.Duration // for "allow": expected RetryAfter, 0 = allowed
}

func TestThrottleScenarios(t *testing.T) {
	cfg := ThrottleConfig{MaxFailures: 3, AddressMaxFailures: 5, Window: time.Minute, Lockout: time.Minute, MaxLockout: 5 * time.Minute}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh keys are allowed", []step{
			{op: "allow", user: "alice", addr: "10.0.0.1"},
			{op: "allow", user: "", addr: ""},
		}},
		{"the pair is locked, not the user name", []step{
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "allow", user: "alice", addr: "10.0.0.1"},
			{op: "fail", user: "alice", addr: "10.0.0.1"},
			{op: "allow", user: "alice", addr: "10.0.0.1", want: time.Minute},
			{op: "allow", user: "alice", addr: "10.0.0.2"},
			{op: "allow", user: "alice", addr: "10.0.0.3"},
			{op: "allow", user: "bob", addr: "10.0.0.1"},
			{advance: 20 * time.Second, op: "allow", user: "alice", addr: "10.0.0.1", want: 40 * time.Second},
			{advance: 40 * time.Second, op: "allow", user: "alice", addr: "10.0.0.1"},
		}},
		{"failures of one user from many addresses lock nobody out", []step{
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "fail", user: "alice", addr: "10.0.0.2", n: 2},
			{op: "fail", user: "alice", addr: "10.0.0.3", n: 2},
			{op: "fail", user: "alice", addr: "10.0.0.4", n: 2},
			{op: "allow", user: "alice", addr: "10.0.0.5"},
		}},
		{"the address budget counts failures of all users", []step{
			{op: "fail", user: "a", addr: "192.0.2.7:1000"},
			{op: "fail", user: "b", addr: "192.0.2.7:1001"},
			{op: "fail", user: "c", addr: "192.0.2.7:1002"},
			{op: "allow", user: "d", addr: "192.0.2.7:2000"},
			{op: "ok", user: "e", addr: "192.0.2.7:2000"},
			{op: "ok", user: "e", addr: "192.0.2.7:2000"},
			{op: "allow", user: "d", addr: "192.0.2.7:2000"},
			{op: "fail", user: "d", addr: "192.0.2.7:2001"},
			{op: "allow", user: "e", addr: "192.0.2.7:2000"},
			{op: "fail", user: "f", addr: "192.0.2.7:2002"},
			{op: "allow", user: "e", addr: "192.0.2.7:2000", want: time.Minute},
			{op: "allow", user: "e", addr: "192.0.2.7", want: time.Minute},
			{op: "allow", user: "e", addr: "192.0.2.8"},
			{op: "allow", user: "a", addr: "192.0.2.8"},
		}},
		{"ipv6 address with port, counted per /64", []step{
			{op: "fail", user: "a", addr: "[2001:db8::1]:5000", n: 3},
			{op: "allow", user: "a", addr: "[2001:db8::1]:6000", want: time.Minute},
			{op: "allow", user: "a", addr: "2001:db8::1", want: time.Minute},
			{op: "allow", user: "a", addr: "2001:db8::ffff:1", want: time.Minute},
			{op: "allow", user: "a", addr: "2001:db8:0:1::1"},
			{op: "fail", user: "b", addr: "2001:db8::2", n: 2},
			{op: "allow", user: "z", addr: "[2001:db8::3]:1", want: time.Minute},
		}},
		{"failures outside the window do not add up", []step{
			{op: "fail", user: "alice", addr: "h", n: 2},
			{advance: time.Minute, op: "fail", user: "alice", addr: "h", n: 2},
			{op: "allow", user: "alice", addr: "h"},
			{advance: 59 * time.Second, op: "fail", user: "alice", addr: "h"},
			{op: "allow", user: "alice", addr: "h", want: time.Minute},
		}},
		{"backoff doubles up to MaxLockout", []step{
			{op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: time.Minute},
			{advance: time.Minute, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: 2 * time.Minute},
			{advance: 2 * time.Minute, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: 4 * time.Minute},
			{advance: 4 * time.Minute, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: 5 * time.Minute},
			{advance: 5 * time.Minute, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: 5 * time.Minute},
		}},
		{"backoff is forgotten after a quiet MaxLockout", []step{
			{op: "fail", user: "alice", addr: "h", n: 3},
			{advance: time.Minute + 5*time.Minute, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: time.Minute},
		}},
		{"backoff is forgotten even behind a live entry", []step{
			{op: "fail", user: "bob", addr: "h", n: 3},
			{advance: time.Minute, op: "fail", user: "bob", addr: "h", n: 3},
			{advance: time.Second, op: "fail", user: "alice", addr: "h2", n: 3},
			{advance: time.Minute + 5*time.Minute, op: "fail", user: "alice", addr: "h2", n: 3},
			{op: "allow", user: "alice", addr: "h2", want: time.Minute},
			{op: "allow", user: "bob", addr: "h"},
		}},
		{"backoff is remembered within MaxLockout", []step{
			{op: "fail", user: "alice", addr: "h", n: 3},
			{advance: time.Minute + 5*time.Minute - time.Second, op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "alice", addr: "h", want: 2 * time.Minute},
		}},
		{"success clears the pair but not the address", []step{
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "ok", user: "alice", addr: "10.0.0.1"},
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "allow", user: "alice", addr: "10.0.0.1"},
			{op: "fail", user: "mallory", addr: "10.0.0.2", n: 2},
			{op: "ok", user: "mallory", addr: "10.0.0.2"},
			{op: "fail", user: "eve", addr: "10.0.0.2", n: 3},
			{op: "allow", user: "zed", addr: "10.0.0.2", want: time.Minute},
		}},
		{"longer of both lockouts wins", []step{
			{op: "fail", user: "alice", addr: "10.1.1.1", n: 3},
			{advance: 40 * time.Second, op: "fail", user: "x", addr: "10.1.1.1", n: 2},
			{op: "allow", user: "alice", addr: "10.1.1.1", want: time.Minute},
			{op: "allow", user: "bob", addr: "10.1.1.1", want: time.Minute},
			{advance: 30 * time.Second, op: "allow", user: "alice", addr: "10.1.1.1", want: 30 * time.Second},
			{op: "allow", user: "bob", addr: "10.1.1.1", want: 30 * time.Second},
			{op: "allow", user: "alice", addr: "10.1.1.2"},
		}},
		{"user names are exact", []step{
			{op: "fail", user: "alice", addr: "h", n: 3},
			{op: "allow", user: "Alice", addr: "h"},
			{op: "allow", user: "alice ", addr: "h"},
			{op: "allow", user: "alice", addr: "h", want: time.Minute},
		}},
		{"user and address namespaces are separate", []step{
			{op: "fail", user: "10.0.0.1", addr: "10.0.0.2", n: 3},
			{op: "allow", user: "x", addr: "10.0.0.1"},
			{op: "allow", user: "10.0.0.1", addr: "10.0.0.2", want: time.Minute},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			c := cfg
			c.Now = clk.Now
			th := NewThrottle(&c)
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				switch s.op {
				case "fail":
					for range max(s.n, 1) {
						fail(t, th, s.user, s.addr)
					}
				case "ok":
					a, err := th.Begin(s.user, s.addr)
					if err != nil {
						t.Fatalf("step %d: Begin: %v", i, err)
					}
					a.Success()
				case "allow":
					if got := retryAfter(t, th, s.user, s.addr); got != s.want {
						t.Fatalf("step %d: Begin(%q, %q) RetryAfter = %v, want %v", i, s.user, s.addr, got, s.want)
					}
				default:
					t.Fatalf("bad op %q", s.op)
				}
			}
		})
	}
}

func TestThrottleDefaults(t *testing.T) {
	for _, cfg := range []*ThrottleConfig{nil, {}} {
		clk := newFakeClock()
		th := NewThrottle(cfg)
		th.now = clk.Now
		if th.maxFailures != 5 || th.addrMaxFailures != 100 || th.userDelayAfter != 10 ||
			th.userDelay != time.Second || th.userMaxDelay != 30*time.Second ||
			th.window != time.Minute || th.lockout != time.Minute ||
			th.maxLockout != 15*time.Minute || th.maxKeys != 10000 {
			t.Fatalf("defaults: %+v", th)
		}
		for range 4 {
			fail(t, th, "u", "h")
		}
		if d := retryAfter(t, th, "u", "h"); d != 0 {
			t.Fatalf("locked after 4 failures: %v", d)
		}
		if r := fail(t, th, "u", "h"); r.Lockout != time.Minute || r.AddressLocked {
			t.Fatalf("fifth failure: %+v, want a 1m lockout of the pair", r)
		}
		if d := retryAfter(t, th, "u", "h"); d != time.Minute {
			t.Fatalf("RetryAfter after 5 failures = %v, want 1m", d)
		}
	}
	// MaxLockout below Lockout is raised to Lockout.
	th := NewThrottle(&ThrottleConfig{Lockout: time.Hour, MaxLockout: time.Minute, UserDelay: time.Hour})
	if th.maxLockout != time.Hour || th.userMaxDelay != time.Hour {
		t.Errorf("maxLockout = %v, userMaxDelay = %v, want 1h", th.maxLockout, th.userMaxDelay)
	}
}

// Issue 16: five users behind one address each mistyping once do not
// lock out the sixth, with the default policy.
func TestThrottleSharedAddress(t *testing.T) {
	th := NewThrottle(&ThrottleConfig{Now: newFakeClock().Now})
	for i := range 5 {
		fail(t, th, fmt.Sprint("user", i), "198.51.100.1")
	}
	for i := range 6 {
		if d := retryAfter(t, th, fmt.Sprint("user", i), "198.51.100.1"); d != 0 {
			t.Fatalf("user%d locked out (%v) after five users mistyped once", i, d)
		}
	}
	// The budget is 100 failures: the 100th locks the address.
	for i := 5; i < 99; i++ {
		if r := fail(t, th, fmt.Sprint("user", i), "198.51.100.1"); r.Lockout != 0 {
			t.Fatalf("failure %d locked: %+v", i+1, r)
		}
	}
	if r := fail(t, th, "user99", "198.51.100.1"); r.Lockout != time.Minute || !r.AddressLocked {
		t.Fatalf("100th failure: %+v, want the address locked for 1m", r)
	}
	if d := retryAfter(t, th, "newcomer", "198.51.100.1"); d != time.Minute {
		t.Fatalf("after 100 failures: RetryAfter %v, want 1m", d)
	}
}

// A user name failing from many addresses is slowed on its failures
// only; its correct password is never refused.
func TestThrottleUserDelay(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{UserDelayAfter: 3, UserDelay: time.Second, UserMaxDelay: 5 * time.Second, Now: clk.Now})
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		r := fail(t, th, "alice", fmt.Sprint("203.0.113.", i))
		if r.Delay != w || r.DelayStarted != (i == 3) || r.Lockout != 0 {
			t.Fatalf("failure %d: %+v, want Delay %v", i+1, r, w)
		}
	}
	a, err := th.Begin("alice", "198.51.100.50")
	if err != nil {
		t.Fatalf("alice's own address refused: %v", err)
	}
	a.Success()
	// The count restarts with the window.
	clk.Advance(time.Minute)
	if r := fail(t, th, "alice", "203.0.113.99"); r.Delay != 0 {
		t.Fatalf("after the window: %+v", r)
	}
}

// Issue 19: Begin reserves the attempt, so concurrent guesses cannot
// outrun the count.
func TestThrottleReservesConcurrentAttempts(t *testing.T) {
	th := NewThrottle(&ThrottleConfig{Now: newFakeClock().Now})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts []*Attempt
		refused  int
	)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := th.Begin("alice", "192.0.2.1:4000")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var te *ThrottledError
				if !errors.As(err, &te) || te.RetryAfter != busyRetry {
					t.Errorf("refusal %v", err)
				}
				refused++
				return
			}
			attempts = append(attempts, a)
		}()
	}
	wg.Wait()
	if len(attempts) != 5 || refused != 95 {
		t.Fatalf("%d attempts reserved, %d refused; want 5 and 95", len(attempts), refused)
	}
	var locks int
	for _, a := range attempts {
		if r := a.Failure(); r.Lockout > 0 {
			locks++
		}
	}
	if locks != 1 {
		t.Fatalf("%d lockouts started, want 1", locks)
	}
	if d := retryAfter(t, th, "alice", "192.0.2.1"); d != time.Minute {
		t.Fatalf("after 5 failures: RetryAfter %v", d)
	}
	// Other addresses are untouched.
	if d := retryAfter(t, th, "alice", "192.0.2.2"); d != 0 {
		t.Fatalf("alice from another address: %v", d)
	}
	// Attempts in progress count against the address budget too.
	th2 := NewThrottle(&ThrottleConfig{AddressMaxFailures: 10, Now: newFakeClock().Now})
	var held []*Attempt
	for i := range 10 {
		a, err := th2.Begin(fmt.Sprint("u", i), "192.0.2.9")
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		held = append(held, a)
	}
	if d := retryAfter(t, th2, "u10", "192.0.2.9"); d != busyRetry {
		t.Fatalf("11th concurrent attempt: %v", d)
	}
	for _, a := range held {
		a.Success()
	}
	if d := retryAfter(t, th2, "u10", "192.0.2.9"); d != 0 {
		t.Fatalf("after the successes: %v", d)
	}
}

func TestThrottleCancelDoesNotCount(t *testing.T) {
	th := NewThrottle(&ThrottleConfig{MaxFailures: 2, Now: newFakeClock().Now})
	for range 20 {
		a, err := th.Begin("alice", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		a.Cancel()
		a.Failure() // after Cancel: ignored
	}
	if len(th.entries) != 0 {
		t.Fatalf("%d entries after cancelled attempts", len(th.entries))
	}
	a, _ := th.Begin("alice", "192.0.2.1")
	a.Failure()
	a.Failure() // twice: counted once
	if d := retryAfter(t, th, "alice", "192.0.2.1"); d != 0 {
		t.Fatalf("locked after one failure: %v", d)
	}
}

func TestThrottleStoreOutage(t *testing.T) {
	th := NewThrottle(nil)
	if th.StoreAnswered() {
		t.Fatal("answered ends an outage that never began")
	}
	if !th.StoreUnavailable() || th.StoreUnavailable() || th.StoreUnavailable() {
		t.Fatal("outage not reported exactly once")
	}
	if !th.StoreAnswered() || th.StoreAnswered() {
		t.Fatal("recovery not reported exactly once")
	}
	if !th.StoreUnavailable() {
		t.Fatal("second outage not reported")
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{MaxFailures: 2, MaxKeys: 10, Now: clk.Now})

	// Lock out "victim", then flood with fresh keys.
	fail(t, th, "victim", "h")
	fail(t, th, "victim", "h")
	if retryAfter(t, th, "victim", "h") == 0 {
		t.Fatal("victim not locked")
	}
	held, err := th.Begin("pinned", "p")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		fail(t, th, fmt.Sprintf("user%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if n := len(th.entries); n > 10 || n != th.lru.Len() {
			t.Fatalf("after %d failures: %d entries, %d in LRU", i+1, n, th.lru.Len())
		}
	}
	// The oldest key was evicted to make room (documented trade-off).
	if _, ok := th.entries[hashKey(kindPair, "victim", "h")]; ok {
		t.Error("victim still tracked after the flood")
	}
	// The attempt in progress kept its reservation.
	if e, ok := th.entries[hashKey(kindPair, "pinned", "p")]; !ok || e.Value.(*throttleEntry).inflight != 1 {
		t.Error("an entry with an attempt in progress was evicted")
	}
	held.Cancel()
	// The most recent keys are still tracked.
	if _, ok := th.entries[hashKey(kindUser, "user999")]; !ok {
		t.Error("newest key was evicted")
	}
}

// Issue 19: keys are hashes, so long user names cost no more than short
// ones. 100 failed logins with 600 KiB names kept about 600 KiB each
// before (61 MB in all); now each key is a fixed-size hash.
func TestThrottleLongNamesBoundedMemory(t *testing.T) {
	th := NewThrottle(&ThrottleConfig{Now: newFakeClock().Now})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 100 {
		name := strings.Repeat("x", 600<<10) + fmt.Sprint(i)
		fail(t, th, name, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(th.entries) != 300 {
		t.Fatalf("%d entries, want 300 (pair, address, user per failure)", len(th.entries))
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth for 100 failed 600 KiB user names: %d bytes (%d per failure)", grown, grown/100)
	if grown > 1<<20 {
		t.Errorf("heap grew by %d bytes for 100 failures, want under 1 MiB", grown)
	}
	runtime.KeepAlive(th)
}

func TestThrottlePrunesExpired(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{MaxFailures: 3, Window: time.Minute, Now: clk.Now})
	for i := range 50 {
		fail(t, th, fmt.Sprint("u", i), "")
	}
	if len(th.entries) != 50 {
		t.Fatalf("%d entries, want 50", len(th.entries))
	}
	clk.Advance(time.Minute)
	fail(t, th, "fresh", "")
	if len(th.entries) != 1 {
		t.Errorf("%d entries after the window passed, want 1", len(th.entries))
	}
	// A locked key outlives its window: its backoff is remembered.
	for range 3 {
		fail(t, th, "locked", "h")
	}
	locked := hashKey(kindPair, "locked", "h")
	clk.Advance(time.Minute + DefaultThrottleMaxLockout - time.Second)
	fail(t, th, "other", "")
	if _, ok := th.entries[locked]; !ok {
		t.Error("locked key forgotten too early")
	}
	clk.Advance(time.Second)
	fail(t, th, "other2", "")
	if _, ok := th.entries[locked]; ok {
		t.Error("locked key still tracked after its backoff expired")
	}
}

func TestThrottledErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Minute, "retry after 60s"},
		{1500 * time.Millisecond, "retry after 2s"},
		{time.Nanosecond, "retry after 1s"},
	} {
		err := error(&ThrottledError{RetryAfter: tt.d})
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %q does not contain %q", tt.d, err.Error(), tt.want)
		}
		if !errors.Is(fmt.Errorf("wrapped: %w", err), ErrThrottled) {
			t.Error("wrapped ThrottledError does not match ErrThrottled")
		}
	}
}

func TestThrottleConcurrent(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{MaxKeys: 50, Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				u := fmt.Sprint("u", (g*200+i)%97)
				a := fmt.Sprint("10.0.0.", i%13)
				at, err := th.Begin(u, a)
				if err != nil {
					continue
				}
				switch i % 3 {
				case 0:
					at.Success()
				case 1:
					at.Failure()
				default:
					at.Cancel()
				}
				if i%50 == 0 {
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	if len(th.entries) > 50 || len(th.entries) != th.lru.Len() {
		t.Errorf("%d entries, %d in LRU", len(th.entries), th.lru.Len())
	}
	for _, el := range th.entries {
		if e := el.Value.(*throttleEntry); e.inflight != 0 {
			t.Errorf("entry with %d attempts in progress after all ended", e.inflight)
		}
	}
}
