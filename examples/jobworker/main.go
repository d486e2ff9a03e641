// Command jobworker is the Go side of a Python Perspective Broker
// system: a build-farm style worker for the Twisted master in
// jobmaster.py (see docs/guide.md, "Writing the Go side of a Python PB
// system").
//
// It logs in to the master with a mind, the object the master calls.
// The master sends commands by keyword, with an argument dict:
//
//	mind.callRemote("run", job_id="hello", cmd={"workdir": ".",
//	    "command": ["make", "-j4"], "env": {"CC": "gcc"}, "timeout": 1200},
//	    progress=listener)
//
// The worker binds cmd to a Go struct, runs the command, streams its
// output lines back through the progress reference, and reports the end:
// complete(rc=N), or complete(failure=...) with a Twisted failure as a
// value when the command could not run or timed out. When the master
// restarts, the worker reconnects, logs in again with the same mind and
// announces itself again (ready).
//
//	SPREAD_PASSWORD=... go run ./examples/jobworker -master 127.0.0.1:8789 -name worker1
//
// The password comes from SPREAD_PASSWORD or -password-file, never from
// the command line. SIGINT or SIGTERM stop it.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

// Command is the master's argument dict. Keys match field names
// case-insensitively; a jelly tag names a key that differs.
type Command struct {
	Workdir string
	Command []string
	Env     map[string]string
	Timeout float64 // seconds; 0 means none
}

// Worker is the mind: the object the master calls. Its methods are
// remote because they start with Remote; ParamNames lets the master call
// them by keyword, the way it would call a Python remote_run.
type Worker struct {
	pb.Referenceable
	log *slog.Logger
	wg  sync.WaitGroup
}

// ParamNames names RemoteRun's parameters for keyword calls.
func (*Worker) ParamNames() map[string][]string {
	return map[string][]string{
		"RemoteRun": {"job_id", "cmd", "progress"},
	}
}

// RemoteRun starts a job and returns at once; the job reports through
// progress, a reference that stays usable after RemoteRun returns.
func (w *Worker) RemoteRun(jobID string, cmd Command, progress *pb.RemoteReference) (string, error) {
	if len(cmd.Command) == 0 {
		return "", pb.ValueError("cmd.command is empty")
	}
	w.log.Info("job received", "job", jobID, "command", cmd.Command)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer progress.Release()
		// The connection's context: a job of a lost master is stopped.
		w.runJob(progress.Broker().Context(), jobID, cmd, progress)
	}()
	return "started", nil
}

func (w *Worker) runJob(ctx context.Context, jobID string, cmd Command, progress *pb.RemoteReference) {
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(cmd.Timeout*float64(time.Second)))
		defer cancel()
	}
	rc, err := w.execute(ctx, cmd, progress)
	var report pb.Kw
	switch {
	case err == nil:
		report = pb.Kw{"rc": rc}
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		report = pb.Kw{"failure": &pb.Failure{
			Type:    "builtins.FileNotFoundError",
			Value:   err.Error(),
			Parents: []string{"builtins.FileNotFoundError", "builtins.OSError", "builtins.Exception", "builtins.BaseException", "builtins.object"},
		}}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		report = pb.Kw{"failure": &pb.Failure{
			Type:    "builtins.TimeoutError",
			Value:   fmt.Sprintf("%s timed out after %gs", cmd.Command[0], cmd.Timeout),
			Parents: []string{"builtins.TimeoutError", "builtins.OSError", "builtins.Exception", "builtins.BaseException", "builtins.object"},
		}}
	default:
		report = pb.Kw{"failure": pb.FailureOf(err)}
	}
	// The report needs a live connection; the job's ctx may have ended
	// with its timeout, so use the connection's.
	if _, err := progress.CallRemote(progress.Broker().Context(), "complete", report); err != nil {
		w.log.Warn("cannot report job", "job", jobID, "err", err)
	}
}

// execute runs the command and streams its output; it returns the exit
// status, or an error when the command could not run or was stopped.
func (w *Worker) execute(ctx context.Context, cmd Command, progress *pb.RemoteReference) (int, error) {
	c := exec.CommandContext(ctx, cmd.Command[0], cmd.Command[1:]...)
	c.Dir = cmd.Workdir
	c.Env = os.Environ()
	for k, v := range cmd.Env {
		c.Env = append(c.Env, k+"="+v)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := c.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	var streams sync.WaitGroup
	for name, r := range map[string]io.Reader{"stdout": stdout, "stderr": stderr} {
		streams.Add(1)
		go func() {
			defer streams.Done()
			sendLines(ctx, name, r, progress)
		}()
	}
	streams.Wait()
	err = c.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// sendLines sends each line of r to the master. Output is bytes; a line
// cut mid-character (a long line split below, a program writing
// Latin-1) still goes as a Python str, with U+FFFD where the bytes were
// not UTF-8 (Python's errors="replace").
func sendLines(ctx context.Context, stream string, r io.Reader, progress *pb.RemoteReference) {
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := jelly.Lossy(strings.TrimRight(string(line), "\r\n"))
			progress.CallRemote(ctx, "line", pb.Kw{"stream": stream, "text": text})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			io.Copy(io.Discard, r)
			return
		}
	}
}

// config is what main collects from flags and the environment.
type config struct {
	master   string
	name     string
	password []byte
	minDelay time.Duration
	maxDelay time.Duration
	log      *slog.Logger
	// connected, if set, is told each time the worker is registered.
	connected func(n int)
}

// run keeps the worker attached to the master until ctx ends or the
// master refuses the password.
func run(ctx context.Context, cfg config) error {
	w := &Worker{log: cfg.log}
	defer w.wg.Wait()
	n := 0
	session := pb.NewSession(cfg.master, &pb.SessionConfig{
		Config:      &pb.Config{Logger: cfg.log},
		Credentials: &cred.UsernamePassword{Username: cfg.name, Password: cfg.password},
		Mind:        w,
		MinDelay:    cfg.minDelay,
		MaxDelay:    cfg.maxDelay,
		// Every new connection: announce ourselves again.
		OnConnect: func(ctx context.Context, b *pb.Broker, avatar *pb.RemoteReference) error {
			jobs, err := avatar.CallRemote(ctx, "ready", pb.Kw{"name": cfg.name, "slots": 1})
			if err != nil {
				return err
			}
			n++
			cfg.log.Info("registered with the master", "master", cfg.master, "jobs", jobs, "connection", n)
			if cfg.connected != nil {
				cfg.connected(n)
			}
			return nil
		},
	})
	err := session.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func main() {
	master := flag.String("master", "127.0.0.1:8789", "the master's address, HOST:PORT")
	name := flag.String("name", "worker1", "this worker's name (its login)")
	passwordFile := flag.String("password-file", "", "read the password from this file instead of SPREAD_PASSWORD")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	password := []byte(os.Getenv("SPREAD_PASSWORD"))
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jobworker:", err)
			os.Exit(2)
		}
		password = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	if len(password) == 0 {
		fmt.Fprintln(os.Stderr, "jobworker: set SPREAD_PASSWORD or -password-file")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, config{master: *master, name: *name, password: password, log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobworker:", err)
		os.Exit(1)
	}
}
