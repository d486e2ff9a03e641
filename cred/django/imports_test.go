package django

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The package may import, inside the module, only cred (design.md).
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
			if strings.HasPrefix(p, "github.com/gospread/spread") && p != "github.com/gospread/spread/cred" {
				t.Errorf("%s imports %s; only .../cred is allowed", f, p)
			}
		}
	}
}

// Verifying a hash brings no SQL driver, not even database/sql (issue
// 18): the store and its drivers are in djangostore.
func TestNoSQLDrivers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "database/sql" || strings.Contains(dep, "jackc/pgx") || strings.Contains(dep, "modernc.org/sqlite") {
			t.Errorf("cred/django depends on %s", dep)
		}
	}
}
