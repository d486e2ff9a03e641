package chat_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
)

// webAvatars is a WebAvatars that records whom it served.
type webAvatars struct{ ids []string }

func (w *webAvatars) WebAvatar(ctx context.Context, id string) (http.Handler, func(), error) {
	w.ids = append(w.ids, id)
	return http.NotFoundHandler(), nil, nil
}

func TestRealmServesPBAndWeb(t *testing.T) {
	ctx := context.Background()
	s := chat.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	users := checkers.NewInMemory(map[string]string{"alice": "pw"})
	creds := &cred.UsernamePassword{Username: "alice", Password: []byte("pw")}

	pbOnly := cred.NewPortal(&chat.Realm{Server: s}, users)
	_, av, logout, err := pbOnly.Login(ctx, creds, nil)
	if u, ok := av.(*chat.User); err != nil || !ok || u.Name != "alice" {
		t.Fatalf("PB login: %T %v", av, err)
	}
	logout()
	if _, _, _, err := pbOnly.LoginFor(ctx, creds, nil, cred.IHTTPHandler); !errors.Is(err, cred.ErrUnsupportedInterface) {
		t.Errorf("web login without Web: %v", err)
	}

	w := &webAvatars{}
	both := cred.NewPortal(&chat.Realm{Server: s, Web: w}, users)
	_, av, _, err = both.LoginFor(ctx, creds, nil, cred.IHTTPHandler)
	if _, ok := av.(http.Handler); err != nil || !ok || len(w.ids) != 1 || w.ids[0] != "alice" {
		t.Fatalf("web login: %T %v %v", av, err, w.ids)
	}
	_, av, logout, err = both.Login(ctx, creds, nil)
	if _, ok := av.(*chat.User); err != nil || !ok {
		t.Fatalf("PB login with Web: %T %v", av, err)
	}
	logout()
	if _, _, _, err := both.LoginFor(ctx, creds, nil, cred.Interface("other")); !errors.Is(err, cred.ErrUnsupportedInterface) {
		t.Errorf("another interface: %v", err)
	}
}
