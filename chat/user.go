package chat

import (
	"context"
	"sync"

	"github.com/gospread/spread/pb"
)

// User is the avatar of one logged-in chat user.
type User struct {
	pb.Avatar
	Name   string
	server *Server
	mind   *pb.RemoteReference

	mu     sync.Mutex
	groups []*Group
	gone   bool
}

// JoinArgs are joinGroup's parameters.
type JoinArgs struct {
	Group         string `pb:"groupname"`
	AllowMattress bool   `pb:"allowMattress,default=true"`
}

// PerspectiveJoinGroup joins (or creates) a group and returns it.
func (u *User) PerspectiveJoinGroup(ctx context.Context, a JoinArgs) (*Group, error) {
	if a.Group == "" {
		return nil, pb.ValueError("a group needs a name")
	}
	u.mu.Lock()
	gone := u.gone
	u.mu.Unlock()
	if gone {
		return nil, pb.Errorf("twisted.spread.pb.Error", "logged out")
	}
	g := u.server.joinGroup(a.Group, u, a.AllowMattress)
	u.mu.Lock()
	for _, have := range u.groups {
		if have == g {
			u.mu.Unlock()
			return g, nil
		}
	}
	u.groups = append(u.groups, g)
	u.mu.Unlock()
	return g, nil
}

// deliver sends one line to the user's mind, without waiting for the
// answer: messages queue on the connection in the order sent.
func (u *User) deliver(message string) {
	if u.mind == nil {
		return
	}
	if err := u.mind.CallRemoteNoAnswer("print", message); err != nil {
		u.server.log.Debug("chat: delivery failed", "user", u.Name, "err", err)
	}
}

// detach is the realm's logout: the user leaves every group.
func (u *User) detach() {
	u.mu.Lock()
	groups := u.groups
	u.groups = nil
	u.gone = true
	u.mu.Unlock()
	for _, g := range groups {
		g.remove(u)
	}
	u.server.log.Info("chat: user detached", "user", u.Name)
}
