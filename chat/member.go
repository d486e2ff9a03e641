package chat

import (
	"sync"

	"github.com/gospread/spread/cluster"
)

// A Member is what carries a participant's lines: a PB client's mind
// (pbmember.go), the other brokers of a cluster (cluster.go), and later
// a browser over a WebSocket. The group logic knows members only through this
// interface.
//
// The chat calls a member's methods outside its own locks, and never
// waits for the network through them: Deliver queues the line (the PB
// member sends it without waiting for an answer).
type Member interface {
	// Deliver hands the member one line a group sent, such as
	// "<alice> says: hi". Lines from one group arrive in the order the
	// group sent them. An error means the line was not delivered; the
	// chat then tells the member through Error.
	Deliver(line string) error
	// Error tells the member of a failure that no request of its own is
	// waiting for, such as a line it could not be given.
	Error(err error)
	// Leave tells the member that it has left every group and that its
	// session is over. It is called exactly once. A Deliver from a send
	// already under way may still arrive during or after it.
	Leave()
}

// A Session is one member's stay in the chat: it joins groups, sends to
// them, and ends with Leave. Attach starts one.
type Session struct {
	name   string
	member Member
	server *Server

	mu     sync.Mutex
	groups []*Group
	gone   bool
}

// Attach starts a session for member under the given name (see
// [Server.MemberName] for the name of an avatar id).
func (s *Server) Attach(name string, member Member) *Session {
	s.log.Info("chat: user attached", "user", name)
	return &Session{name: name, member: member, server: s}
}

// Name returns the member's name, as "<name> says: ..." shows it.
func (se *Session) Name() string { return se.name }

// Join puts the member in the named group, creating the group with
// allowMattress if it does not exist yet (the first member decides).
// Joining a group twice is the same as once.
func (se *Session) Join(group string, allowMattress bool) (*Group, error) {
	if group == "" {
		return nil, ErrNoGroupName
	}
	if se.server.bus != nil && len(group) > cluster.MaxNameLen {
		return nil, ErrGroupNameTooLong
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.gone {
		return nil, ErrLoggedOut
	}
	g := se.server.group(group, allowMattress)
	g.add(se)
	for _, have := range se.groups {
		if have == g {
			return g, nil
		}
	}
	se.groups = append(se.groups, g)
	return g, nil
}

// Send delivers "<name> says: message" to every member of g, the sender
// too when it is one. Like Twisted's chat, it does not check that the
// sender is a member: whoever holds the group may speak in it.
func (se *Session) Send(g *Group, message string) error {
	if se == nil {
		return ErrNoSender
	}
	return g.send(se.name, message)
}

// Leave ends the session: the member leaves every group, then its
// Leave runs. Later calls do nothing.
func (se *Session) Leave() {
	se.mu.Lock()
	if se.gone {
		se.mu.Unlock()
		return
	}
	se.gone = true
	groups := se.groups
	se.groups = nil
	se.mu.Unlock()
	for _, g := range groups {
		g.remove(se)
	}
	se.member.Leave()
	se.server.log.Info("chat: user detached", "user", se.name)
}
