package cred

import (
	"errors"
	"fmt"
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

// retryAfter returns the RetryAfter of a throttled Allow, 0 if allowed.
func retryAfter(t *testing.T, th *Throttle, user, addr string) time.Duration {
	t.Helper()
	err := th.Allow(user, addr)
	if err == nil {
		return 0
	}
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow error %v (%T) is not a *ThrottledError matching ErrThrottled", err, err)
	}
	if errors.Is(err, ErrUnauthorizedLogin) {
		t.Fatalf("ThrottledError matches ErrUnauthorizedLogin")
	}
	if te.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %v", te.RetryAfter)
	}
	return te.RetryAfter
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
	cfg := ThrottleConfig{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute, MaxLockout: 5 * time.Minute}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh keys are allowed", []step{
			{op: "allow", user: "alice", addr: "10.0.0.1"},
			{op: "allow", user: "", addr: ""},
		}},
		{"lockout after MaxFailures for the user", []step{
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "allow", user: "alice", addr: "10.0.0.2"},
			{op: "fail", user: "alice", addr: "10.0.0.2"},
			{op: "allow", user: "alice", addr: "10.0.0.3", want: time.Minute},
			{op: "allow", user: "bob", addr: "10.0.0.3"},
			{advance: 20 * time.Second, op: "allow", user: "alice", addr: "10.0.0.3", want: 40 * time.Second},
			{advance: 40 * time.Second, op: "allow", user: "alice", addr: "10.0.0.3"},
		}},
		{"lockout after MaxFailures from one address", []step{
			{op: "fail", user: "a", addr: "192.0.2.7:1000"},
			{op: "fail", user: "b", addr: "192.0.2.7:1001"},
			{op: "fail", user: "c", addr: "192.0.2.7:1002"},
			{op: "allow", user: "d", addr: "192.0.2.7:2000", want: time.Minute},
			{op: "allow", user: "d", addr: "192.0.2.7", want: time.Minute},
			{op: "allow", user: "d", addr: "192.0.2.8"},
			{op: "allow", user: "a", addr: "192.0.2.8"},
		}},
		{"ipv6 address with port", []step{
			{op: "fail", user: "a", addr: "[2001:db8::1]:5000", n: 3},
			{op: "allow", user: "z", addr: "[2001:db8::1]:6000", want: time.Minute},
			{op: "allow", user: "z", addr: "2001:db8::1", want: time.Minute},
		}},
		{"failures outside the window do not add up", []step{
			{op: "fail", user: "alice", n: 2},
			{advance: time.Minute, op: "fail", user: "alice", n: 2},
			{op: "allow", user: "alice"},
			{advance: 59 * time.Second, op: "fail", user: "alice"},
			{op: "allow", user: "alice", want: time.Minute},
		}},
		{"backoff doubles up to MaxLockout", []step{
			{op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: time.Minute},
			{advance: time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: 2 * time.Minute},
			{advance: 2 * time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: 4 * time.Minute},
			{advance: 4 * time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: 5 * time.Minute},
			{advance: 5 * time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: 5 * time.Minute},
		}},
		{"failures while locked are ignored", []step{
			{op: "fail", user: "alice", n: 3},
			{advance: 30 * time.Second, op: "fail", user: "alice", n: 10},
			{op: "allow", user: "alice", want: 30 * time.Second},
			{advance: 30 * time.Second, op: "allow", user: "alice"},
			{op: "fail", user: "alice", n: 2},
			{op: "allow", user: "alice"},
		}},
		{"backoff is forgotten after a quiet MaxLockout", []step{
			{op: "fail", user: "alice", n: 3},
			{advance: time.Minute + 5*time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: time.Minute},
		}},
		{"backoff is forgotten even behind a live entry", []step{
			{op: "fail", user: "bob", n: 3},
			{advance: time.Minute, op: "fail", user: "bob", n: 3},
			{advance: time.Second, op: "fail", user: "alice", n: 3},
			{advance: time.Minute + 5*time.Minute, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: time.Minute},
			{op: "allow", user: "bob"},
		}},
		{"backoff is remembered within MaxLockout", []step{
			{op: "fail", user: "alice", n: 3},
			{advance: time.Minute + 5*time.Minute - time.Second, op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: 2 * time.Minute},
		}},
		{"success clears the user but not the address", []step{
			{op: "fail", user: "alice", addr: "10.0.0.1", n: 2},
			{op: "ok", user: "alice", addr: "10.0.0.1"},
			{op: "fail", user: "alice", addr: "10.0.0.9", n: 2},
			{op: "allow", user: "alice", addr: "10.0.0.9"},
			{op: "fail", user: "mallory", addr: "10.0.0.1"},
			{op: "allow", user: "eve", addr: "10.0.0.1", want: time.Minute},
		}},
		{"success lifts a user lockout", []step{
			{op: "fail", user: "alice", n: 3},
			{op: "allow", user: "alice", want: time.Minute},
			{op: "ok", user: "alice"},
			{op: "allow", user: "alice"},
		}},
		{"longer of both lockouts wins", []step{
			{op: "fail", user: "alice", n: 3},
			{advance: 40 * time.Second, op: "fail", user: "x", addr: "10.1.1.1", n: 3},
			{op: "allow", user: "alice", addr: "10.1.1.1", want: time.Minute},
			{op: "allow", user: "alice", addr: "10.1.1.2", want: 20 * time.Second},
		}},
		{"user names are exact", []step{
			{op: "fail", user: "alice", n: 3},
			{op: "allow", user: "Alice"},
			{op: "allow", user: "alice "},
		}},
		{"user and address namespaces are separate", []step{
			{op: "fail", user: "10.0.0.1", n: 3},
			{op: "allow", addr: "10.0.0.1"},
			{op: "allow", user: "10.0.0.1", want: time.Minute},
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
						th.Failure(s.user, s.addr)
					}
				case "ok":
					th.Success(s.user, s.addr)
				case "allow":
					if got := retryAfter(t, th, s.user, s.addr); got != s.want {
						t.Fatalf("step %d: Allow(%q, %q) RetryAfter = %v, want %v", i, s.user, s.addr, got, s.want)
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
		if th.maxFailures != 5 || th.window != time.Minute || th.lockout != time.Minute ||
			th.maxLockout != 15*time.Minute || th.maxKeys != 10000 {
			t.Fatalf("defaults: %+v", th)
		}
		for range 4 {
			th.Failure("u", "")
		}
		if d := retryAfter(t, th, "u", ""); d != 0 {
			t.Fatalf("locked after 4 failures: %v", d)
		}
		th.Failure("u", "")
		if d := retryAfter(t, th, "u", ""); d != time.Minute {
			t.Fatalf("RetryAfter after 5 failures = %v, want 1m", d)
		}
	}
	// MaxLockout below Lockout is raised to Lockout.
	th := NewThrottle(&ThrottleConfig{Lockout: time.Hour, MaxLockout: time.Minute})
	if th.maxLockout != time.Hour {
		t.Errorf("maxLockout = %v, want 1h", th.maxLockout)
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{MaxFailures: 2, MaxKeys: 10, Now: clk.Now})

	// Lock out "victim", then flood with fresh keys.
	th.Failure("victim", "")
	th.Failure("victim", "")
	if retryAfter(t, th, "victim", "") == 0 {
		t.Fatal("victim not locked")
	}
	for i := range 1000 {
		th.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if n := len(th.entries); n > 10 || n != th.lru.Len() {
			t.Fatalf("after %d failures: %d entries, %d in LRU", i+1, n, th.lru.Len())
		}
	}
	// The oldest key was evicted to make room (documented trade-off).
	if _, ok := th.entries[userKey("victim")]; ok {
		t.Error("victim still tracked after the flood")
	}
	// The most recent keys are still tracked.
	if _, ok := th.entries[userKey("user999")]; !ok {
		t.Error("newest key was evicted")
	}
}

func TestThrottlePrunesExpired(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(&ThrottleConfig{MaxFailures: 3, Window: time.Minute, Now: clk.Now})
	for i := range 50 {
		th.Failure(fmt.Sprint("u", i), "")
	}
	if len(th.entries) != 50 {
		t.Fatalf("%d entries, want 50", len(th.entries))
	}
	clk.Advance(time.Minute)
	th.Failure("fresh", "")
	if len(th.entries) != 1 {
		t.Errorf("%d entries after the window passed, want 1", len(th.entries))
	}
	// A locked key outlives its window: its backoff is remembered.
	for range 3 {
		th.Failure("locked", "")
	}
	clk.Advance(time.Minute + DefaultThrottleMaxLockout - time.Second)
	th.Failure("other", "")
	if _, ok := th.entries[userKey("locked")]; !ok {
		t.Error("locked key forgotten too early")
	}
	clk.Advance(time.Second)
	th.Failure("other2", "")
	if _, ok := th.entries[userKey("locked")]; ok {
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
				_ = th.Allow(u, a)
				if i%3 == 0 {
					th.Success(u, a)
				} else {
					th.Failure(u, a)
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
}
