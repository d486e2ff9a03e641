package pypeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// PythonPath is the interpreter that has Debian's python3-twisted.
const PythonPath = "/usr/bin/python3"

var (
	probeOnce      sync.Once
	probeErr       error
	twistedVersion string
)

// Python returns PythonPath after checking, once per process, that it can
// import twisted.spread.pb and twisted.cred. The result is cached.
func Python() (string, error) {
	probeOnce.Do(probe)
	if probeErr != nil {
		return "", probeErr
	}
	return PythonPath, nil
}

// TwistedVersion returns twisted.__version__ as reported by PythonPath.
func TwistedVersion() (string, error) {
	if _, err := Python(); err != nil {
		return "", err
	}
	return twistedVersion, nil
}

func probe() {
	if _, err := os.Stat(PythonPath); err != nil {
		probeErr = fmt.Errorf("pypeer: %s not found (install Debian's python3 and python3-twisted): %w", PythonPath, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, PythonPath, "-c",
		"import twisted, twisted.spread.pb, twisted.cred.portal; print(twisted.__version__)")
	cmd.Env = pythonEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out: %w", err)
		}
		probeErr = fmt.Errorf("pypeer: %s cannot import twisted (install Debian's python3-twisted; "+
			"the python3 on PATH is not used): %v\n%s", PythonPath, err, strings.TrimSpace(stderr.String()))
		return
	}
	twistedVersion = strings.TrimSpace(stdout.String())
}

// pythonEnv is the environment for Python children: the test's environment
// without variables that could point /usr/bin/python3 at another
// installation, with unbuffered output and no .pyc files in the source tree.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE",
			"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1")
}
