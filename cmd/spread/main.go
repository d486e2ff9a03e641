// Command spread is Spread's one binary.
//
//	spread call --server HOST:PORT [--user NAME | --anonymous] [--root] METHOD [ARG...]
//	spread chat serve --listen ADDR [--demo] [--anonymous] [--db DSN] [--auth TYPE:ARG]... [--authd ADDR[,ADDR...] --service NAME] [--tls-cert F --tls-key F]
//	                  [--http ADDR [--http-insecure-loopback] [--sessions DSN]] [--cluster nats://HOST:PORT[,...] [--node NAME]] [--metrics ADDR]
//	spread chat join --server ADDR --user NAME [--authd ADDR --service NAME] --group NAME [--no-mattress]
//	spread users add|passwd|del|list|check --db DSN [NAME]
//	spread authd [serve] --services FILE (--auth TYPE:ARG)... [--state postgres://...] [--ticket-ttl D] [--session-ttl D]
//	                     [--upstream ADDR --service NAME] [--metrics ADDR]
//	spread authd services add [--proxy] [--admin] FILE NAME
//	spread authd revoke --authd ADDR --service ADMIN USER
//
// Passwords come from SPREAD_PASSWORD, --password-file, or a prompt;
// never from the command line.
//
// Every command runs under one context that SIGINT or SIGTERM cancels:
// servers shut down gracefully (every user logs out), clients stop
// reading input, finish what they sent and log out. A second signal
// kills the process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// A command is a leaf that runs, or a group of subcommands. Every level
// is dispatched the same way (dispatch).
type command struct {
	name  string
	usage string // one line, for the parent's list
	run   func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
	sub   []command
}

func commands() []command {
	return []command{
		{name: "call", usage: "call a remote method and print the result as JSON", run: runCall},
		{name: "chat", usage: "serve the chat service, or join a group from the terminal", sub: []command{
			{name: "serve", usage: "serve the chat service until SIGINT or SIGTERM", run: runChatServe},
			{name: "join", usage: "join a group: send stdin's lines, print what the group says", run: runChatJoin},
		}},
		{name: "users", usage: "manage users in a Django user database", sub: usersCommands()},
		{name: "authd", usage: "the central authentication server: serve, services add, revoke", run: runAuthd},
	}
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext returns a context that the first SIGINT or SIGTERM
// cancels; after it, the signals' default action (exit) is restored so
// that a second one ends a process that hangs.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 success, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, "spread", commands(), args, stdin, stdout, stderr)
}

// dispatch runs the subcommand that args name. No name is bad usage; -h,
// --help or help prints the list and succeeds.
func dispatch(ctx context.Context, prog string, cmds []command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		listCommands(stderr, prog, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		if c.sub != nil {
			return dispatch(ctx, prog+" "+c.name, c.sub, args[1:], stdin, stdout, stderr)
		}
		return c.run(ctx, args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", prog, args[0])
	listCommands(stderr, prog, cmds)
	return 2
}

func listCommands(w io.Writer, prog string, cmds []command) {
	fmt.Fprintf(w, "usage: %s COMMAND [options]\n", prog)
	fmt.Fprintln(w, "commands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
}

// newFlagSet returns a flag set for a leaf command that reports to
// stderr and prints usageLine before the flags on -h.
func newFlagSet(name string, stderr io.Writer, usageLine ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, l := range usageLine {
			fmt.Fprintln(stderr, l)
		}
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; when it fails, the exit status to return: 0
// after -h/--help, 2 after a bad flag (the flag package has explained).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	if err == nil {
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0, false
	}
	return 2, false
}
