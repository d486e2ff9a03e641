package guard

import (
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
