package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/testcert"
)

// start runs webguard with args and returns the lines it printed by
// key ("HTTPS", "HTTP", "FINGERPRINT").
func start(t *testing.T, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("webguard did not stop")
		}
	})
	out := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		out[k] = v
		if k == "HTTP" {
			go io.Copy(io.Discard, pr)
			return out
		}
	}
	t.Fatalf("webguard printed %v and stopped", out)
	return nil
}

// client trusts only the certificate whose SHA-256 is pin, or the
// certificates in pool.
func client(t *testing.T, pin string, pool *x509.CertPool) *http.Client {
	jar, _ := cookiejar.New(nil)
	cfg := &tls.Config{RootCAs: pool}
	if pin != "" {
		cfg.InsecureSkipVerify = true // replaced by the pin check below
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			if hex.EncodeToString(sum[:]) != pin {
				return errors.New("certificate does not match the printed fingerprint")
			}
			return nil
		}
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: browserish{&http.Transport{TLSClientConfig: cfg}}}
}

// browserish asks for HTML, as a browser does.
type browserish struct{ rt http.RoundTripper }

func (b browserish) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "text/html")
	return b.rt.RoundTrip(r)
}

func body(t *testing.T, resp *http.Response, err error) (int, string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebguardEndToEnd(t *testing.T) {
	out := start(t)
	pin := out["FINGERPRINT"]
	if len(pin) != 64 {
		t.Fatalf("fingerprint %q", pin)
	}
	base := "https://" + out["HTTPS"]
	c := client(t, pin, nil)

	// A visitor is sent to the login form.
	resp, err := c.Get(base + "/")
	code, page := body(t, resp, err)
	if code != 200 || resp.Request.URL.Path != "/login" || !strings.Contains(page, `name="password"`) {
		t.Fatalf("first visit: %d %s %s", code, resp.Request.URL, page)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	// A wrong password shows the error.
	pw := "flint" + "stone"
	resp, err = c.PostForm(base+"/login", url.Values{"username": {"fred"}, "password": {"wrong"}, "next": {"/"}})
	if code, page = body(t, resp, err); code != 200 || !strings.Contains(page, "not correct") {
		t.Fatalf("wrong password: %d %s", code, page)
	}
	// fred logs in and sees Hello World.
	resp, err = c.PostForm(base+"/login", url.Values{"username": {"fred"}, "password": {pw}, "next": {"/"}})
	if code, page = body(t, resp, err); code != 200 || !strings.Contains(page, "Hello World") || !strings.Contains(page, `<strong id="user">fred</strong>`) {
		t.Fatalf("after login: %d %s", code, page)
	}
	u, _ := url.Parse(base)
	cookies := c.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != "__Host-spread-session" {
		t.Fatalf("cookies: %v", cookies)
	}
	// A cross-site logout is refused; the session lives on.
	r, _ := http.NewRequest("POST", base+"/logout", strings.NewReader(""))
	r.Header.Set("Origin", "https://evil.test")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = c.Do(r)
	if code, _ := body(t, resp, err); code != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", code)
	}
	resp, err = c.Get(base + "/")
	if code, page = body(t, resp, err); !strings.Contains(page, "Hello World") {
		t.Fatalf("after the cross-site logout: %d", code)
	}
	// Logout brings the login form back.
	resp, err = c.Post(base+"/logout", "application/x-www-form-urlencoded", strings.NewReader(""))
	if code, page = body(t, resp, err); code != 200 || resp.Request.URL.Path != "/login" {
		t.Fatalf("logout: %d %s", code, resp.Request.URL)
	}
	resp, err = c.Get(base + "/")
	if code, page = body(t, resp, err); strings.Contains(page, "Hello World") {
		t.Fatalf("after logout: %d %s", code, page)
	}

	// Plain HTTP only redirects to HTTPS, keeping the path.
	noFollow := client(t, pin, nil)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noFollow.Get("http://" + out["HTTP"] + "/some/path?q=1")
	code, _ = body(t, resp, err)
	if code != http.StatusPermanentRedirect || resp.Header.Get("Location") != base+"/some/path?q=1" {
		t.Fatalf("plain HTTP: %d %q", code, resp.Header.Get("Location"))
	}
	resp, err = noFollow.PostForm("http://"+out["HTTP"]+"/login", url.Values{"username": {"fred"}, "password": {pw}})
	if code, _ = body(t, resp, err); code != http.StatusPermanentRedirect || len(resp.Cookies()) != 0 {
		t.Fatalf("plain HTTP login: %d %v", code, resp.Cookies())
	}
}

func TestWebguardWithCertificateFiles(t *testing.T) {
	certFile, keyFile, der := testcert.Write(t, t.TempDir(), "localhost")
	out := start(t, "-tls-cert", certFile, "-tls-key", keyFile)
	if _, ok := out["FINGERPRINT"]; ok {
		t.Fatal("printed a fingerprint for a given certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := client(t, "", pool)
	resp, err := c.Get("https://" + out["HTTPS"] + "/")
	if code, page := body(t, resp, err); code != 200 || !bytes.Contains([]byte(page), []byte("Log in")) {
		t.Fatalf("with certificate files: %d", code)
	}
}
