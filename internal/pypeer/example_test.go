package pypeer_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gospread/spread/internal/pypeer"
)

// A Go PB client test against the real Twisted Echo server.
func ExampleStartServer() {
	test := func(t *testing.T) {
		srv := pypeer.StartServer(t, "echo_server.py") // stopped when the test ends
		_ = srv.Addr                                   // "127.0.0.1:<port>": dial it with the Go client
	}
	_ = test
}

// A Go PB server test: every check of the Python echo client must pass.
func ExampleRunEchoClient() {
	test := func(t *testing.T, goServerAddr string) {
		pypeer.RunEchoClient(t, goServerAddr) // t.Errorf per failed check
	}
	_ = test
}

// Logging in to a Go server with the Python cred client.
func ExampleRunClient() {
	test := func(t *testing.T, goServerAddr string) {
		stdout, _, err := pypeer.RunClient(t, 30*time.Second, "login_client.py", goServerAddr, "user1", "pass1")
		r, perr := pypeer.ParseLoginResult(stdout)
		if err != nil || perr != nil || r.Repr != "('foo', 'user1', 13)" {
			t.Errorf("login: %v %v %+v", err, perr, r)
		}
	}
	_ = test
}

func ExampleScript() {
	fmt.Println(filepath.Base(pypeer.Script("echo_server.py")))
	// Output: echo_server.py
}

func ExampleParseChecks() {
	stdout := `{"check": "echo/None", "ok": true, "detail": "None"}
{"check": "counter", "ok": false, "detail": "no setValue cachemessage within 5s"}
{"summary": {"passed": 1, "failed": 1}}
`
	checks, sum, err := pypeer.ParseChecks(stdout)
	fmt.Println(len(checks), sum.Passed, sum.Failed, err)
	for _, c := range checks {
		if !c.OK {
			fmt.Println(c.Name+":", c.Detail)
		}
	}
	// Output:
	// 2 1 1 <nil>
	// counter: no setValue cachemessage within 5s
}
