package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/testcert"
	"github.com/gospread/spread/pb"
)

// waitConnected waits until the chat server s has logged in at authd:
// on a loaded machine that may take longer than chat serve waits before
// serving.
func waitConnected(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.stderr.String(), `msg="authd: connected to the authentication server"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the chat server did not connect to authd:\n%s", s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeSecret writes a secret file for a test.
func writeSecret(t *testing.T, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The whole flow through the command line: services file, authd, a chat
// broker delegating to it (its demo users tried first), a ticket login
// with chat join and call, and operator revocation.
func TestAuthdCommands(t *testing.T) {
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	chatSecret := writeSecret(t, dir, "chat.secret", "chat-service-secret")
	opSecret := writeSecret(t, dir, "op.secret", "operator-secret")
	spread(t, "", "authd", "services", "add", "--password-file", chatSecret, services, "chat").
		expect(t, "services add", 0, "", "chat done")
	spread(t, "", "authd", "services", "add", "--admin", "--password-file", opSecret, services, "op").
		expect(t, "services add --admin", 0, "", "op done")
	spread(t, "", "authd", "services", "add", "--password-file", chatSecret, services, "bad/name").
		expect(t, "bad service name", 2, "", "only letters")
	if data, _ := os.ReadFile(services); strings.Contains(string(data), "secret") || !strings.Contains(string(data), ":admin") {
		t.Fatalf("services file:\n%s", data)
	}

	users := writeSecret(t, dir, "users", "dora:dora-pw\nalice:not-the-demo-pw")
	ad := startServe(t, context.Background(), "authd", "--listen", "127.0.0.1:0", "--services", services,
		"--auth", "file:"+users, "--ticket-ttl", "30s", "--metrics", "127.0.0.1:0")
	ch := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--authd", ad.addr, "--service", "chat", "--service-secret-file", chatSecret, "--metrics", "127.0.0.1:0")
	waitConnected(t, ch)
	metricsAt := func(p *server) string {
		m := metricsRE.FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("no metrics address logged:\n%s", p.stderr)
		}
		return "http://" + m[1]
	}
	if code, body := httpGet(t, metricsAt(ch)+"/healthz"); code != 200 || !strings.Contains(body, `"authd":"connected"`) {
		t.Fatalf("broker /healthz: %d %s", code, body)
	}

	// dora is known only to authd: a ticket login.
	t.Setenv("SPREAD_PASSWORD", "dora-pw")
	r := spread(t, "hello from dora\n", "chat", "join", "--server", ch.addr, "--user", "dora",
		"--authd", ad.addr, "--service", "chat", "--group", "#g")
	r.expect(t, "chat join --authd", 0, "<dora> says: hello from dora", "")
	_, body := httpGet(t, metricsAt(ad)+"/metrics")
	for _, want := range []string{"spread_authd_tickets_issued_total 1\n", "spread_authd_tickets_redeemed_total 1\n", "spread_authd_tickets_live 0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("authd /metrics lacks %q", want)
		}
	}
	if _, body := httpGet(t, metricsAt(ch)+"/metrics"); !strings.Contains(body, `spread_authd_connected{authd="`+ad.addr+`"} 1`) {
		t.Errorf("broker /metrics lacks spread_authd_connected 1")
	}
	spread(t, "", "call", "--server", ch.addr, "--user", "dora", "--authd", ad.addr, "--service", "nope", "joinGroup", "#g").
		expect(t, "ticket for another service", 1, "", "UnauthorizedLogin")
	spread(t, "", "call", "--server", ch.addr, "--user", "dora", "--authd", ad.addr, "joinGroup", "#g").
		expect(t, "--authd without --service", 1, "", "--service")
	// alice: the chat's demo user is tried first.
	t.Setenv("SPREAD_PASSWORD", "1234")
	spread(t, "hi\n", "chat", "join", "--server", ch.addr, "--user", "alice", "--group", "#g").
		expect(t, "local user", 0, "<alice> says: hi", "")
	if strings.Contains(ad.stderr.String(), "dora-pw") || strings.Contains(ch.stderr.String(), "dora-pw") {
		t.Error("a password was logged")
	}

	// Operator revocation needs an admin service.
	t.Setenv("SPREAD_SERVICE_SECRET", "chat-service-secret")
	spread(t, "", "authd", "revoke", "--authd", ad.addr, "--service", "chat", "dora").
		expect(t, "revoke as a plain service", 1, "", "may not revoke")
	t.Setenv("SPREAD_SERVICE_SECRET", "operator-secret")
	spread(t, "", "authd", "revoke", "--authd", ad.addr, "--service", "op", "dora").
		expect(t, "revoke", 0, "dora: 0 session(s) ended", "")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ad.stderr.String(), "authd: user revoked") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(ad.stderr.String(), "authd: user revoked") {
		t.Errorf("no revocation logged:\n%s", ad.stderr)
	}
}

func TestAuthFlags(t *testing.T) {
	r := spread(t, "", "chat", "serve", "--help-auth")
	r.expect(t, "--help-auth", 0, "", "htpasswd:PATH")
	for _, typ := range []string{"file:PATH", "django:DSN", "authd:ADDR", "anonymous"} {
		if !strings.Contains(r.stderr, typ) {
			t.Errorf("--help-auth does not list %s", typ)
		}
	}
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--auth", "ldap:x").
		expect(t, "unknown type", 2, "", "unknown type ldap")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--auth", "file:").
		expect(t, "no argument", 2, "", "needs an argument")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--auth", "anonymous:x").
		expect(t, "anonymous with argument", 2, "", "takes no argument")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--auth", "file:/no/such/file").
		expect(t, "missing file", 1, "", "file:/no/such/file")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--authd", "127.0.0.1:1").
		expect(t, "authd without service", 1, "", "needs --service")
	spread(t, "", "authd", "--listen", "127.0.0.1:0", "--demo").
		expect(t, "authd without services", 2, "", "--services FILE is required")
	spread(t, "", "authd", "--listen", "127.0.0.1:0", "--services", "/no/such", "--demo").
		expect(t, "authd missing services", 1, "", "services file")
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	os.WriteFile(services, nil, 0o600)
	spread(t, "", "authd", "--listen", "127.0.0.1:0", "--services", services, "--auth", "authd:127.0.0.1:1").
		expect(t, "authd --auth authd:", 1, "", "--upstream")

	// Several stores, tried in order: a file user, an htpasswd user.
	users := writeSecret(t, dir, "users", "erin:erin-pw")
	srv := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0",
		"--auth", "file:"+users, "--auth", "anonymous")
	t.Setenv("SPREAD_PASSWORD", "erin-pw")
	spread(t, "hey\n", "chat", "join", "--server", srv.addr, "--user", "erin", "--group", "#h").
		expect(t, "file user", 0, "<erin> says: hey", "")
	spread(t, "hey\n", "chat", "join", "--server", srv.addr, "--anonymous", "--group", "#h").
		expect(t, "anonymous", 0, "says: hey", "")
	t.Setenv("SPREAD_PASSWORD", "wrong")
	spread(t, "hey\n", "chat", "join", "--server", srv.addr, "--user", "erin", "--group", "#h").
		expect(t, "wrong password", 1, "", "login failed")
}

// authd over TLS: the broker trusts it by CA or by pin, and so does the
// client.
func TestAuthdTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, der := testcert.Write(t, dir, "localhost")
	services := filepath.Join(dir, "services")
	chatSecret := writeSecret(t, dir, "chat.secret", "chat-tls-secret")
	spread(t, "", "authd", "services", "add", "--password-file", chatSecret, services, "chat").expect(t, "services add", 0, "", "done")
	users := writeSecret(t, dir, "users", "dora:dora-pw")
	ad := startServe(t, context.Background(), "authd", "--listen", "127.0.0.1:0", "--services", services,
		"--auth", "file:"+users, "--tls-cert", cert, "--tls-key", key)
	pin := pb.Fingerprint(der)
	byCA := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0",
		"--authd", ad.addr, "--service", "chat", "--service-secret-file", chatSecret, "--authd-tls-ca", cert)
	byPin := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0",
		"--authd", ad.addr, "--service", "chat", "--service-secret-file", chatSecret, "--authd-tls-pin", pin)
	waitConnected(t, byCA)
	waitConnected(t, byPin)
	t.Setenv("SPREAD_PASSWORD", "dora-pw")
	spread(t, "via CA\n", "chat", "join", "--server", byCA.addr, "--user", "dora", "--authd", ad.addr, "--service", "chat",
		"--authd-tls-ca", cert, "--group", "#tls").expect(t, "TLS by CA", 0, "<dora> says: via CA", "")
	spread(t, "via pin\n", "chat", "join", "--server", byPin.addr, "--user", "dora", "--authd", ad.addr, "--service", "chat",
		"--authd-tls-pin", pin, "--group", "#tls").expect(t, "TLS by pin", 0, "<dora> says: via pin", "")
	spread(t, "", "call", "--server", byPin.addr, "--user", "dora", "--authd", ad.addr, "--service", "chat", "--timeout", "2s", "joinGroup", "#tls").
		expect(t, "plain TCP to a TLS authd", 1, "", "spread call: ")
}

// With authd down, a wrong password for a local user is "cannot be
// checked now" only a few times: guessing local passwords during an
// outage is throttled too. The right password works all along.
func TestAuthdOutageDoesNotOpenLocalGuessing(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	t.Setenv("SPREAD_SERVICE_SECRET", "unused-secret")
	ch := startServe(t, context.Background(), "chat", "serve", "--listen", "127.0.0.1:0", "--demo",
		"--authd", deadAddr, "--service", "chat", "--login-failures", "3")
	unavailable, refused := 0, 0
	for i := range 12 {
		t.Setenv("SPREAD_PASSWORD", fmt.Sprint("guess-", i))
		r := spread(t, "", "call", "--server", ch.addr, "--user", "alice", "joinGroup", "#g")
		switch {
		case strings.Contains(r.stderr, "the login cannot be checked right now"):
			unavailable++
		case strings.Contains(r.stderr, "login failed"):
			refused++
		default:
			t.Fatalf("guess %d: %+v", i, r)
		}
	}
	if unavailable > 5 || refused == 0 {
		t.Errorf("%d guesses answered 'unavailable', %d refused: the outage opens guessing", unavailable, refused)
	}
	t.Setenv("SPREAD_PASSWORD", "1234")
	spread(t, "", "call", "--server", ch.addr, "--user", "bob", "joinGroup", "#g").
		expect(t, "another user", 1, "", "login failed") // bob's password is not 1234
	t.Setenv("SPREAD_PASSWORD", "secret")
	spread(t, "hi\n", "chat", "join", "--server", ch.addr, "--user", "bob", "--group", "#g").
		expect(t, "a local user's right password during the outage", 0, "<bob> says: hi", "")
}
