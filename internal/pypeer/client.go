package pypeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RunClient runs PythonPath -u script args... to completion, killing it after
// timeout. script is a path or a bare file name resolved with Script. err is
// nil only if the script exited with status 0; a timeout gives an error that
// says so. Missing Python/Twisted or script is t.Fatal.
func RunClient(t testing.TB, timeout time.Duration, script string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	py, perr := Python()
	if perr != nil {
		t.Fatal(perr)
	}
	path := resolveScript(script)
	if !exists(path) {
		t.Fatalf("pypeer: script %s not found", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-u", path}, args...)...)
	cmd.Env = pythonEnv()
	cmd.WaitDelay = StopGrace
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	name := filepath.Base(path)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("pypeer: %s timed out after %v (killed): %w", name, timeout, err)
	case err != nil:
		err = fmt.Errorf("pypeer: %s: %w", name, err)
	}
	return out.String(), errOut.String(), err
}
