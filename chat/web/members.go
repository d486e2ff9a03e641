package web

import (
	"sync"
	"time"

	"github.com/gospread/spread/chat"
)

// watcher keeps the pages' member lists current. A browser's join or
// leave refreshes the lists of its group at once; members of other
// transports are seen by comparing each watched group's members every
// interval. Its goroutine runs only while some socket is in a group.
type watcher struct {
	interval time.Duration

	mu      sync.Mutex
	socks   map[*socket]*chat.Group
	running bool
}

func newWatcher(interval time.Duration) *watcher {
	return &watcher{interval: interval, socks: map[*socket]*chat.Group{}}
}

func (w *watcher) add(s *socket, g *chat.Group) {
	w.mu.Lock()
	w.socks[s] = g
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.loop()
	}
	w.refresh(g)
}

// remove stops watching for s and returns the group it was in, or nil.
// The caller refreshes that group once s has left it.
func (w *watcher) remove(s *socket) *chat.Group {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.socks[s]
	delete(w.socks, s)
	return g
}

// refresh sends g's members to every socket in g whose page shows
// another list.
func (w *watcher) refresh(g *chat.Group) {
	members := g.Members()
	w.mu.Lock()
	var socks []*socket
	for s, sg := range w.socks {
		if sg == g {
			socks = append(socks, s)
		}
	}
	w.mu.Unlock()
	for _, s := range socks {
		s.showMembers(g, members)
	}
}

func (w *watcher) loop() {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.socks) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		groups := map[*chat.Group]bool{}
		for _, g := range w.socks {
			groups[g] = true
		}
		w.mu.Unlock()
		for g := range groups {
			w.refresh(g)
		}
	}
}
