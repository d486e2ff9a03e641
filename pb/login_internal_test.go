package pb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// An expired challenger refuses to respond, and no longer counts as
// pending.
func TestChallengeExpires(t *testing.T) {
	r := &loginRoot{}
	c := &challenger{root: r, username: "user", challenge: make([]byte, 16), expires: time.Now().Add(-time.Millisecond)}
	if c.pending(time.Now()) {
		t.Fatal("an expired challenge is pending")
	}
	_, err := c.RemoteRespond(context.Background(), make([]byte, 16), nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.code != LoginCodeChallenge || !strings.Contains(pe.Message, "expired") {
		t.Fatalf("respond to an expired challenge: %v", err)
	}
	if challengeTTL != 30*time.Second || maxPendingChallenges != 16 {
		t.Fatalf("limits %v, %d", challengeTTL, maxPendingChallenges)
	}
}

func TestLogName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice", "alice"},
		{"a\nb", `a\nb`},
		{"x\"=y", `x\"=y`},
		{"Jos\u00e9", "Jos\u00e9"},
		{"\xff", `\xff`},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), strings.Repeat("a", 64) + "... (65 bytes)"},
		{strings.Repeat("a", 63) + "\u00e9", strings.Repeat("a", 63) + "... (65 bytes)"},
	} {
		if got := logName(tt.in); got != tt.want {
			t.Errorf("logName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
