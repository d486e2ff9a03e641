package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/pypeer"
)

func chatDemo(t *testing.T) *spreadServer {
	return startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--demo")
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// The chat client of Twisted's documentation against spread chat serve.
func TestDocChatClientAgainstSpreadChat(t *testing.T) {
	srv := chatDemo(t)
	out, stderr, err := pypeer.RunClient(t, 30*time.Second, "seed/chatclient.py", srv.Addr)
	want := []string{
		"connected, joining group #NeedAFourth",
		"joined group, now sending a message to all members",
		"<alice> says: You can call me Al.",
	}
	if err != nil || strings.Join(lines(out), "\n") != strings.Join(want, "\n") {
		t.Fatalf("chatclient.py: %v\nstdout:\n%s\nstderr:\n%s\nserver:\n%s", err, out, stderr, srv.Log())
	}
	if !strings.Contains(srv.Log(), "demo users loaded") {
		t.Errorf("--demo not logged:\n%s", srv.Log())
	}
}

func member(t *testing.T, addr, user, pass, group string, extra ...string) (string, string, error) {
	args := append([]string{addr, user, pass, group}, extra...)
	return pypeer.RunClient(t, 40*time.Second, "chat/chat_member.py", args...)
}

func TestPythonMembersAgainstSpreadChat(t *testing.T) {
	srv := chatDemo(t)

	t.Run("mattress", func(t *testing.T) {
		out, stderr, err := member(t, srv.Addr, "alice", "1234", "#quiet", "--no-mattress",
			"--send", "fine words", "--send", "my mattress", "--send", "more words", "--expect", "2")
		if err == nil || !strings.Contains(stderr, "error: builtins.ValueError: Don't say that word") {
			t.Errorf("mattress: err=%v stderr=%s", err, stderr)
		}
		want := "<alice> says: fine words\n<alice> says: more words"
		if strings.Join(lines(out), "\n") != want {
			t.Errorf("mattress group delivered:\n%s\nwant:\n%s", out, want)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		_, stderr, err := member(t, srv.Addr, "alice", "wrong", "#g")
		if err == nil || !strings.Contains(stderr, "error: twisted.cred.error.UnauthorizedLogin") {
			t.Errorf("wrong password: err=%v stderr=%s", err, stderr)
		}
	})

	t.Run("two members", func(t *testing.T) {
		ready := filepath.Join(t.TempDir(), "ready")
		type res struct {
			out, stderr string
			err         error
		}
		bobc := make(chan res, 1)
		go func() {
			o, e, err := member(t, srv.Addr, "bob", "secret", "#both", "--ready-file", ready, "--expect", "2")
			bobc <- res{o, e, err}
		}()
		waitFile(t, ready)
		out, stderr, err := member(t, srv.Addr, "alice", "1234", "#both", "--send", "hi bob", "--expect", "1")
		if err != nil || strings.TrimSpace(out) != "<alice> says: hi bob" {
			t.Errorf("alice: %v %q %s", err, out, stderr)
		}
		// bob expects two lines: alice's, and his own answer below.
		_, _, err = member(t, srv.Addr, "carol", "fido", "#both", "--send", "hi all", "--expect", "1")
		if err != nil {
			t.Errorf("carol: %v", err)
		}
		r := <-bobc
		want := "<alice> says: hi bob\n<carol> says: hi all"
		if r.err != nil || strings.Join(lines(r.out), "\n") != want {
			t.Errorf("bob heard (err %v):\n%s\nwant:\n%s\nstderr: %s", r.err, r.out, want, r.stderr)
		}
	})

	t.Run("50 pipelined in order", func(t *testing.T) {
		out, stderr, err := member(t, srv.Addr, "carol", "fido", "#pipe", "--sends", "50", "--expect", "50")
		if err != nil {
			t.Fatalf("carol: %v %s", err, stderr)
		}
		got := lines(out)
		if len(got) != 50 {
			t.Fatalf("got %d lines, want 50:\n%s", len(got), out)
		}
		for i, l := range got {
			if want := fmt.Sprintf("<carol> says: message %d", i+1); l != want {
				t.Fatalf("line %d = %q, want %q", i, l, want)
			}
		}
	})
	if !srv.Stop(t) {
		t.Errorf("spread chat serve did not exit cleanly:\n%s", srv.Log())
	}
	if n := strings.Count(srv.Log(), "chat: user attached"); n != strings.Count(srv.Log(), "chat: user detached") || n == 0 {
		t.Errorf("attached/detached do not balance:\n%s", srv.Log())
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// spread chat join against Twisted's chat server.
func TestSpreadChatJoinAgainstPythonChatServer(t *testing.T) {
	p := pypeer.StartServer(t, "seed/chatserver.py", "127.0.0.1:0")
	env := []string{"SPREAD_PASSWORD=1234"}
	input := "hello from go\nsay mattress\nbye\n"
	out, stderr, code := runSpread(t, input, env, "chat", "join", "--server", p.Addr, "--user", "alice", "--group", "#py", "--no-mattress")
	want := "<alice> says: hello from go\n<alice> says: bye"
	if code != 0 || strings.Join(lines(out), "\n") != want {
		t.Errorf("chat join: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "error: builtins.ValueError: Don't say that word") {
		t.Errorf("mattress error not reported: %s", stderr)
	}
	_, stderr, code = runSpread(t, "x\n", []string{"SPREAD_PASSWORD=nope"}, "chat", "join", "--server", p.Addr, "--user", "alice", "--group", "#py")
	if code == 0 || !strings.Contains(stderr, "UnauthorizedLogin") {
		t.Errorf("wrong password: exit %d, stderr %s", code, stderr)
	}
}

// spread chat join against spread chat serve, both in Go.
func TestSpreadChatJoinAgainstSpreadChat(t *testing.T) {
	srv := chatDemo(t)
	var input strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&input, "line %d\n", i)
	}
	out, stderr, code := runSpread(t, input.String(), []string{"SPREAD_PASSWORD=secret"}, "chat", "join", "--server", srv.Addr, "--user", "bob", "--group", "#go")
	got := lines(out)
	if code != 0 || len(got) != 50 {
		t.Fatalf("exit %d, %d lines\n%s\n%s", code, len(got), out, stderr)
	}
	for i, l := range got {
		if want := fmt.Sprintf("<bob> says: line %d", i+1); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
}
