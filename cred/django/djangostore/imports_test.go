package djangostore

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The package may import, inside the module, only cred and cred/django
// (design.md).
func TestImportsPointDown(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/gospread/spread") &&
				p != "github.com/gospread/spread/cred" && p != "github.com/gospread/spread/cred/django" {
				t.Errorf("%s imports %s; only .../cred and .../cred/django are allowed", f, p)
			}
		}
	}
}
