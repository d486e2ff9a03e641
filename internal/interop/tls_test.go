package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/pb"
)

// selfSigned writes a certificate for localhost/127.0.0.1 and its key,
// and returns their paths and the certificate's SHA-256 fingerprint.
func selfSigned(t *testing.T) (certFile, keyFile, pin string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
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
