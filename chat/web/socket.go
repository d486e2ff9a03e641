package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/guard"
)

// WebSocket close statuses of the chat.
const (
	statusSessionEnded websocket.StatusCode = 4001 // logout, expiry, Close
	statusTooSlow                           = websocket.StatusPolicyViolation
)

// errTooSlow: a browser's queue of frames is full.
var errTooSlow = errors.New("chat/web: the browser does not read fast enough")

// inFrame is a frame from the page.
type inFrame struct {
	Type          string `json:"type"`
	Group         string `json:"group"`
	AllowMattress bool   `json:"allowMattress"`
	Message       string `json:"message"`
}

// outFrame is a frame to the page.
type outFrame struct {
	Type          string   `json:"type"`
	User          string   `json:"user,omitempty"`
	Group         string   `json:"group,omitempty"`
	AllowMattress *bool    `json:"allowMattress,omitempty"`
	Members       []string `json:"members,omitempty"`
	Text          string   `json:"text,omitempty"`
}

// socket is one browser's WebSocket: one chat member.
type socket struct {
	chat *Chat
	ws   *websocket.Conn
	name string
	out  chan []byte

	once      sync.Once
	closed    chan struct{} // closed by kill
	closeDone chan struct{} // the closing handshake is over

	mu      sync.Mutex
	session *chat.Session
	group   *chat.Group
	shown   []string // the member list the page was last sent
	gone    bool     // closed: joins are refused
}

// serveSocket upgrades a request of the guard's session to the chat's
// WebSocket and serves it until either side closes it or the session
// ends.
func (a *avatar) serveSocket(w http.ResponseWriter, r *http.Request) {
	c := a.chat
	info, ok := guard.FromContext(r.Context())
	if !ok {
		http.Error(w, "chat/web: the chat is served behind a guard", http.StatusInternalServerError)
		return
	}
	if why := c.crossOrigin(r); why != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "chat/web: cross-origin WebSocket refused: "+why, http.StatusForbidden)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: c.originPatterns()})
	if err != nil {
		// Accept has answered the request.
		c.cfg.Logger.Debug("chat/web: upgrade refused", "err", err)
		return
	}
	c.sockets.Add(1)
	defer c.sockets.Done()
	ws.SetReadLimit(int64(c.cfg.MaxFrameBytes))
	s := &socket{
		chat:      c,
		ws:        ws,
		name:      c.server.MemberName(a.id),
		out:       make(chan []byte, c.cfg.SendQueue),
		closed:    make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if !a.add(s) {
		ws.Close(statusSessionEnded, "session ended")
		return
	}
	defer a.remove(s)
	// The session's end closes the socket (the avatar's logout does
	// too; whichever comes first).
	go func() {
		select {
		case <-info.Done:
			s.kill(statusSessionEnded, "session ended")
		case <-s.closed:
		}
	}()

	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		s.writeLoop(ctx)
	}()
	go s.pingLoop(ctx)
	s.send(outFrame{Type: "hello", User: s.name})
	s.readLoop(ctx)
	s.kill(websocket.StatusNormalClosure, "")
	<-wrote
	<-s.closeDone
}

// crossOrigin returns why r is a cross-origin upgrade, or "".
func (c *Chat) crossOrigin(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		if !c.trusted(r.Header.Get("Origin")) {
			return "Sec-Fetch-Site is " + site
		}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "" // not a browser; the session cookie still had to be sent
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if strings.EqualFold(origin, scheme+"://"+r.Host) || c.trusted(origin) {
		return ""
	}
	return "Origin does not match"
}

func (c *Chat) trusted(origin string) bool {
	origin = strings.ToLower(origin)
	for _, o := range c.cfg.TrustedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// originPatterns are the trusted origins for websocket.Accept's own
// check (which compares hosts).
func (c *Chat) originPatterns() []string {
	return c.cfg.TrustedOrigins
}

// kill closes the socket once, with status and reason. The member
// leaves its group first, so that the group is told before the page.
func (s *socket) kill(status websocket.StatusCode, reason string) {
	s.once.Do(func() {
		close(s.closed)
		s.leave()
		go func() {
			defer close(s.closeDone)
			s.ws.Close(status, reason)
		}()
	})
}

// send queues a frame for the page without waiting; a full queue
// closes the socket.
func (s *socket) send(f outFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	select {
	case <-s.closed:
		return chat.ErrLoggedOut
	default:
	}
	select {
	case s.out <- b:
		return nil
	default:
		s.kill(statusTooSlow, "too slow")
		return errTooSlow
	}
}

func (s *socket) writeLoop(ctx context.Context) {
	for {
		select {
		case <-s.closed:
			return
		case b := <-s.out:
			wctx, cancel := context.WithTimeout(ctx, s.chat.cfg.WriteTimeout)
			err := s.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				s.kill(websocket.StatusGoingAway, "write failed")
				return
			}
		}
	}
}

// pingLoop pings the browser every PingInterval; a browser that does
// not answer within WriteTimeout is gone.
func (s *socket) pingLoop(ctx context.Context) {
	t := time.NewTicker(s.chat.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.chat.cfg.WriteTimeout)
			err := s.ws.Ping(pctx)
			cancel()
			if err != nil {
				s.kill(websocket.StatusGoingAway, "no answer to ping")
				return
			}
		}
	}
}

func (s *socket) readLoop(ctx context.Context) {
	for {
		typ, b, err := s.ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			s.sendError("chat/web: frames are JSON text")
			continue
		}
		var f inFrame
		if err := json.Unmarshal(b, &f); err != nil {
			s.sendError("chat/web: malformed frame")
			continue
		}
		switch f.Type {
		case "join":
			s.join(f.Group, f.AllowMattress)
		case "send":
			s.say(f.Message)
		default:
			s.sendError("chat/web: unknown frame type")
		}
	}
}

func (s *socket) sendError(text string) { s.send(outFrame{Type: "error", Text: text}) }

// chatError is the text the page shows for a chat error: the chat's
// own message ("Don't say that word"), without the package prefix.
func chatError(err error) string {
	var ce chat.Error
	if errors.As(err, &ce) {
		return string(ce)
	}
	return err.Error()
}

// join puts the socket in a group, leaving the one it was in.
func (s *socket) join(name string, allowMattress bool) {
	if len(name) > MaxGroupNameBytes {
		s.sendError("a group name is at most " + itoa(MaxGroupNameBytes) + " bytes")
		return
	}
	if name == "" {
		s.sendError(chatError(chat.ErrNoGroupName))
		return
	}
	s.mu.Lock()
	if s.group != nil && s.group.Name == name {
		g := s.group
		s.mu.Unlock()
		s.sendJoined(g)
		return
	}
	old := s.session
	s.session, s.group, s.shown = nil, nil, nil
	s.mu.Unlock()
	if old != nil {
		og := s.chat.members.remove(s)
		old.Leave()
		if og != nil {
			s.chat.members.refresh(og)
		}
	}
	m := &member{sock: s, group: name}
	se := s.chat.server.Attach(s.name, m)
	g, err := se.Join(name, allowMattress)
	if err != nil {
		se.Leave()
		s.sendError(chatError(err))
		return
	}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		se.Leave()
		return
	}
	s.session, s.group = se, g
	s.mu.Unlock()
	s.sendJoined(g)
	s.chat.members.add(s, g)
	s.mu.Lock()
	gone := s.gone
	s.mu.Unlock()
	if gone { // closed meanwhile: leave sets gone before it stops watching
		s.chat.members.remove(s)
	}
}

func (s *socket) sendJoined(g *chat.Group) {
	members := g.Members()
	s.mu.Lock()
	s.shown = members
	s.mu.Unlock()
	allow := g.AllowMattress()
	s.send(outFrame{Type: "joined", Group: g.Name, AllowMattress: &allow, Members: members})
}

// say sends a message to the socket's group.
func (s *socket) say(message string) {
	if len(message) > s.chat.cfg.MaxMessageBytes {
		s.sendError("a message is at most " + itoa(s.chat.cfg.MaxMessageBytes) + " bytes")
		return
	}
	if !utf8.ValidString(message) {
		s.sendError("a message must be UTF-8 text")
		return
	}
	s.mu.Lock()
	se, g := s.session, s.group
	s.mu.Unlock()
	if g == nil {
		s.sendError("join a group first")
		return
	}
	if err := se.Send(g, message); err != nil {
		s.sendError(chatError(err))
	}
}

// leave ends the socket's chat session.
func (s *socket) leave() {
	s.mu.Lock()
	se := s.session
	s.session, s.group, s.gone = nil, nil, true
	s.mu.Unlock()
	g := s.chat.members.remove(s)
	if se != nil {
		se.Leave()
	}
	if g != nil {
		s.chat.members.refresh(g)
	}
}

// showMembers sends the group's member list when it differs from the
// one the page has.
func (s *socket) showMembers(g *chat.Group, members []string) {
	s.mu.Lock()
	if s.group != g || equal(s.shown, members) {
		s.mu.Unlock()
		return
	}
	s.shown = members
	s.mu.Unlock()
	s.send(outFrame{Type: "members", Group: g.Name, Members: members})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// member is the chat member of one socket in one group.
type member struct {
	sock  *socket
	group string

	mu   sync.Mutex
	gone bool
}

// Deliver queues the line for the page.
func (m *member) Deliver(line string) error {
	m.mu.Lock()
	gone := m.gone
	m.mu.Unlock()
	if gone {
		return nil // a line of a group this socket has left
	}
	return m.sock.send(outFrame{Type: "line", Group: m.group, Text: line})
}

// Error tells the page; a socket closed as too slow is not told.
func (m *member) Error(err error) {
	if errors.Is(err, errTooSlow) || errors.Is(err, chat.ErrLoggedOut) {
		return
	}
	m.sock.sendError(chatError(err))
}

// Leave marks the member gone: later lines of its group are dropped.
func (m *member) Leave() {
	m.mu.Lock()
	m.gone = true
	m.mu.Unlock()
}
