package authd

import (
	"strings"
	"testing"
)

// FuzzParseServices: any services file parses or fails cleanly, and
// what it yields is valid.
func FuzzParseServices(f *testing.F) {
	f.Add([]byte("chat:$2a$04$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01\n"))
	f.Add([]byte("# comment\n\nregional:$2y$10$0123456789012345678901uABCDEFGHIJKLMNOPQRSTUVWXYZabcde:proxy,admin\n"))
	f.Add([]byte("a:b:c:d\n"))
	f.Add([]byte(":\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parseServices(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range list {
			if ValidServiceName(s.Name) != nil || seen[s.Name] || strings.Contains(string(s.Hash), ":") {
				t.Fatalf("parsed a bad service %+v", s)
			}
			seen[s.Name] = true
			for _, o := range s.Options {
				if o != OptProxy && o != OptAdmin {
					t.Fatalf("option %q", o)
				}
			}
		}
	})
}
