package chat

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/pb"
)

// Server holds the groups and is the realm of the chat service.
type Server struct {
	log    *slog.Logger
	mu     sync.Mutex
	groups map[string]*Group
	guests atomic.Int64
}

// NewServer returns an empty chat server. A nil logger means
// slog.Default().
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{log: log, groups: map[string]*Group{}}
}

var _ cred.Realm = (*Server)(nil)

// RequestAvatar makes a User for a login. The mind, when the client
// sent one, receives the group's messages. Anonymous logins get a
// generated name, guest-N.
func (s *Server) RequestAvatar(ctx context.Context, avatarID string, mind any) (any, func(), error) {
	name := avatarID
	if avatarID == cred.AnonymousID {
		name = fmt.Sprintf("guest-%d", s.guests.Add(1))
	}
	u := &User{Name: name, server: s}
	u.mind, _ = mind.(*pb.RemoteReference)
	s.log.Info("chat: user attached", "user", name)
	return u, u.detach, nil
}

// joinGroup adds u to the named group, creating it if needed.
func (s *Server) joinGroup(name string, u *User, allowMattress bool) *Group {
	s.mu.Lock()
	g := s.groups[name]
	if g == nil {
		g = &Group{Name: name, AllowMattress: allowMattress, server: s}
		s.groups[name] = g
	}
	s.mu.Unlock()
	g.add(u)
	return g
}

// Group returns the named group, or nil.
func (s *Server) Group(name string) *Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[name]
}

// Groups returns the names of the groups.
func (s *Server) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.groups))
	for n := range s.groups {
		out = append(out, n)
	}
	return out
}
