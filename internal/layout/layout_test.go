// Package layout holds the test that keeps imports pointing down, as
// design.md's table says.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/gospread/spread"

// allowed lists, for every package below the module root, the module
// packages it may import. cmd and internal may import anything; examples
// may import anything but internal/, so that a user can copy an example
// out of the repository.
var allowed = map[string][]string{
	"banana":                  {},
	"jelly":                   {},
	"cred":                    {},
	"cred/checkers":           {"cred"},
	"cred/django":             {"cred"},
	"cred/django/djangostore": {"cred", "cred/django"},
	"pb":                      {"banana", "jelly", "cred", "pb/internal/park", "pb/internal/workers"},
	"pb/internal/park":        {},
	"pb/internal/workers":     {},
	"guard":                   {"cred"},
	"authd":                   {"pb", "cred"},
	"cluster":                 {},
	"chat":                    {"pb", "cred", "cluster"},
	"chat/web":                {"chat", "guard", "cred"},
}

// free are the trees that may import anything in the module.
var free = []string{"cmd", "internal"}

// public is the tree that may import every package except internal ones.
const public = "examples"

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportsPointDown(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if isFree(rel) {
			continue
		}
		if rel == public || strings.HasPrefix(rel, public+"/") {
			for _, imp := range p.Imports {
				if imp == module+"/internal" || strings.HasPrefix(imp, module+"/internal/") {
					t.Errorf("%s imports %s: examples import only public packages", rel, imp)
				}
			}
			continue
		}
		ok, known := allowed[rel]
		if !known {
			t.Errorf("package %q is not in design.md's layout table", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if !contains(ok, dep) {
				t.Errorf("%s imports %s: not allowed by design.md (allowed: %v)", rel, dep, ok)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func isFree(rel string) bool {
	for _, f := range free {
		if rel == f || strings.HasPrefix(rel, f+"/") {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
