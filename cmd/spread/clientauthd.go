package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// authdClientFlags let a client command log in once at authd and then
// at the server with a fresh ticket.
type authdClientFlags struct {
	addr    string
	service string
	tls     tlsClientFlags
	client  *authd.Client
}

func (a *authdClientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.addr, "authd", "", "log in at this authentication server, HOST:PORT (or several, comma-separated, tried in order), and at --server with a ticket")
	fs.StringVar(&a.service, "service", "", "the server's service name at authd (with --authd)")
	fs.StringVar(&a.tls.ca, "authd-tls-ca", "", "connect to authd with TLS, trusting the CA certificates in this PEM file")
	fs.StringVar(&a.tls.pin, "authd-tls-pin", "", "connect to authd with TLS, trusting only the certificate with this SHA-256 fingerprint (hex)")
	fs.StringVar(&a.tls.name, "authd-tls-name", "localhost", "authd's server name to verify with --authd-tls-ca")
}

// login logs in at authd as user, gets a ticket for the service and
// logs in on b with it. The authd login stays open until close.
func (a *authdClientFlags) login(ctx context.Context, b *pb.Broker, user string, pw []byte, stderr io.Writer, mind any) (*pb.RemoteReference, error) {
	if a.service == "" {
		return nil, errors.New("--authd needs --service NAME, the server's service name at authd")
	}
	t, err := a.tls.config()
	if err != nil {
		return nil, err
	}
	// Several addresses (authd processes sharing one state store) are
	// tried in order; a refusal is final, an unreachable one is not.
	var c *authd.Client
	for _, addr := range strings.Split(a.addr, ",") {
		c, err = authd.Login(ctx, strings.TrimSpace(addr), &cred.UsernamePassword{Username: user, Password: pw}, &pb.Config{TLS: t, Logger: quietLogger(stderr)})
		if err == nil || errors.Is(err, cred.ErrUnauthorizedLogin) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("at authd: %w", err)
	}
	a.client = c
	creds, err := c.Credentials(ctx, a.service)
	if err != nil {
		return nil, err
	}
	return b.Login(ctx, creds, mind)
}

// close logs out at authd (ending the sessions its tickets opened) and
// disconnects.
func (a *authdClientFlags) close() {
	if a.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.client.Logout(ctx)
	a.client.Close()
}
