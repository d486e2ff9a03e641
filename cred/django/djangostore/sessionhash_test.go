package djangostore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gospread/spread/cred"
)

func TestSessionStamp(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "db"), &Config{Iterations: testIterations})
	if _, err := s.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	pw1, pw2 := []byte("first secret"), []byte("second secret")
	if err := s.AddUser(ctx, "carol", pw1); err != nil {
		t.Fatal(err)
	}
	key, other := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)
	a, err := s.SessionStamp(ctx, "carol", key)
	if err != nil || len(a) != 32 {
		t.Fatalf("stamp: %x %v", a, err)
	}
	if b, _ := s.SessionStamp(ctx, "carol", key); !bytes.Equal(a, b) {
		t.Fatal("stamp is not stable")
	}
	if b, _ := s.SessionStamp(ctx, "carol", other); bytes.Equal(a, b) {
		t.Fatal("stamp does not depend on the key")
	}
	if err := s.SetPassword(ctx, "carol", pw2); err != nil {
		t.Fatal(err)
	}
	if b, err := s.SessionStamp(ctx, "carol", key); err != nil || bytes.Equal(a, b) {
		t.Fatalf("stamp after a password change: equal=%v err=%v", bytes.Equal(a, b), err)
	}
	if err := s.SetActive(ctx, "carol", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionStamp(ctx, "carol", key); !errors.Is(err, ErrInactive) || !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Fatalf("inactive: %v", err)
	}
	for _, name := range []string{"nobody", "bad\x00name", "\xff"} {
		if _, err := s.SessionStamp(ctx, name, key); !errors.Is(err, ErrNoSuchUser) || !errors.Is(err, cred.ErrUnauthorizedLogin) {
			t.Fatalf("%q: %v", name, err)
		}
	}
}
