package chat

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Group is a chat room. Its members are sessions, whatever transport
// carries them; in a cluster, the members on other brokers are reached
// through one more Member, the bus (cluster.go).
type Group struct {
	Name          string
	allowMattress atomic.Bool
	server        *Server
	remote        Member // the other brokers, or nil

	mu      sync.Mutex
	members []*Session
}

// AllowMattress reports whether the group lets members say "mattress".
// The first member to join decides; in a cluster, the first on any
// broker (see [Server.JoinCluster]).
func (g *Group) AllowMattress() bool { return g.allowMattress.Load() }

func (g *Group) add(se *Session) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m == se {
			return false
		}
	}
	g.members = append(g.members, se)
	if bus := g.server.bus; bus != nil {
		bus.AddMember(g.Name, se.name)
	}
	return true
}

func (g *Group) remove(se *Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, m := range g.members {
		if m == se {
			g.members = append(g.members[:i:i], g.members[i+1:]...)
			if bus := g.server.bus; bus != nil {
				bus.RemoveMember(g.Name, se.name)
			}
			return
		}
	}
}

// Members returns the names of the members, in joining order: those on
// this broker, then, in a cluster, those on the other live brokers.
func (g *Group) Members() []string {
	g.mu.Lock()
	out := make([]string, len(g.members))
	for i, m := range g.members {
		out[i] = m.name
	}
	g.mu.Unlock()
	if bus := g.server.bus; bus != nil {
		out = append(out, bus.Members(g.Name)...)
	}
	return out
}

// send delivers "<from> says: message" to every member, outside the
// group's lock: the local ones, then the other brokers'.
func (g *Group) send(from, message string) error {
	if !g.AllowMattress() && strings.Contains(message, "mattress") {
		return ErrForbiddenWord
	}
	line := "<" + from + "> says: " + message
	g.deliver(line)
	if g.remote != nil {
		if err := g.remote.Deliver(line); err != nil {
			g.remote.Error(err)
		}
	}
	return nil
}

// deliver hands line to the members on this broker.
func (g *Group) deliver(line string) {
	g.mu.Lock()
	members := append([]*Session(nil), g.members...)
	g.mu.Unlock()
	for _, m := range members {
		if err := m.member.Deliver(line); err != nil {
			m.member.Error(err)
		}
	}
}
