package authd

import (
	"context"
	"errors"
	"fmt"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// Client is a user's login at authd: log in once, then log in to any
// broker with a fresh ticket.
type Client struct {
	b      *pb.Broker
	avatar *pb.RemoteReference
	user   string
}

// Login connects to authd at addr and logs in with creds (Twisted's
// challenge login, or Spread's password login when authd's store needs
// it and the connection is TLS or loopback). cfg is the PB
// configuration (TLS); nil means defaults.
func Login(ctx context.Context, addr string, creds *cred.UsernamePassword, cfg *pb.Config) (*Client, error) {
	if creds == nil {
		return nil, errors.New("authd: Login needs credentials")
	}
	b, err := pb.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	a, err := b.Login(ctx, creds, nil)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &Client{b: b, avatar: a, user: creds.Username}, nil
}

// User returns the user name the client logged in with.
func (c *Client) User() string { return c.user }

// Broker returns the connection to authd.
func (c *Client) Broker() *pb.Broker { return c.b }

// Ticket asks authd for a ticket for service. It is valid once, at that
// service only, for the ticket lifetime authd gives (a minute by
// default). Never log it.
func (c *Client) Ticket(ctx context.Context, service string) (string, error) {
	v, err := c.avatar.CallRemote(ctx, "ticket", service)
	if err != nil {
		return "", fmt.Errorf("authd: ticket for %s: %w", service, err)
	}
	t, ok := text(v)
	if !ok {
		return "", fmt.Errorf("authd: ticket answered %T, not a str", v)
	}
	return t, nil
}

// Credentials returns credentials for service: the user name and a
// fresh ticket as the password.
func (c *Client) Credentials(ctx context.Context, service string) (*cred.UsernamePassword, error) {
	t, err := c.Ticket(ctx, service)
	if err != nil {
		return nil, err
	}
	return &cred.UsernamePassword{Username: c.user, Password: []byte(t)}, nil
}

// Dial connects to the broker at addr, whose service name at authd is
// service, and logs in there with a fresh ticket, handing mind to the
// broker's realm. It returns the connection and the avatar.
func (c *Client) Dial(ctx context.Context, addr, service string, cfg *pb.Config, mind any) (*pb.Broker, *pb.RemoteReference, error) {
	creds, err := c.Credentials(ctx, service)
	if err != nil {
		return nil, nil, err
	}
	b, err := pb.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	a, err := b.Login(ctx, creds, mind)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, a, nil
}

// Logout ends the login at authd: every broker session opened with its
// tickets ends. The connection to authd stays open until Close.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.avatar.CallRemote(ctx, "logout")
	return err
}

// Close closes the connection to authd. The login stays valid for the
// sessions already opened at brokers (until it expires or is revoked);
// no more tickets can be had from it.
func (c *Client) Close() error { return c.b.Close() }
