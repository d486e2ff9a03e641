package cred_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gospread/spread/cred"
)

// passwordChecker is a minimal checker over a map of plaintext
// passwords. Real programs use the checkers in cred/checkers, which also
// spend the same time on unknown users as on wrong passwords.
type passwordChecker map[string]string

func (m passwordChecker) Kinds() []cred.Kind {
	return []cred.Kind{cred.KindPassword, cred.KindChallenge}
}

func (m passwordChecker) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	p, ok := c.(cred.PasswordProver)
	if !ok {
		return "", &cred.UnhandledError{Kind: c.Kind()}
	}
	pw, known := m[p.User()]
	if p.CheckPassword([]byte(pw)) && known {
		return p.User(), nil
	}
	return "", cred.ErrUnauthorizedLogin
}

type user struct{ name string }

func Example() {
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return &user{name: id}, func() { fmt.Println("logout", id) }, nil
	})
	portal := cred.NewPortal(realm, passwordChecker{"alice": "wonderland"})

	ctx := context.Background()
	id, avatar, logout, err := portal.Login(ctx,
		&cred.UsernamePassword{Username: "alice", Password: []byte("wonderland")}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logged in:", id, avatar.(*user).name)
	logout()

	_, _, _, err = portal.Login(ctx,
		&cred.UsernamePassword{Username: "alice", Password: []byte("guess")}, nil)
	fmt.Println(errors.Is(err, cred.ErrUnauthorizedLogin))

	_, _, _, err = portal.Login(ctx, cred.Anonymous{}, nil)
	fmt.Println(err)
	// Output:
	// logged in: alice alice
	// logout alice
	// true
	// cred: no checker for credentials of kind anonymous
}

// Perspective Broker's login: the server sends a random challenge, the
// client answers with MD5(MD5(password) || challenge).
func ExamplePortal_challenge() {
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return "avatar of " + id, nil, nil
	})
	portal := cred.NewPortal(realm, passwordChecker{"user1": "pass1"})

	challenge := []byte("0123456789abcdef") // use crypto/rand in real code
	response := cred.ChallengeResponse([]byte("pass1"), challenge)

	creds := &cred.UsernameChallenge{Username: "user1", Challenge: challenge, Response: response}
	_, avatar, _, err := portal.Login(context.Background(), creds, nil)
	fmt.Println(avatar, err)
	fmt.Println(creds) // never shows the response
	// Output:
	// avatar of user1 <nil>
	// UsernameChallenge(user1, <hidden>)
}

// Anonymous logins need a checker registered for KindAnonymous; the
// realm recognises cred.AnonymousID.
func ExamplePortal_Register() {
	realm := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		if id == cred.AnonymousID {
			return "guest", nil, nil
		}
		return "member " + id, nil, nil
	})
	portal := cred.NewPortal(realm, passwordChecker{"alice": "wonderland"})
	portal.Register(cred.CheckerFunc(func(ctx context.Context, c cred.Credentials) (string, error) {
		return cred.AnonymousID, nil
	}), cred.KindAnonymous)

	fmt.Println(portal.Kinds())
	_, avatar, _, _ := portal.Login(context.Background(), cred.Anonymous{}, nil)
	fmt.Println(avatar)
	// Output:
	// [password challenge anonymous]
	// guest
}

func ExampleThrottle() {
	// A fixed clock keeps the example deterministic; leave Now nil in
	// real code.
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	t := cred.NewThrottle(&cred.ThrottleConfig{
		MaxFailures: 3,
		Lockout:     30 * time.Second,
		Now:         func() time.Time { return now },
	})
	portal := cred.NewPortal(
		cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
			return id, nil, nil
		}),
		passwordChecker{"alice": "wonderland"},
	)

	login := func(user, password, addr string) error {
		a, err := t.Begin(user, addr) // reserves the attempt
		if err != nil {
			return err
		}
		_, _, _, err = portal.Login(context.Background(),
			&cred.UsernamePassword{Username: user, Password: []byte(password)}, nil)
		switch {
		case err == nil:
			a.Success()
		case errors.Is(err, cred.ErrUnauthorizedLogin):
			a.Failure() // in a server: wait its Delay before answering
		default:
			a.Cancel() // could not check: does not count
		}
		return err
	}

	for _, guess := range []string{"a", "b", "c", "wonderland"} {
		fmt.Println(login("alice", guess, "198.51.100.7:40000"))
	}
	// Alice, at her own address, is not locked out.
	fmt.Println(login("alice", "wonderland", "198.51.100.8:40000"))
	now = now.Add(30 * time.Second)
	fmt.Println(login("alice", "wonderland", "198.51.100.7:40000"))
	// Output:
	// cred: unauthorized login
	// cred: unauthorized login
	// cred: unauthorized login
	// cred: too many failed logins; retry after 30s
	// <nil>
	// <nil>
}

// One realm serves a Perspective Broker login and a web login: the
// protocol says which kind of avatar it wants.
func ExampleInterfaceRealmFunc() {
	realm := cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
		switch iface {
		case cred.IPerspective:
			return &user{name: id}, nil, nil
		case cred.IHTTPHandler:
			return "an http.Handler for " + id, nil, nil // a real realm returns one
		}
		return nil, nil, &cred.InterfaceError{Interface: iface}
	})
	portal := cred.NewPortal(realm, passwordChecker{"alice": "wonderland"})
	creds := &cred.UsernamePassword{Username: "alice", Password: []byte("wonderland")}

	_, avatar, _, _ := portal.Login(context.Background(), creds, nil)
	fmt.Println(avatar.(*user).name)
	_, avatar, _, _ = portal.LoginFor(context.Background(), creds, nil, cred.IHTTPHandler)
	fmt.Println(avatar)
	// Output:
	// alice
	// an http.Handler for alice
}
