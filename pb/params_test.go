package pb_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

type paramsObj struct {
	pb.Referenceable
}

func (*paramsObj) RemotePrint(message string, stream string) string { return stream + ":" + message }
func (*paramsObj) RemoteSum(base int, more ...int) int {
	for _, m := range more {
		base += m
	}
	return base
}
func (*paramsObj) RemotePlain(x string) string { return x }

type runCmd struct {
	Workdir string
	Command []string
	Env     map[string]string `jelly:"env"`
	Timeout int               `jelly:"timeout"`
}

func (*paramsObj) RemoteRun(cmd runCmd, tries int) string {
	return cmd.Workdir + "|" + strings.Join(cmd.Command, " ") + "|" + cmd.Env["CC"]
}

func (*paramsObj) ParamNames() map[string][]string {
	return map[string][]string{
		"RemotePrint": {"message", "stream=stdout"},
		"RemoteSum":   {"base"},
		"RemoteRun":   {"cmd", "tries=1"},
	}
}

type badNames struct{ pb.Referenceable }

func (*badNames) RemoteA(x, y string) string { return x + y }
func (*badNames) ParamNames() map[string][]string {
	return map[string][]string{"RemoteA": {"x"}}
}

func TestParamNamesKeywords(t *testing.T) {
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return &paramsObj{} }})
	b := dial(t, addr, nil)
	ctx := ctxT(t)
	root := b.Root()
	ok := []struct {
		method string
		args   []any
		want   any
	}{
		{"print", []any{"hi"}, "stdout:hi"},
		{"print", []any{pb.Kw{"message": "hi"}}, "stdout:hi"},
		{"print", []any{pb.Kw{"stream": "err", "message": "hi"}}, "err:hi"},
		{"print", []any{"hi", pb.Kw{"stream": "err"}}, "err:hi"},
		{"print", []any{"hi", "log"}, "log:hi"},
		{"sum", []any{1, 2, 3}, int64(6)},
		{"sum", []any{pb.Kw{"base": 5}}, int64(5)},
		{"run", []any{pb.Kw{"cmd": jelly.NewDict(jelly.Item{Key: "workdir", Value: "b"}, jelly.Item{Key: "command", Value: []any{"make", "-j4"}}, jelly.Item{Key: "env", Value: jelly.NewDict(jelly.Item{Key: "CC", Value: "gcc"})})}}, "b|make -j4|gcc"},
	}
	for _, c := range ok {
		got, err := root.CallRemote(ctx, c.method, c.args...)
		if err != nil || got != c.want {
			t.Errorf("%s%v = %v, %v; want %v", c.method, c.args, got, err, c.want)
		}
	}
	bad := []struct {
		method string
		args   []any
		want   []string
	}{
		{"print", []any{pb.Kw{"stream": "x"}}, []string{"missing required argument: 'message'"}},
		{"print", []any{"hi", pb.Kw{"message": "x"}}, []string{"multiple values for argument 'message'"}},
		{"print", []any{pb.Kw{"message": "x", "colour": 1}}, []string{"unexpected keyword argument 'colour'", "message, stream"}},
		{"plain", []any{pb.Kw{"x": "y"}}, []string{"plain()", "'x'", "RemotePlain", "ParamNames"}},
		{"run", []any{jelly.NewDict(jelly.Item{Key: "env", Value: jelly.NewDict(jelly.Item{Key: "CC", Value: 3})})}, []string{"run() argument 'cmd'", `["env"]["CC"]`, "expected str, got int"}},
		{"run", []any{jelly.NewDict(jelly.Item{Key: "command", Value: []any{"make", nil}})}, []string{`["command"][1]`, "got NoneType"}},
	}
	for _, c := range bad {
		_, err := root.CallRemote(ctx, c.method, c.args...)
		var re *pb.RemoteError
		if !errors.As(err, &re) || re.Type != "builtins.TypeError" {
			t.Errorf("%s%v: %v, want a TypeError", c.method, c.args, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(re.Value, w) {
				t.Errorf("%s%v: %q lacks %q", c.method, c.args, re.Value, w)
			}
		}
	}

	_, addr2 := serve(t, &pb.Config{Root: func(*pb.Broker) any { return &badNames{} }})
	_, err := dial(t, addr2, nil).Root().CallRemote(ctx, "a", "x", "y")
	if err == nil || !strings.Contains(err.Error(), "1 names for its 2 parameters") {
		t.Errorf("bad declaration: %v", err)
	}
}

type failureSink struct {
	pb.Referenceable
	got chan *pb.Failure
}

func (s *failureSink) RemoteComplete(f *pb.Failure) *pb.Failure {
	s.got <- f
	return pb.NewFailure("myapp.Echoed", f.ErrorMessage())
}

func (s *failureSink) RemoteFail() error { return pb.NewFailure("myapp.BuildFailed", "make exited 2") }

func TestFailureAsValue(t *testing.T) {
	sink := &failureSink{got: make(chan *pb.Failure, 1)}
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return sink }})
	b := dial(t, addr, nil)
	ctx := ctxT(t)
	sent := pb.FailureOf(pb.ValueError("bad input \xff"))
	v, err := b.Root().CallRemote(ctx, "complete", sent)
	if err != nil {
		t.Fatal(err)
	}
	got := <-sink.got
	if got.Type != "builtins.ValueError" || got.Value != "bad input \ufffd" || !got.Check("builtins.Exception") || got.Check("builtins.KeyError") {
		t.Errorf("received %+v", got)
	}
	back, ok := v.(*pb.Failure)
	if !ok || back.Type != "myapp.Echoed" || back.ErrorMessage() != "bad input \ufffd" {
		t.Errorf("answer %#v", v)
	}
	_, err = b.Root().CallRemote(ctx, "fail")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "myapp.BuildFailed" || re.Value != "make exited 2" {
		t.Errorf("returned failure arrived as %v", err)
	}
	if f := pb.FailureOf(err); f.Type != "myapp.BuildFailed" || !f.Check("myapp.BuildFailed") {
		t.Errorf("FailureOf(remote error) = %+v", f)
	}
}

type holder struct {
	pb.Referenceable
	got chan *pb.RemoteReference
}

func (h *holder) RemoteListen(l *pb.RemoteReference) { h.got <- l }

type listener struct {
	pb.Referenceable
	lines chan string
}

func (l *listener) RemoteLine(s string) { l.lines <- s }

// A reference received as an argument outlives the handler, until it is
// released or its connection ends; NotifyOnDisconnect fires then.
func TestReceivedReferenceLifetime(t *testing.T) {
	h := &holder{got: make(chan *pb.RemoteReference, 1)}
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return h }})
	b := dial(t, addr, nil)
	ctx := ctxT(t)
	l := &listener{lines: make(chan string, 4)}
	if _, err := b.Root().CallRemote(ctx, "listen", l); err != nil {
		t.Fatal(err)
	}
	ref := <-h.got // the handler has returned
	fired := make(chan struct{})
	ref.NotifyOnDisconnect(func() { close(fired) })
	stopped := make(chan struct{}, 1)
	stop := ref.NotifyOnDisconnect(func() { stopped <- struct{}{} })
	if !stop() {
		t.Error("stop before the disconnect reported false")
	}
	if _, err := ref.CallRemote(ctx, "line", "after return"); err != nil {
		t.Fatal(err)
	}
	if got := <-l.lines; got != "after return" {
		t.Errorf("line %q", got)
	}
	// The receiver holds the only reference; its Release frees the
	// sender's export (and nothing freed it before).
	if n := pb.ExportRefs(b, l); n != 1 {
		t.Fatalf("sender's count for the listener = %d, want 1", n)
	}
	if err := ref.Release(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pb.ExportRefs(b, l) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := pb.ExportRefs(b, l); n != 0 {
		t.Errorf("after Release the sender still counts %d references", n)
	}
	select {
	case <-fired:
		t.Fatal("notified while connected")
	default:
	}
	b.Close()
	select {
	case <-fired:
	case <-ctx.Done():
		t.Fatal("NotifyOnDisconnect did not fire")
	}
	if _, err := ref.CallRemote(ctx, "line", "x"); err == nil {
		t.Errorf("call through a released reference of a closed connection succeeded")
	}
	select {
	case <-stopped:
		t.Error("a stopped notification fired")
	default:
	}
}

type typoNames struct{ pb.Referenceable }

func (*typoNames) RemoteA(x string) string { return x }
func (*typoNames) ParamNames() map[string][]string {
	return map[string][]string{"RemoteAA": {"x"}}
}

func TestParamNamesTypo(t *testing.T) {
	_, addr := serve(t, &pb.Config{Root: func(*pb.Broker) any { return &typoNames{} }})
	_, err := dial(t, addr, nil).Root().CallRemote(ctxT(t), "a", "x")
	if err == nil || !strings.Contains(err.Error(), "names RemoteAA, which is not a method") {
		t.Errorf("typo in ParamNames: %v", err)
	}
}
