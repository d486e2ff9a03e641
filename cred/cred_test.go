package cred

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// kindChecker is a KindsChecker that records its calls.
type kindChecker struct {
	name  string
	kinds []Kind
	id    string
	err   error
	calls int
}

func (c *kindChecker) Kinds() []Kind { return c.kinds }

func (c *kindChecker) CheckCredentials(ctx context.Context, creds Credentials) (string, error) {
	c.calls++
	if c.err != nil {
		return "", c.err
	}
	return c.id, nil
}

// recRealm records what it was asked for.
type recRealm struct {
	avatar  any
	err     error
	noOut   bool
	gotID   string
	gotMind any
	calls   int
	logouts int
}

func (r *recRealm) RequestAvatar(ctx context.Context, id string, mind any) (any, func(), error) {
	r.calls++
	r.gotID, r.gotMind = id, mind
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.noOut {
		return r.avatar, nil, nil
	}
	return r.avatar, func() { r.logouts++ }, nil
}

func TestPortalLogin(t *testing.T) {
	errRealm := errors.New("realm is down")
	errBackend := errors.New("checker backend is down")
	tests := []struct {
		name      string
		creds     Credentials
		pwErr     error // error of the password checker
		realm     recRealm
		wantID    string
		wantErr   error // matched with errors.Is; nil means success
		wantUnh   Kind  // when set, the error must be *UnhandledError of this kind
		wantCheck string
		wantRealm bool
		wantLogou int // logout calls made by Login itself
	}{
		{
			name:      "password routed to password checker",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			realm:     recRealm{avatar: "A"},
			wantID:    "pw-id",
			wantCheck: "pw",
			wantRealm: true,
		},
		{
			name:      "challenge routed to challenge checker",
			creds:     &UsernameChallenge{Username: "alice"},
			realm:     recRealm{avatar: "A"},
			wantID:    "ch-id",
			wantCheck: "ch",
			wantRealm: true,
		},
		{
			name:    "anonymous is unhandled",
			creds:   Anonymous{},
			realm:   recRealm{avatar: "A"},
			wantErr: ErrUnhandledCredentials,
			wantUnh: KindAnonymous,
		},
		{
			name:    "nil credentials are unhandled",
			creds:   nil,
			realm:   recRealm{avatar: "A"},
			wantErr: ErrUnhandledCredentials,
			wantUnh: "",
		},
		{
			name:      "checker refuses",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("bad")},
			pwErr:     fmt.Errorf("wrong password: %w", ErrUnauthorizedLogin),
			realm:     recRealm{avatar: "A"},
			wantErr:   ErrUnauthorizedLogin,
			wantCheck: "pw",
		},
		{
			name:      "checker fails otherwise",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			pwErr:     errBackend,
			realm:     recRealm{avatar: "A"},
			wantErr:   errBackend,
			wantCheck: "pw",
		},
		{
			name:      "realm error",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			realm:     recRealm{err: errRealm},
			wantErr:   errRealm,
			wantCheck: "pw",
			wantRealm: true,
		},
		{
			name:      "nil avatar runs logout and fails",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			realm:     recRealm{avatar: nil},
			wantErr:   errAny,
			wantCheck: "pw",
			wantRealm: true,
			wantLogou: 1,
		},
		{
			name:      "nil avatar with nil logout fails",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			realm:     recRealm{avatar: nil, noOut: true},
			wantErr:   errAny,
			wantCheck: "pw",
			wantRealm: true,
		},
		{
			name:      "nil logout is fine",
			creds:     &UsernamePassword{Username: "alice", Password: []byte("pw")},
			realm:     recRealm{avatar: 42, noOut: true},
			wantID:    "pw-id",
			wantCheck: "pw",
			wantRealm: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw := &kindChecker{name: "pw", kinds: []Kind{KindPassword}, id: "pw-id", err: tt.pwErr}
			ch := &kindChecker{name: "ch", kinds: []Kind{KindChallenge}, id: "ch-id"}
			realm := tt.realm
			p := NewPortal(&realm, pw, ch)
			mind := &struct{ n int }{7}

			id, avatar, logout, err := p.Login(context.Background(), tt.creds, mind)

			switch {
			case tt.wantErr == nil:
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				if id != tt.wantID {
					t.Errorf("id = %q, want %q", id, tt.wantID)
				}
				if avatar != realm.avatar {
					t.Errorf("avatar = %v, want %v", avatar, realm.avatar)
				}
				if realm.gotID != tt.wantID || realm.gotMind != any(mind) {
					t.Errorf("realm got (%q, %v), want (%q, %v)", realm.gotID, realm.gotMind, tt.wantID, mind)
				}
				if !realm.noOut {
					if logout == nil {
						t.Fatal("logout is nil")
					}
					logout()
					if realm.logouts != 1 {
						t.Errorf("logouts = %d, want 1", realm.logouts)
					}
				}
			default:
				if err == nil {
					t.Fatalf("Login succeeded (id %q), want error", id)
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if id != "" || avatar != nil || logout != nil {
					t.Errorf("failed Login returned (%q, %v, logout=%v)", id, avatar, logout != nil)
				}
				if realm.logouts != tt.wantLogou {
					t.Errorf("logouts = %d, want %d", realm.logouts, tt.wantLogou)
				}
			}
			if tt.wantErr == ErrUnhandledCredentials {
				var ue *UnhandledError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %T, want *UnhandledError", err)
				}
				if ue.Kind != tt.wantUnh {
					t.Errorf("UnhandledError.Kind = %q, want %q", ue.Kind, tt.wantUnh)
				}
				if errors.Is(err, ErrUnauthorizedLogin) {
					t.Error("UnhandledError matches ErrUnauthorizedLogin")
				}
			}
			checked := ""
			switch {
			case pw.calls > 0 && ch.calls > 0:
				checked = "both"
			case pw.calls > 0:
				checked = "pw"
			case ch.calls > 0:
				checked = "ch"
			}
			if checked != tt.wantCheck {
				t.Errorf("checker called: %q, want %q", checked, tt.wantCheck)
			}
			if (realm.calls > 0) != tt.wantRealm {
				t.Errorf("realm called %d times, want called=%v", realm.calls, tt.wantRealm)
			}
		})
	}
}

// errAny in a test table means "any non-nil error".
var errAny = errors.New("any error")

func TestPortalRegister(t *testing.T) {
	a := &kindChecker{kinds: []Kind{KindPassword, KindChallenge}, id: "a"}
	b := &kindChecker{kinds: []Kind{KindPassword}, id: "b"}
	c := CheckerFunc(func(context.Context, Credentials) (string, error) { return AnonymousID, nil })
	p := NewPortal(&recRealm{avatar: "x"}, a)
	p.Register(c, KindAnonymous)
	p.Register(b) // replaces a for KindPassword, keeps its place in the order

	if got, want := fmt.Sprint(p.Kinds()), "[password challenge anonymous]"; got != want {
		t.Errorf("Kinds = %s, want %s", got, want)
	}
	for _, k := range []Kind{KindPassword, KindChallenge, KindAnonymous} {
		if !p.Accepts(k) {
			t.Errorf("Accepts(%q) = false", k)
		}
	}
	if p.Accepts("token") {
		t.Error(`Accepts("token") = true`)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		creds Credentials
		id    string
	}{
		{&UsernamePassword{Username: "u"}, "b"},
		{&UsernameChallenge{Username: "u"}, "a"},
		{Anonymous{}, AnonymousID},
		{&Anonymous{}, AnonymousID},
	} {
		id, _, _, err := p.Login(ctx, tt.creds, nil)
		if err != nil || id != tt.id {
			t.Errorf("Login(%v) = %q, %v; want %q", tt.creds, id, err, tt.id)
		}
	}
	// Kinds returns a copy.
	ks := p.Kinds()
	ks[0] = "mangled"
	if p.Kinds()[0] != KindPassword {
		t.Error("Kinds exposes the portal's slice")
	}
}

func TestPortalRegisterWithoutKindsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Register of a plain Checker without kinds did not panic")
		}
	}()
	p := NewPortal(&recRealm{})
	p.Register(CheckerFunc(func(context.Context, Credentials) (string, error) { return "", nil }))
}

func TestPortalConcurrent(t *testing.T) {
	p := NewPortal(RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return id, nil, nil
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			p.Register(&kindChecker{kinds: []Kind{KindPassword}, id: "x"})
		}
	}()
	for i := 0; i < 100; i++ {
		_, _, _, _ = p.Login(context.Background(), &UsernamePassword{Username: "u"}, nil)
		_ = p.Kinds()
		_ = p.Accepts(KindPassword)
	}
	<-done
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUsernameChallengeTwisted uses values captured from a Twisted 22.4
// Perspective Broker login (user password "pass1").
func TestUsernameChallengeTwisted(t *testing.T) {
	const challenge = "e3577062926f5447a902657a14868d4a"
	tests := []struct {
		name     string
		typed    string // what the client typed
		response string // what the client sent
		check    string // what the server checks against
		want     bool
	}{
		{"right password", "pass1", "764d2efcffb970b9019756efb7dc2a70", "pass1", true},
		{"wrong password", "wrong", "891d2884e552e1c548a65a45b5294382", "pass1", false},
		{"right response, other stored password", "pass1", "764d2efcffb970b9019756efb7dc2a70", "pass2", false},
		{"empty stored password", "pass1", "764d2efcffb970b9019756efb7dc2a70", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := unhex(t, challenge)
			resp := unhex(t, tt.response)
			if got := ChallengeResponse([]byte(tt.typed), ch); string(got) != string(resp) {
				t.Fatalf("ChallengeResponse(%q) = %x, want %s", tt.typed, got, tt.response)
			}
			c := &UsernameChallenge{Username: "user1", Challenge: ch, Response: resp}
			if c.Kind() != KindChallenge || c.User() != "user1" {
				t.Errorf("Kind/User = %q/%q", c.Kind(), c.User())
			}
			if got := c.CheckPassword([]byte(tt.check)); got != tt.want {
				t.Errorf("CheckPassword(%q) = %v, want %v", tt.check, got, tt.want)
			}
			sum := md5sum(tt.check)
			if got := c.CheckMD5(sum); got != tt.want {
				t.Errorf("CheckMD5(md5(%q)) = %v, want %v", tt.check, got, tt.want)
			}
		})
	}
	// A truncated or empty response never matches.
	ch := unhex(t, challenge)
	for _, resp := range [][]byte{nil, {}, unhex(t, "764d2efcffb970b9019756efb7dc2a")} {
		c := &UsernameChallenge{Username: "user1", Challenge: ch, Response: resp}
		if c.CheckPassword([]byte("pass1")) {
			t.Errorf("response %x accepted", resp)
		}
	}
}

// md5sum is MD5(s), the form CheckMD5 expects.
func md5sum(s string) []byte {
	sum := md5.Sum([]byte(s))
	return sum[:]
}

func TestUsernamePassword(t *testing.T) {
	tests := []struct {
		sent, stored string
		want         bool
	}{
		{"pw", "pw", true},
		{"pw", "pW", false},
		{"pw", "pw ", false},
		{"", "", true},
		{"", "pw", false},
		{"pw\x00", "pw", false},
	}
	for _, tt := range tests {
		c := &UsernamePassword{Username: "u", Password: []byte(tt.sent)}
		if c.Kind() != KindPassword || c.User() != "u" {
			t.Errorf("Kind/User = %q/%q", c.Kind(), c.User())
		}
		if got := c.CheckPassword([]byte(tt.stored)); got != tt.want {
			t.Errorf("CheckPassword: sent %q stored %q = %v, want %v", tt.sent, tt.stored, got, tt.want)
		}
	}
}

func TestStringHidesSecrets(t *testing.T) {
	const secret = "hunter2-s3cret"
	ch := []byte("0123456789abcdef")
	resp := ChallengeResponse([]byte(secret), ch)
	tests := []struct {
		name string
		v    fmt.Stringer
		bad  []string
	}{
		{"UsernamePassword", &UsernamePassword{Username: "alice", Password: []byte(secret)},
			[]string{secret, fmt.Sprint([]byte(secret)), fmt.Sprintf("%x", secret)}},
		{"UsernameChallenge", &UsernameChallenge{Username: "alice", Challenge: ch, Response: resp},
			[]string{string(resp), fmt.Sprintf("%x", resp), fmt.Sprint(resp)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outs := []string{tt.v.String(), fmt.Sprint(tt.v), fmt.Sprintf("%v|%s|%+v", tt.v, tt.v, tt.v)}
			for _, out := range outs {
				if !strings.Contains(out, "alice") {
					t.Errorf("%q does not name the user", out)
				}
				for _, b := range tt.bad {
					if strings.Contains(out, b) {
						t.Errorf("%q contains the secret %q", out, b)
					}
				}
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	ue := &UnhandledError{Kind: "token"}
	if !errors.Is(ue, ErrUnhandledCredentials) || !strings.Contains(ue.Error(), "token") {
		t.Errorf("UnhandledError = %q", ue.Error())
	}
	wrapped := fmt.Errorf("login: %w", ue)
	if !errors.Is(wrapped, ErrUnhandledCredentials) {
		t.Error("wrapped UnhandledError does not match ErrUnhandledCredentials")
	}
}
