package pypeer

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

//go:embed py
var embedded embed.FS

var (
	dirOnce   sync.Once
	scriptDir string
)

// Script returns the absolute path of the named script in internal/pypeer/py,
// e.g. Script("echo_server.py"). When the source tree is not available (a test
// binary built with -trimpath or moved elsewhere) the embedded copies of the
// scripts are written once to a content-addressed directory under
// os.TempDir() and that path is returned instead.
func Script(name string) string {
	dirOnce.Do(func() { scriptDir = findScriptDir() })
	return filepath.Join(scriptDir, name)
}

func findScriptDir() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "py")
		if filepath.IsAbs(dir) && exists(filepath.Join(dir, "echo_types.py")) {
			return dir
		}
	}
	if dir, err := extractScripts(); err == nil {
		return dir
	}
	return filepath.Join(os.TempDir(), "spread-pypeer-unavailable")
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// extractScripts writes the embedded scripts to os.TempDir()/spread-pypeer-<hash>.
func extractScripts() (string, error) {
	var names []string
	err := fs.WalkDir(embedded, "py", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".py") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	files := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := embedded.ReadFile(n)
		if err != nil {
			return "", err
		}
		files[strings.TrimPrefix(n, "py/")] = b
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "spread-pypeer-"+hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, b := range files {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(b) {
			continue
		}
		// Write then rename, so concurrent test binaries never see a partial file.
		tmp, err := os.CreateTemp(filepath.Dir(dst), strings.TrimSuffix(filepath.Base(name), ".py")+".*.tmp")
		if err != nil {
			return "", err
		}
		_, werr := tmp.Write(b)
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			os.Remove(tmp.Name())
			if werr != nil {
				return "", werr
			}
			return "", cerr
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			os.Remove(tmp.Name())
			return "", err
		}
	}
	return dir, nil
}

// resolveScript accepts a path, or a bare file name that is looked up with Script.
func resolveScript(script string) string {
	if filepath.IsAbs(script) {
		return script
	}
	// A name inside the script folder ("echo_server.py", "chat/chatserver.py")
	// wins over a path relative to the working directory.
	if p := Script(script); exists(p) {
		return p
	}
	return script
}
