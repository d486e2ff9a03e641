package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gospread/spread/pb"
)

func runCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("spread call", stderr,
		"usage: spread call --server HOST:PORT [--user NAME [--authd ADDR --service NAME] | --anonymous] [--root] METHOD [ARG...]",
		"Each ARG is a JSON value, or a plain string if it is not JSON. The result is printed as JSON.")
	server := fs.String("server", "127.0.0.1:8789", "PB server address, HOST:PORT")
	_ = fs.Bool("root", false, "call a method of the server's root object (the default without --user/--anonymous)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	var lf loginFlags
	lf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	method := fs.Arg(0)
	callArgs := make([]any, 0, fs.NArg()-1)
	for _, a := range fs.Args()[1:] {
		callArgs = append(callArgs, parseArg(a))
	}
	cfg, err := lf.clientConfig(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spread call: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	b, err := pb.Dial(ctx, *server, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "spread call: %v\n", err)
		return 1
	}
	defer b.Close()
	target := b.Root()
	if lf.wantsLogin() {
		target, err = lf.login(ctx, b, stdin, stderr, nil)
		defer lf.authd.close()
		if err != nil {
			printLoginError(stderr, "spread call", err)
			return 1
		}
	}
	res, err := target.CallRemote(ctx, method, callArgs...)
	if err != nil {
		printRemoteError(stderr, "", err)
		return 1
	}
	out, err := json.Marshal(toJSON(res))
	if err != nil {
		fmt.Fprintf(stderr, "spread call: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}

// printRemoteError prints a remote failure as "Type: message".
func printRemoteError(w io.Writer, prefix string, err error) {
	var re *pb.RemoteError
	if errors.As(err, &re) {
		fmt.Fprintf(w, "%s%s: %s\n", prefix, re.Type, re.Value)
		return
	}
	fmt.Fprintf(w, "%s%v\n", prefix, err)
}

// parseArg reads a JSON value, or takes the text as a string.
func parseArg(s string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return fromJSON(v)
}
