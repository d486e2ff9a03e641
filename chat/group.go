package chat

import (
	"context"
	"strings"
	"sync"

	"github.com/gospread/spread/pb"
)

// Group is a chat room. It travels as a Viewable: each member calls it
// through its own view point, and ViewSend learns who is speaking.
type Group struct {
	pb.Viewable
	Name          string
	AllowMattress bool
	server        *Server

	mu      sync.Mutex
	members []*User
}

func (g *Group) add(u *User) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m == u {
			return
		}
	}
	g.members = append(g.members, u)
}

func (g *Group) remove(u *User) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, m := range g.members {
		if m == u {
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
		out[i] = m.Name
	}
	return out
}

// ViewSend delivers "<from> says: message" to every member.
func (g *Group) ViewSend(ctx context.Context, from *User, message string) error {
	if from == nil {
		return pb.Errorf("twisted.spread.pb.Error", "only members can send")
	}
	if !g.AllowMattress && strings.Contains(message, "mattress") {
		return pb.ValueError("Don't say that word")
	}
	line := "<" + from.Name + "> says: " + message
	g.mu.Lock()
	members := append([]*User(nil), g.members...)
	g.mu.Unlock()
	for _, m := range members {
		m.deliver(line)
	}
	return nil
}
