package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// loginFlags are the login options shared by the client commands.
type loginFlags struct {
	user         string
	anonymous    bool
	passwordFile string
	tls          tlsClientFlags
	authd        authdClientFlags // --authd: log in there, then here with a ticket
}

func (l *loginFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.user, "user", "", "log in as NAME (password from SPREAD_PASSWORD, --password-file or a prompt)")
	fs.BoolVar(&l.anonymous, "anonymous", false, "log in anonymously")
	fs.StringVar(&l.passwordFile, "password-file", "", "read the password from the first line of this file")
	l.tls.register(fs)
	l.authd.register(fs)
}

func (l *loginFlags) wantsLogin() bool { return l.user != "" || l.anonymous }

// clientConfig is the client's PB configuration: the chosen TLS, and
// warnings logged to stderr.
func (l *loginFlags) clientConfig(stderr io.Writer) (*pb.Config, error) {
	t, err := l.tls.config()
	if err != nil {
		return nil, err
	}
	return &pb.Config{Logger: quietLogger(stderr), TLS: t}, nil
}

// login logs in on b with the chosen credentials.
func (l *loginFlags) login(ctx context.Context, b *pb.Broker, stdin io.Reader, stderr io.Writer, mind any) (*pb.RemoteReference, error) {
	if l.anonymous {
		return b.Login(ctx, cred.Anonymous{}, mind)
	}
	pw, err := readPassword(l.passwordFile, stdin, stderr, "Password for "+l.user+": ", false)
	if err != nil {
		return nil, err
	}
	if l.authd.addr != "" {
		return l.authd.login(ctx, b, l.user, pw, stderr, mind)
	}
	return b.Login(ctx, &cred.UsernamePassword{Username: l.user, Password: pw}, mind)
}

// readPassword returns the password from SPREAD_PASSWORD, the file, or a
// prompt on the terminal (asked twice when confirm is set).
func readPassword(file string, stdin io.Reader, stderr io.Writer, prompt string, confirm bool) ([]byte, error) {
	if pw, ok := os.LookupEnv("SPREAD_PASSWORD"); ok {
		return []byte(pw), nil
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading password file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		return []byte(strings.TrimSuffix(line, "\r")), nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("no password: set SPREAD_PASSWORD, use --password-file, or run on a terminal")
	}
	ask := func(p string) ([]byte, error) {
		fmt.Fprint(stderr, p)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return pw, err
	}
	pw, err := ask(prompt)
	if err != nil {
		return nil, err
	}
	if confirm {
		again, err := ask("Again: ")
		if err != nil {
			return nil, err
		}
		if string(again) != string(pw) {
			return nil, errors.New("the passwords do not match")
		}
	}
	return pw, nil
}
