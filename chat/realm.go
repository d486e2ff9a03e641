package chat

import (
	"context"
	"net/http"

	"github.com/gospread/spread/cred"
)

// WebAvatars gives the chat's web avatars: for a logged-in avatar id,
// an http.Handler that serves that user's chat in a browser, and its
// logout. Package chat/web provides one.
type WebAvatars interface {
	WebAvatar(ctx context.Context, avatarID string) (avatar http.Handler, logout func(), err error)
}

// Realm is the chat's one realm for every protocol, so that the same
// users and the same cred.Portal serve PB and the web: for
// cred.IPerspective it asks Server for a PB [User], for
// cred.IHTTPHandler it asks Web for a web avatar. Without Web it serves
// PB only, like the Server itself.
type Realm struct {
	Server *Server
	Web    WebAvatars
}

var _ cred.InterfaceRealm = (*Realm)(nil)

// RequestAvatar gives a PB avatar (cred.IPerspective).
func (r *Realm) RequestAvatar(ctx context.Context, avatarID string, mind any) (any, func(), error) {
	return r.Server.RequestAvatar(ctx, avatarID, mind)
}

// RequestAvatarFor gives an avatar for iface, or an error matching
// cred.ErrUnsupportedInterface.
func (r *Realm) RequestAvatarFor(ctx context.Context, avatarID string, mind any, iface cred.Interface) (any, func(), error) {
	switch {
	case iface == cred.IPerspective:
		return r.Server.RequestAvatar(ctx, avatarID, mind)
	case iface == cred.IHTTPHandler && r.Web != nil:
		h, logout, err := r.Web.WebAvatar(ctx, avatarID)
		if err != nil {
			return nil, nil, err
		}
		return h, logout, nil
	}
	return nil, nil, &cred.InterfaceError{Interface: iface}
}
