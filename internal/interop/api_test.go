package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// apiRoot is the Go server that testdata/api_client.py calls.
type apiRoot struct {
	pb.Referenceable
	notified chan string
	errs     chan error
}

func (*apiRoot) ParamNames() map[string][]string {
	return map[string][]string{
		"RemotePrint": {"message", "stream=stdout"},
		"RemoteRun":   {"cmd"},
	}
}

func (*apiRoot) RemotePrint(message, stream string) string { return stream + ": " + message }

func (*apiRoot) RemotePlain(value string) string { return value }

type apiLimits struct {
	CPU   int `jelly:"cpu"`
	Files []string
}

type apiCommand struct {
	Workdir string
	Command []string
	Env     map[string]string
	Timeout time.Duration
	Limits  apiLimits
}

func (*apiRoot) RemoteRun(cmd apiCommand) string {
	return fmt.Sprintf("%s|%s|CC=%s CFLAGS=%s|%d|%d|%s", cmd.Workdir, strings.Join(cmd.Command, " "),
		cmd.Env["CC"], cmd.Env["CFLAGS"], cmd.Timeout, cmd.Limits.CPU, strings.Join(cmd.Limits.Files, ","))
}

// lossyRaw is process output cut in the middle of a character.
const lossyRaw = "build ok \xe2\x82 done \xff"

func (r *apiRoot) RemoteCallBack(ctx context.Context, sink *pb.RemoteReference) (string, error) {
	for _, f := range []*pb.Failure{
		pb.FailureOf(pb.ValueError("bad value")),
		pb.NewFailure("myapp.errors.BuildFailed", "make exited 2"),
	} {
		if v, err := sink.CallRemote(ctx, "complete", f); err != nil || v != "ok" {
			return "", fmt.Errorf("complete: %v %v", v, err)
		}
	}
	if _, err := sink.CallRemote(ctx, "line", jelly.Lossy(lossyRaw), []byte(lossyRaw)); err != nil {
		return "", err
	}
	return "called", nil
}

func (*apiRoot) RemoteInspect(f *pb.Failure) string {
	return fmt.Sprintf("%s|%s|%v|%v", f.Type, f.ErrorMessage(), f.Check("builtins.LookupError"), f.Check("builtins.ValueError"))
}

func (r *apiRoot) RemoteWatch(sink *pb.RemoteReference) string {
	// The handler returns; the reference stays ours, and says when its
	// connection ends.
	sink.NotifyOnDisconnect(func() { r.notified <- "disconnected" })
	go func() {
		time.Sleep(50 * time.Millisecond)
		if _, err := sink.CallRemote(sink.Broker().Context(), "line", "kept", []byte("kept")); err != nil {
			r.errs <- err
		}
	}()
	return "watching"
}

// TestPythonCallsGoAPI: a Twisted client uses keywords on plain Go
// methods, sends dicts bound to nested structs, receives and sends
// failures as values, receives lossy text; the Go side keeps a
// reference after the handler returns and is notified when the client
// disconnects.
func TestPythonCallsGoAPI(t *testing.T) {
	root := &apiRoot{notified: make(chan string, 1), errs: make(chan error, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{Root: func(*pb.Broker) any { return root }})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	script, _ := filepath.Abs("testdata/api_client.py")
	stdout, stderr, err := pypeer.RunClient(t, 30*time.Second, script, ln.Addr().String())
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	steps := map[string]map[string]any{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		name, _ := m["step"].(string)
		if _, dup := steps[name]; dup {
			name += "#" + strconv.Itoa(len(order))
		}
		steps[name] = m
		order = append(order, name)
	}
	get := func(step, key string) any {
		m, ok := steps[step]
		if !ok {
			t.Errorf("step %s missing; steps %v", step, order)
			return nil
		}
		return m[key]
	}
	errOf := func(step string) (typ, msg string) {
		e, _ := get(step, "error").(map[string]any)
		typ, _ = e["type"].(string)
		msg, _ = e["message"].(string)
		return
	}
	want := func(step, key string, v any) {
		t.Helper()
		if got := get(step, key); got != v {
			t.Errorf("%s %s = %#v, want %#v", step, key, got, v)
		}
	}
	want("kw-only", "result", "stdout: hi")
	want("kw-mixed", "result", "stderr: hi")
	want("positional", "result", "log: hi")
	if typ, msg := errOf("kw-unknown"); typ != "builtins.TypeError" || !strings.Contains(msg, "unexpected keyword argument 'colour'") {
		t.Errorf("kw-unknown: %s %q", typ, msg)
	}
	if typ, msg := errOf("kw-undeclared"); typ != "builtins.TypeError" || !strings.Contains(msg, "plain()") ||
		!strings.Contains(msg, "'value'") || !strings.Contains(msg, "RemotePlain") || !strings.Contains(msg, "ParamNames") {
		t.Errorf("kw-undeclared: %s %q", typ, msg)
	}
	want("dict", "result", "build|make -j4|CC=gcc CFLAGS=-O2|1200|2|a.o,b.o")
	if typ, msg := errOf("dict-bad"); typ != "builtins.TypeError" || !strings.Contains(msg, `run() argument 'cmd': at ["env"]["CC"]: expected str, got int`) {
		t.Errorf("dict-bad: %s %q", typ, msg)
	}
	if typ, msg := errOf("dict-bad-deep"); typ != "builtins.TypeError" || !strings.Contains(msg, `at ["limits"]["files"][1]: expected str, got NoneType`) {
		t.Errorf("dict-bad-deep: %s %q", typ, msg)
	}

	// The first failure: a ValueError; the second: an application type.
	want("failure-received", "cls", "CopiedFailure")
	want("failure-received", "isFailure", true)
	want("failure-received", "checkValueError", true)
	want("failure-received", "checkLookupError", false)
	want("failure-received", "message", "bad value")
	want("failure-received", "type", "builtins.ValueError")
	second := ""
	for _, n := range order {
		if strings.HasPrefix(n, "failure-received#") {
			second = n
		}
	}
	want(second, "checkByName", true)
	want(second, "checkValueError", false)
	want(second, "message", "make exited 2")
	want(second, "type", "myapp.errors.BuildFailed")

	want("lossy-received", "isStr", true)
	if get("lossy-received", "line") != get("lossy-received", "python") {
		t.Errorf("lossy text %q, Python's own decoding %q", get("lossy-received", "line"), get("lossy-received", "python"))
	}
	want("lossy-received", "line", "build ok \ufffd done \ufffd")
	want("callback", "result", "called")
	want("failure-sent", "result", "builtins.KeyError|'missing.o'|true|false")
	want("watch", "result", "watching")

	select {
	case <-root.notified:
	case <-time.After(10 * time.Second):
		t.Fatal("NotifyOnDisconnect did not fire when the Python client left")
	}
	select {
	case err := <-root.errs:
		t.Errorf("calling a kept reference after its handler returned: %v", err)
	default:
	}
	found := false
	for _, n := range order {
		if strings.HasPrefix(n, "lossy-received") && steps[n]["line"] == "kept" {
			found = true
		}
	}
	if !found {
		t.Errorf("the kept reference's call did not reach Python; steps %v", order)
	}
}
