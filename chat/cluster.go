package chat

import (
	"encoding/json"

	"github.com/gospread/spread/cluster"
)

// The chat across brokers. A server that joined a cluster opens each of
// its groups on the bus: a line sent on this broker goes to the local
// members and, through one more Member (busMember), to the group's
// subject on NATS; lines from other brokers reach the local members
// only. Members lists add the members that the other live brokers
// announce. A group's allowMattress is the first creator's on any broker
// (the bus agrees on it: see package cluster).

// JoinCluster connects the server to the other brokers through NATS, as
// cfg says, and returns the bus (for its Stats and Close; close it after
// the PB server has shut down, so that the logouts reach the others).
// Call it before the server has groups, that is before serving. It does
// not wait for NATS: a broker serves its own members while the bus is
// absent.
func (s *Server) JoinCluster(cfg *cluster.Config) (*cluster.Bus, error) {
	c := cluster.Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Logger == nil {
		c.Logger = s.log
	}
	bus, err := cluster.New(&c, clusterHandler{s})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.bus = bus
	s.mu.Unlock()
	return bus, nil
}

// Bus returns the server's bus, or nil when it serves alone.
func (s *Server) Bus() *cluster.Bus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bus
}

type groupOptions struct {
	AllowMattress bool `json:"allowMattress"`
}

func encodeOptions(allowMattress bool) []byte {
	b, _ := json.Marshal(groupOptions{AllowMattress: allowMattress})
	return b
}

func decodeOptions(b []byte, fallback bool) bool {
	o := groupOptions{AllowMattress: fallback}
	if len(b) > 0 {
		json.Unmarshal(b, &o)
	}
	return o.AllowMattress
}

// clusterHandler receives what the other brokers send.
type clusterHandler struct{ s *Server }

func (h clusterHandler) Deliver(group, from string, payload []byte) {
	if g := h.s.Group(group); g != nil {
		g.deliver(string(payload))
	}
}

func (h clusterHandler) Options(group string, options []byte) {
	if g := h.s.Group(group); g != nil {
		g.allowMattress.Store(decodeOptions(options, g.AllowMattress()))
	}
}

// busMember is the other brokers, as one member of a group: what it is
// given goes once to the group's subject, whatever the number of
// members there.
type busMember struct {
	s     *Server
	group string
}

// Deliver publishes line to the other brokers without waiting.
func (m *busMember) Deliver(line string) error {
	return m.s.bus.Publish(m.group, []byte(line))
}

// Error logs a line that could not be published (the bus logs the
// outage itself, once).
func (m *busMember) Error(err error) {
	m.s.log.Debug("chat: line not passed to other brokers", "group", m.group, "err", err)
}

// Leave does nothing: the bus stays for the group's lifetime.
func (m *busMember) Leave() {}
