package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// The PB edge of the chat: a PB login's avatar, the member that prints
// to the client's mind, the group as a Viewable, and the mapping from
// chat errors to the exceptions Twisted's chat example raises.

var _ cred.Realm = (*Server)(nil)

// RequestAvatar makes a User for a PB login. The mind, when the client
// sent one, receives the group's messages through its remote
// print(message). Anonymous logins get a generated name, guest-N. The
// logout function ends the user's session.
func (s *Server) RequestAvatar(ctx context.Context, avatarID string, mind any) (any, func(), error) {
	m := &pbMember{log: s.log}
	m.mind, _ = mind.(*pb.RemoteReference)
	u := &User{server: s}
	u.session = s.Attach(s.MemberName(avatarID), m)
	u.Name = u.session.Name()
	return u, u.session.Leave, nil
}

// User is the avatar of one chat user logged in over PB.
type User struct {
	pb.Avatar
	Name    string
	server  *Server
	session *Session
}

// JoinArgs are joinGroup's parameters.
type JoinArgs struct {
	Group         string `pb:"groupname"`
	AllowMattress bool   `pb:"allowMattress,default=true"`
}

// PerspectiveJoinGroup joins (or creates) a group and returns it as a
// Viewable, so that the group learns who calls its send.
func (u *User) PerspectiveJoinGroup(ctx context.Context, a JoinArgs) (*GroupView, error) {
	g, err := u.session.Join(a.Group, a.AllowMattress)
	if err != nil {
		return nil, pbError(err)
	}
	return u.server.pb.view(g), nil
}

// pbMember delivers lines to a PB client's mind.
type pbMember struct {
	log  *slog.Logger
	mind *pb.RemoteReference
}

// Deliver calls the mind's print(line) without waiting for the answer:
// lines queue on the connection in the order sent. A login without a
// mind hears nothing.
func (m *pbMember) Deliver(line string) error {
	if m.mind == nil {
		return nil
	}
	return m.mind.CallRemoteNoAnswer("print", line)
}

// Error logs: a PB client has no channel for errors outside its calls.
func (m *pbMember) Error(err error) { m.log.Debug("chat: delivery failed", "err", err) }

// Leave does nothing: the mind's reference dies with its connection.
func (m *pbMember) Leave() {}

// pbEdge holds each group's Viewable, so that a group travels as the
// same reference every time it is returned.
type pbEdge struct {
	mu    sync.Mutex
	views map[*Group]*GroupView
}

func (e *pbEdge) view(g *Group) *GroupView {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v := e.views[g]; v != nil {
		return v
	}
	if e.views == nil {
		e.views = map[*Group]*GroupView{}
	}
	v := &GroupView{Group: g}
	e.views[g] = v
	return v
}

// GroupView is a group as PB clients see it: a Viewable, so that each
// member calls it through its own view point and ViewSend learns who is
// speaking.
type GroupView struct {
	pb.Viewable
	*Group
}

// ViewSend delivers "<from> says: message" to every member.
func (v *GroupView) ViewSend(ctx context.Context, from *User, message string) error {
	var se *Session
	if from != nil {
		se = from.session
	}
	return pbError(se.Send(v.Group, message))
}

// ViewMembers returns the names of the group's members, on every broker
// of a cluster: those on this broker first, in joining order. It is a
// Spread addition; Twisted's chat has no member list.
func (v *GroupView) ViewMembers(ctx context.Context, from *User) []any {
	names := v.Group.Members()
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

// pbError maps a chat error to the exception a Twisted client sees.
func pbError(err error) error {
	var ce Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce {
	case ErrNoGroupName, ErrForbiddenWord:
		return pb.ValueError(string(ce))
	}
	return pb.Errorf("twisted.spread.pb.Error", "%s", string(ce))
}
