package interop

import (
	"strings"
	"testing"

	"github.com/gospread/spread/internal/pypeer"
)

// TestSpreadCall runs `spread call` against the Go and the Python echo
// servers: JSON in, JSON out, remote errors as "Type: message".
func TestSpreadCall(t *testing.T) {
	py := pypeer.StartServer(t, "echo_server.py", "0")
	for name, addr := range map[string]string{"go": startGoEcho(t), "python": py.Addr} {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				args []string
				out  string
			}{
				{[]string{"echo", `{"a": [1, 2.5, "x", null, true]}`}, `{"a":[1,2.5,"x",null,true]}`},
				{[]string{"echo", "plain words"}, `"plain words"`},
				{[]string{"echo", "18446744073709551616"}, `18446744073709551616`},
				{[]string{"echoKw", "x"}, `["x","default"]`},
			}
			for _, c := range cases {
				out, stderr, code := runSpread(t, "", nil, append([]string{"call", "--server", addr, "--root"}, c.args...)...)
				if code != 0 || strings.TrimSpace(out) != c.out {
					t.Errorf("call %v: exit %d, out %q, want %q; stderr %s", c.args, code, out, c.out, stderr)
				}
			}
			out, stderr, code := runSpread(t, "", nil, "call", "--server", addr, "--root", "fail", "boom")
			if code == 0 || out != "" || strings.TrimSpace(stderr) != "builtins.ValueError: boom" {
				t.Errorf("fail boom: exit %d, out %q, stderr %q", code, out, stderr)
			}
			_, stderr, code = runSpread(t, "", nil, "call", "--server", addr, "--root", "add")
			if code == 0 || !strings.Contains(stderr, "No such method") && !strings.Contains(stderr, "AttributeError") {
				t.Errorf("unknown method: exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestSpreadCallWithLogin calls an avatar method through --user.
func TestSpreadCallWithLogin(t *testing.T) {
	py := pypeer.StartServer(t, "login_server.py", "0", "--anonymous")
	out, stderr, code := runSpread(t, "", []string{"SPREAD_PASSWORD=pass1"}, "call", "--server", py.Addr, "--user", "user1", "foo", "7")
	if code != 0 || strings.TrimSpace(out) != `["foo","user1",7]` {
		t.Errorf("call --user: exit %d, out %q, stderr %q", code, out, stderr)
	}
	out, stderr, code = runSpread(t, "", nil, "call", "--server", py.Addr, "--anonymous", "foo", "7")
	if code != 0 || strings.TrimSpace(out) != `["foo","",7]` {
		t.Errorf("call --anonymous: exit %d, out %q, stderr %q", code, out, stderr)
	}
	_, stderr, code = runSpread(t, "", []string{"SPREAD_PASSWORD=bad"}, "call", "--server", py.Addr, "--user", "user1", "foo", "7")
	if code == 0 || !strings.Contains(stderr, "twisted.cred.error.UnauthorizedLogin") {
		t.Errorf("bad password: exit %d, stderr %q", code, stderr)
	}
}
