package interop

import (
	"strings"
	"testing"

	"github.com/gospread/spread/internal/testcert"
	"github.com/gospread/spread/pb"
)

// selfSigned writes a certificate for localhost and 127.0.0.1 and
// returns its paths and its SHA-256 fingerprint.
func selfSigned(t *testing.T) (certFile, keyFile, pin string) {
	certFile, keyFile, der := testcert.Write(t, t.TempDir(), "localhost")
	return certFile, keyFile, pb.Fingerprint(der)
}

// TestChatOverTLS: spread chat serve with a certificate; spread chat
// join trusts it by pin or by CA file, and a wrong pin or plain TCP
// fails.
func TestChatOverTLS(t *testing.T) {
	cert, key, pin := selfSigned(t)
	srv := startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--tls-cert", cert, "--tls-key", key)
	if !strings.Contains(srv.Log(), "tls=true") {
		t.Errorf("serve did not log TLS:\n%s", srv.Log())
	}
	env := []string{"SPREAD_PASSWORD=1234"}
	base := []string{"chat", "join", "--server", srv.Addr, "--user", "alice", "--group", "#tls"}
	for name, extra := range map[string][]string{
		"pin": {"--tls-pin", pin},
		"ca":  {"--tls-ca", cert, "--tls-name", "localhost"},
	} {
		out, stderr, code := runSpread(t, "secret\n", env, append(base, extra...)...)
		if code != 0 || strings.TrimSpace(out) != "<alice> says: secret" {
			t.Errorf("%s: exit %d\n%s\n%s", name, code, out, stderr)
		}
	}
	wrong := strings.Repeat("00", 32)
	if _, stderr, code := runSpread(t, "x\n", env, append(base, "--tls-pin", wrong)...); code == 0 || !strings.Contains(stderr, "does not match the pin") {
		t.Errorf("wrong pin: exit %d, %s", code, stderr)
	}
	if _, _, code := runSpread(t, "x\n", env, base...); code == 0 {
		t.Error("plain TCP against a TLS server worked")
	}
}
