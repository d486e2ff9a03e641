package guard

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalNext checks that every next value localNext accepts stays on
// this site however a browser resolves it, and that session-id parsing
// never accepts a value that does not round-trip.
func FuzzLocalNext(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c", "//evil", "/\\evil", "/%2f%2fevil", "https://evil", "/%5c", "/a#b", "/\t/x", "/%25252F"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://site.test/dir/page")
	f.Fuzz(func(t *testing.T, next string) {
		got := localNext(next)
		if got == "" {
			return
		}
		if got != next {
			t.Fatalf("localNext(%q) = %q", next, got)
		}
		// A browser drops tabs and newlines and reads "\" as "/".
		cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := base.Parse(cleaned)
		if err != nil {
			t.Fatalf("accepted %q does not parse: %v", got, err)
		}
		if u.Host != "site.test" || u.Scheme != "https" || u.User != nil {
			t.Fatalf("accepted %q leads to %s", got, u)
		}
		for s := got; ; {
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			if strings.HasPrefix(d, "//") || strings.HasPrefix(d, "/\\") {
				t.Fatalf("accepted %q decodes to %q", got, d)
			}
			s = d
		}
		if _, ok := parseID(next); ok && len(next) != idLen {
			t.Fatalf("parseID accepted %q", next)
		}
	})
}

func TestIDLen(t *testing.T) {
	if n := base64.RawURLEncoding.EncodedLen(32); n != idLen {
		t.Fatalf("idLen %d, base64 says %d", idLen, n)
	}
	id, h := newID()
	if got, ok := parseID(id); !ok || got != h {
		t.Fatalf("parseID(newID()) = %x, %v; want %x", got, ok, h)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.0.0.2:1": true, "[::1]:80": true, "[::ffff:127.0.0.1]:80": true,
		"127.0.0.1": true, "::1": true, "10.0.0.1:80": false, "[::ffff:10.0.0.1]:80": false,
		"192.168.1.1": false, "": false, "localhost:80": false, "[fe80::1%eth0]:80": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}
