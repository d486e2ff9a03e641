package chat

import (
	"strings"
	"sync"
)

// Group is a chat room. Its members are sessions, whatever transport
// carries them.
type Group struct {
	Name          string
	AllowMattress bool
	server        *Server

	mu      sync.Mutex
	members []*Session
}

func (g *Group) add(se *Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m == se {
			return
		}
	}
	g.members = append(g.members, se)
}

func (g *Group) remove(se *Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, m := range g.members {
		if m == se {
			g.members = append(g.members[:i:i], g.members[i+1:]...)
			return
		}
	}
}

// Members returns the names of the members, in joining order.
func (g *Group) Members() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, len(g.members))
	for i, m := range g.members {
		out[i] = m.name
	}
	return out
}

// send delivers "<from> says: message" to every member, outside the
// group's lock.
func (g *Group) send(from, message string) error {
	if !g.AllowMattress && strings.Contains(message, "mattress") {
		return ErrForbiddenWord
	}
	line := "<" + from + "> says: " + message
	g.mu.Lock()
	members := append([]*Session(nil), g.members...)
	g.mu.Unlock()
	for _, m := range members {
		if err := m.member.Deliver(line); err != nil {
			m.member.Error(err)
		}
	}
	return nil
}
