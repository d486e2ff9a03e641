package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
)

// usersCommands are spread users' subcommands. They share their options
// (--db, --user-table, --rehash, --password-file) and differ in what
// they do to the store.
func usersCommands() []command {
	verb := func(name, usage string) command {
		return command{name: name, usage: usage, run: func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
			return runUsers(ctx, name, args, stdin, stdout, stderr)
		}}
	}
	return []command{
		verb("add", "add a user (password from SPREAD_PASSWORD, --password-file or a prompt)"),
		verb("passwd", "set a user's password"),
		verb("del", "delete a user"),
		verb("list", "list the users"),
		verb("check", "check a user's password"),
	}
}

func runUsers(ctx context.Context, verb string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := "usage: spread users " + verb + " --db DSN [--password-file F] NAME"
	if verb == "list" {
		usage = "usage: spread users list --db DSN"
	}
	fs := newFlagSet("spread users "+verb, stderr, usage)
	var db dbFlags
	db.register(fs)
	pwFile := fs.String("password-file", "", "read the password from the first line of this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if db.dsn == "" {
		fmt.Fprintln(stderr, "spread users: --db DSN is required")
		return 2
	}
	name := fs.Arg(0)
	if (verb != "list" && name == "") || fs.NArg() > 1 || (verb == "list" && fs.NArg() > 0) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := db.open(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "spread users: %v\n", err)
		return 1
	}
	defer func() {
		// Close writes the last_login of a successful check.
		if err := st.Close(); err != nil {
			fmt.Fprintf(stderr, "spread users: %v\n", err)
		}
	}()
	if _, err := st.EnsureSchema(ctx); err != nil {
		fmt.Fprintf(stderr, "spread users: %v\n", err)
		return 1
	}
	password := func(confirm bool) ([]byte, bool) {
		pw, err := readPassword(*pwFile, stdin, stderr, "Password for "+name+": ", confirm)
		if err != nil {
			fmt.Fprintf(stderr, "spread users: %v\n", err)
			return nil, false
		}
		return pw, true
	}
	switch verb {
	case "add":
		pw, ok := password(true)
		if !ok {
			return 1
		}
		err = st.AddUser(ctx, name, pw)
	case "passwd":
		pw, ok := password(true)
		if !ok {
			return 1
		}
		err = st.SetPassword(ctx, name, pw)
	case "del":
		err = st.DeleteUser(ctx, name)
	case "check":
		pw, ok := password(false)
		if !ok {
			return 1
		}
		err = st.Check(ctx, name, pw)
		if errors.Is(err, cred.ErrUnauthorizedLogin) {
			fmt.Fprintf(stdout, "%s: password does not verify\n", name)
			return 1
		}
		if err == nil {
			fmt.Fprintf(stdout, "%s: password verifies\n", name)
		}
	case "list":
		var users []djangostore.User
		users, err = st.ListUsers(ctx)
		if err == nil {
			printUsers(stdout, users)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "spread users %s: %v\n", verb, err)
		return 1
	}
	switch verb {
	case "add", "passwd", "del":
		fmt.Fprintf(stderr, "spread users %s: %s done\n", verb, name)
	}
	return 0
}

func printUsers(w io.Writer, users []djangostore.User) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tACTIVE\tLAST LOGIN\tALGORITHM")
	for _, u := range users {
		last := "never"
		if u.LastLogin != nil {
			last = u.LastLogin.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", u.Username, u.Active, last, u.Algorithm)
	}
	tw.Flush()
}
