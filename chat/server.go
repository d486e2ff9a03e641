package chat

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gospread/spread/cluster"
	"github.com/gospread/spread/cred"
)

// Server holds the groups. It is also the realm of the chat's PB
// service (see [Server.RequestAvatar]).
type Server struct {
	log    *slog.Logger
	mu     sync.Mutex
	groups map[string]*Group
	guests atomic.Int64
	bus    *cluster.Bus // nil: this broker alone

	pb pbEdge
}

// NewServer returns an empty chat server. A nil logger means
// slog.Default().
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{log: log, groups: map[string]*Group{}}
}

// MemberName is the chat name of a logged-in avatar id: the id itself,
// or a generated guest-N for an anonymous login.
func (s *Server) MemberName(avatarID string) string {
	if avatarID == cred.AnonymousID {
		return fmt.Sprintf("guest-%d", s.guests.Add(1))
	}
	return avatarID
}

// group returns the named group, creating it with allowMattress if
// needed.
func (s *Server) group(name string, allowMattress bool) *Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		g = &Group{Name: name, server: s}
		g.allowMattress.Store(allowMattress)
		if s.bus != nil {
			g.remote = &busMember{s: s, group: name}
			// The options of whoever created the group first, on any
			// broker.
			if opts, err := s.bus.Open(name, encodeOptions(allowMattress)); err == nil {
				g.allowMattress.Store(decodeOptions(opts, allowMattress))
			} else {
				s.log.Error("chat: group not shared with other brokers", "group", name, "err", err)
			}
		}
		s.groups[name] = g
	}
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
