package pb_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/internal/testcert"
	"github.com/gospread/spread/pb"
)

// selfSigned writes a certificate for 127.0.0.1 and "spread.test".
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, der []byte) {
	return testcert.Write(t, dir, "spread.test")
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, der := selfSigned(t, dir)
	serverTLS, err := pb.ServerTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := echo.Config()
	cfg.TLS = serverTLS
	cfg.Logger = testLogger()
	srv := pb.NewServer(cfg)
	// ListenAndServe on port 0 does not tell the port, so wrap a
	// listener as ListenAndServe does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(ln, serverTLS))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	call := func(t *testing.T, tc *tls.Config) (*pb.Broker, error) {
		t.Helper()
		ccfg := echo.ClientConfig()
		ccfg.TLS = tc
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := pb.Dial(ctx, addr, ccfg)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { b.Close() })
		v, err := b.Root().CallRemote(ctx, "echo", "over tls")
		if err != nil || v != "over tls" {
			t.Fatalf("echo over TLS = %v, %v", v, err)
		}
		return b, nil
	}

	t.Run("CA", func(t *testing.T) {
		for _, name := range []string{"spread.test", "127.0.0.1"} {
			tc, err := pb.ClientTLSCA(certFile, name)
			if err != nil {
				t.Fatal(err)
			}
			b, err := call(t, tc)
			if err != nil {
				t.Fatalf("server name %s: %v", name, err)
			}
			if !b.Secure() {
				t.Fatal("Secure() is false on a TLS connection")
			}
		}
	})
	t.Run("CA wrong name", func(t *testing.T) {
		tc, err := pb.ClientTLSCA(certFile, "other.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := call(t, tc); err == nil || !strings.Contains(err.Error(), "other.test") {
			t.Fatalf("wrong server name: %v", err)
		}
	})
	t.Run("CA file without certificates", func(t *testing.T) {
		bad := filepath.Join(dir, "empty.pem")
		os.WriteFile(bad, []byte("nothing here\n"), 0o600)
		if _, err := pb.ClientTLSCA(bad, "spread.test"); err == nil {
			t.Fatal("a CA file without certificates was accepted")
		}
	})
	t.Run("pinned", func(t *testing.T) {
		tc, err := pb.ClientTLSPinned(pb.Fingerprint(der))
		if err != nil {
			t.Fatal(err)
		}
		b, err := call(t, tc)
		if err != nil {
			t.Fatalf("right pin: %v", err)
		}
		if !b.Secure() {
			t.Fatal("Secure() is false on a TLS connection")
		}
		// Colons and upper case are accepted too.
		fp := strings.ToUpper(pb.Fingerprint(der))
		var parts []string
		for i := 0; i < len(fp); i += 2 {
			parts = append(parts, fp[i:i+2])
		}
		tc, err = pb.ClientTLSPinned(strings.Join(parts, ":"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := call(t, tc); err != nil {
			t.Fatalf("right pin with colons: %v", err)
		}
	})
	t.Run("wrong pin", func(t *testing.T) {
		wrong := strings.Repeat("ab", 32)
		tc, err := pb.ClientTLSPinned(wrong)
		if err != nil {
			t.Fatal(err)
		}
		_, err = call(t, tc)
		if err == nil || !strings.Contains(err.Error(), "does not match the pin") {
			t.Fatalf("wrong pin: %v, want a clear pin mismatch", err)
		}
		if _, err := pb.ClientTLSPinned("abcd"); err == nil {
			t.Fatal("a short pin was accepted")
		}
	})
	t.Run("plaintext client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cc := echo.ClientConfig()
		cc.HandshakeTimeout = time.Second // it fails anyway; do not wait long
		b, err := pb.Dial(ctx, addr, cc)
		if err == nil {
			_, err = b.Root().CallRemote(ctx, "echo", "x")
			b.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "negotiation") {
			t.Fatalf("plaintext client against a TLS server: %v, want a failed negotiation", err)
		}
	})
	t.Run("loopback plaintext is Secure", func(t *testing.T) {
		// Over plain TCP only a loopback peer counts as secure.
		_, paddr := serve(t, &pb.Config{Logger: testLogger()})
		b := dial(t, paddr, nil)
		if !b.Secure() {
			t.Fatal("a loopback connection is not Secure")
		}
	})
}
