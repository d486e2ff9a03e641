package cred_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gospread/spread/cred"
)

func TestLoginForInterfaces(t *testing.T) {
	pw := []byte("wonderland")
	checker := passwordChecker{"alice": string(pw)}
	ctx := context.Background()
	creds := func() cred.Credentials { return &cred.UsernamePassword{Username: "alice", Password: pw} }

	// A plain Realm serves IPerspective only.
	plain := cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return "perspective:" + id, nil, nil
	})
	p := cred.NewPortal(plain, checker)
	if _, av, _, err := p.LoginFor(ctx, creds(), nil, cred.IPerspective); err != nil || av != "perspective:alice" {
		t.Fatalf("plain realm, IPerspective: %v %v", av, err)
	}
	_, _, _, err := p.LoginFor(ctx, creds(), nil, cred.IHTTPHandler)
	var ie *cred.InterfaceError
	if !errors.Is(err, cred.ErrUnsupportedInterface) || !errors.As(err, &ie) || ie.Interface != cred.IHTTPHandler {
		t.Fatalf("plain realm, IHTTPHandler: %v", err)
	}
	if _, _, err := p.Resume(ctx, "alice", nil, cred.IHTTPHandler); !errors.Is(err, cred.ErrUnsupportedInterface) {
		t.Fatalf("Resume on a plain realm: %v", err)
	}

	// An InterfaceRealm is asked with the interface, Login included.
	var asked []cred.Interface
	logouts := 0
	realm := cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
		asked = append(asked, iface)
		switch iface {
		case cred.IPerspective, cred.IHTTPHandler:
			return string(iface) + ":" + id, func() { logouts++ }, nil
		}
		return nil, nil, &cred.InterfaceError{Interface: iface}
	})
	p = cred.NewPortal(realm, checker)
	if _, av, logout, err := p.Login(ctx, creds(), nil); err != nil || av != "perspective:alice" {
		t.Fatalf("Login: %v %v", av, err)
	} else {
		logout()
	}
	if id, av, logout, err := p.LoginFor(ctx, creds(), nil, cred.IHTTPHandler); err != nil || id != "alice" || av != "http.Handler:alice" {
		t.Fatalf("LoginFor IHTTPHandler: %v %v %v", id, av, err)
	} else {
		logout()
	}
	if _, _, _, err := p.LoginFor(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("x")}, nil, cred.IHTTPHandler); !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, _, err := p.LoginFor(ctx, creds(), nil, "other"); !errors.Is(err, cred.ErrUnsupportedInterface) {
		t.Fatalf("unknown interface: %v", err)
	}
	if av, logout, err := p.Resume(ctx, "alice", nil, cred.IHTTPHandler); err != nil || av != "http.Handler:alice" {
		t.Fatalf("Resume: %v %v", av, err)
	} else {
		logout()
	}
	want := []cred.Interface{cred.IPerspective, cred.IHTTPHandler, "other", cred.IHTTPHandler}
	if len(asked) != len(want) {
		t.Fatalf("realm asked for %v, want %v", asked, want)
	}
	for i := range want {
		if asked[i] != want[i] {
			t.Fatalf("realm asked for %v, want %v", asked, want)
		}
	}
	if logouts != 3 {
		t.Fatalf("%d logouts, want 3", logouts)
	}
}

func TestNilAvatarForInterface(t *testing.T) {
	logouts := 0
	realm := cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
		return nil, func() { logouts++ }, nil
	})
	p := cred.NewPortal(realm, passwordChecker{"bob": "pw"})
	_, _, _, err := p.LoginFor(context.Background(), &cred.UsernamePassword{Username: "bob", Password: []byte("pw")}, nil, cred.IHTTPHandler)
	if err == nil || logouts != 1 {
		t.Fatalf("nil avatar: err %v, %d logouts", err, logouts)
	}
}
