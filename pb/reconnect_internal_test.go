package pb

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	d := 500 * time.Millisecond
	var seq []time.Duration
	for i := 0; i < 10; i++ {
		seq = append(seq, d)
		d = nextDelay(d, 30*time.Second)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("delays %v, want %v", seq, want)
		}
	}
	if got := nextDelay(time.Duration(1<<62), time.Duration(1<<62)+1); got != time.Duration(1<<62)+1 {
		t.Errorf("no overflow near the maximum: %v", got)
	}
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		w := jitter(time.Second)
		if w < 500*time.Millisecond || w > time.Second {
			t.Fatalf("jitter(1s) = %v", w)
		}
		seen[w] = true
	}
	if len(seen) < 100 {
		t.Errorf("jitter gave only %d distinct waits in 1000", len(seen))
	}
}
