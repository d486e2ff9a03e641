package pypeer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Check is one result line of echo_client.py.
type Check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Summary is the final line of echo_client.py.
type Summary struct {
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

// ParseChecks parses echo_client.py's stdout. Lines that are not JSON are
// ignored. It is an error if the summary line is missing or disagrees with
// the check lines.
func ParseChecks(stdout string) ([]Check, Summary, error) {
	var (
		checks  []Check
		summary *Summary
	)
	for _, line := range strings.Split(stdout, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var row struct {
			Check   *string  `json:"check"`
			OK      bool     `json:"ok"`
			Detail  string   `json:"detail"`
			Summary *Summary `json:"summary"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return checks, Summary{}, fmt.Errorf("pypeer: bad echo_client line %q: %v", line, err)
		}
		switch {
		case row.Check != nil:
			checks = append(checks, Check{Name: *row.Check, OK: row.OK, Detail: row.Detail})
		case row.Summary != nil:
			summary = row.Summary
		}
	}
	if summary == nil {
		return checks, Summary{}, errors.New("pypeer: echo_client printed no summary line")
	}
	passed := 0
	for _, c := range checks {
		if c.OK {
			passed++
		}
	}
	if passed != summary.Passed || len(checks)-passed != summary.Failed {
		return checks, *summary, fmt.Errorf("pypeer: echo_client summary %+v disagrees with %d checks (%d passed)",
			*summary, len(checks), passed)
	}
	return checks, *summary, nil
}

// RunEchoClient runs echo_client.py against addr (extra args such as
// "--skip", "counter" are passed on) and reports every failed check, a
// missing summary or a non-zero exit with t.Errorf. It returns the checks.
func RunEchoClient(t testing.TB, addr string, args ...string) []Check {
	t.Helper()
	stdout, stderr, err := RunClient(t, 60*time.Second, "echo_client.py", append([]string{addr}, args...)...)
	checks, sum, perr := ParseChecks(stdout)
	for _, c := range checks {
		if !c.OK {
			t.Errorf("echo_client check %s failed: %s", c.Name, c.Detail)
		}
	}
	if perr != nil {
		t.Error(perr)
	}
	if err != nil || perr != nil || sum.Failed > 0 || len(checks) == 0 {
		t.Errorf("echo_client against %s: exit %v, %d checks, %+v\n--- stdout ---\n%s--- stderr ---\n%s",
			addr, err, len(checks), sum, stdout, stderr)
	}
	return checks
}

// LoginResult is the JSON line printed by login_client.py.
type LoginResult struct {
	OK       bool     `json:"ok"`
	Result   any      `json:"result"`    // JSON form: tuples as arrays, bytes as {"bytes": hex}
	Repr     string   `json:"repr"`      // Python repr of foo's result, e.g. "('foo', 'user1', 13)"
	Mind     any      `json:"mind"`      // callMind's result (with --call-mind)
	MindRepr string   `json:"mind_repr"` // its Python repr
	Stage    string   `json:"stage"`     // on failure: connect, login, foo, callMind, client
	Type     string   `json:"type"`      // on failure: e.g. "twisted.cred.error.UnauthorizedLogin"
	Value    string   `json:"value"`     // on failure: getErrorMessage()
	Parents  []string `json:"parents"`   // on failure: the failure's class hierarchy
}

// ParseLoginResult parses login_client.py's stdout (its last JSON line).
func ParseLoginResult(stdout string) (LoginResult, error) {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r LoginResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return LoginResult{}, fmt.Errorf("pypeer: bad login_client line %q: %v", line, err)
		}
		return r, nil
	}
	return LoginResult{}, fmt.Errorf("pypeer: login_client printed no JSON line: %q", stdout)
}
