// Command spread is Spread's one binary.
//
//	spread call --server HOST:PORT [--user NAME | --anonymous] [--root] METHOD [ARG...]
//	spread chat serve --listen ADDR [--demo] [--anonymous] [--db DSN] [--tls-cert F --tls-key F]
//	spread chat join --server ADDR --user NAME --group NAME [--no-mattress]
//	spread users add|passwd|del|list|check --db DSN [NAME]
//
// Passwords come from SPREAD_PASSWORD, --password-file, or a prompt;
// never from the command line.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"call", "call a remote method and print the result as JSON", runCall},
		{"chat", "serve the chat service, or join a group from the terminal", runChat},
		{"users", "manage users in a Django user database", runUsers},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "spread: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spread COMMAND [options]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
}
