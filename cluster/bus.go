package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Handler is what a Bus calls when other nodes speak. A higher package
// (the chat) implements it.
type Handler interface {
	// Deliver hands over a message that node from published to group, a
	// group this node has opened: each message once, in the order its
	// sender published it. Calls come from one goroutine, one at a
	// time, and must not block for long (the chat queues the line for
	// each local member).
	Deliver(group, from string, payload []byte)
	// Options tells that the agreed options of an open group are now
	// options: another node created the group first.
	Options(group string, options []byte)
}

// Bus is one broker's connection to the others. Its methods are safe for
// concurrent use and never wait for NATS.
type Bus struct {
	cfg      *settings
	log      logger
	h        Handler
	nc       *nats.Conn
	inc      uint64
	stateSub string

	out       chan outgoing
	in        chan *nats.Msg
	kick      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closed    atomic.Bool
	closeOnce sync.Once

	// gate is closed while messages may go to NATS; after an outage it
	// opens once the nodes known before have been heard again (their
	// subscriptions are back), or after Timeout.
	gateMu  sync.Mutex
	gate    chan struct{}
	waitFor map[string]bool
	gateGen int

	mu       sync.Mutex
	groups   map[string]*localGroup
	subjects map[string]string // group subject -> group
	nodes    map[string]*remoteNode
	last     map[streamKey]uint64

	st counters
}

type outgoing struct {
	group   string
	payload []byte
	sent    int64
}

type localGroup struct {
	opts    []byte
	stamp   stamp
	members []string // in joining order; a name joined twice is there twice
	sub     *nats.Subscription
}

type remoteNode struct {
	inc    uint64
	seen   time.Time
	groups map[string]stateGroup
}

type streamKey struct {
	node  string
	inc   uint64
	group string
}

func defaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "node"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// New connects to NATS and starts the bus. It returns at once, even when
// NATS is unreachable: the client keeps trying and the bus works for
// local callers meanwhile. Only a malformed configuration is an error.
// h receives what other nodes send; Close stops the bus.
func New(cfg *Config, h Handler) (*Bus, error) {
	s := resolve(cfg, defaultNode)
	b := &Bus{
		cfg:      s,
		log:      logger{s.log},
		h:        h,
		inc:      rand.Uint64() | 1,
		stateSub: s.Prefix + ".state",
		out:      make(chan outgoing, s.MaxQueued),
		in:       make(chan *nats.Msg, 65536),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		groups:   map[string]*localGroup{},
		subjects: map[string]string{},
		nodes:    map[string]*remoteNode{},
		last:     map[streamKey]uint64{},
	}
	b.st.init()
	b.gate = make(chan struct{})
	if strings.ContainsAny(s.Prefix, " \t\r\n*>") || strings.HasSuffix(s.Prefix, ".") || strings.HasPrefix(s.Prefix, ".") {
		return nil, fmt.Errorf("cluster: bad subject prefix %q", s.Prefix)
	}
	servers := strings.Join(s.Servers, ",")
	nc, err := nats.Connect(servers,
		nats.Name("spread "+s.Node),
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(s.ReconnectBuffer),
		nats.PingInterval(2*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(c *nats.Conn) {
			b.st.connected.Store(true)
			b.log.Info("cluster: NATS reachable: cross-broker delivery running", "nats", c.ConnectedUrlRedacted())
			b.reopen()
			b.announce()
		}),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			b.st.connected.Store(false)
			if b.closed.Load() {
				return
			}
			b.shut()
			b.st.outages.Add(1)
			b.log.Error("cluster: NATS unreachable: cross-broker delivery paused; local members are still served; reconnecting",
				"err", errText(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.st.connected.Store(true)
			b.log.Info("cluster: NATS reachable again: cross-broker delivery resumed", "nats", c.ConnectedUrlRedacted())
			b.reopen()
			b.announce()
		}),
		nats.ErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
			b.log.Warn("cluster: NATS error", "err", errText(err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	b.nc = nc
	if nc.IsConnected() {
		b.reopen()
		b.st.connected.Store(true)
		b.log.Info("cluster: connected to NATS", "nats", nc.ConnectedUrlRedacted(), "node", s.Node)
	} else {
		b.log.Error("cluster: NATS unreachable: serving local members only until it answers; retrying",
			"nats", redact(s.Servers), "node", s.Node)
	}
	if _, err := nc.ChanSubscribe(b.stateSub, b.in); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	b.wg.Add(3)
	go b.publisher()
	go b.receiver()
	go b.stateLoop()
	b.announce()
	return b, nil
}

func errText(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// redact drops user information from URLs for the log.
func redact(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if p := strings.Index(u, "://"); p >= 0 && p < at {
				u = u[:p+3] + "[redacted]" + u[at:]
			}
		}
		out[i] = u
	}
	return strings.Join(out, ",")
}

// Node returns this node's name.
func (b *Bus) Node() string { return b.cfg.Node }

// Connected reports whether NATS is reachable now (as the client last
// found it: this never waits for the client, and a server that hangs
// counts as reachable until the client's pings time out).
func (b *Bus) Connected() bool { return b.st.connected.Load() }

func (b *Bus) subject(group string) string { return b.cfg.Prefix + ".g." + token(group) }

// Open makes group known on this node: the bus subscribes to its
// messages and announces it. It returns the group's agreed options: those
// of the node that created it first, as far as this node knows, else
// options. Opening a group again returns its current options.
func (b *Bus) Open(group string, options []byte) ([]byte, error) {
	if group == "" || len(group) > MaxNameLen {
		return nil, ErrBadName
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if lg := b.groups[group]; lg != nil {
		return slices.Clone(lg.opts), nil
	}
	st, opts := stamp{Time: time.Now().UnixNano(), Node: b.cfg.Node}, options
	for _, n := range b.nodes {
		if g, ok := n.groups[group]; ok && g.Stamp.before(st) {
			st, opts = g.Stamp, g.Options
		}
	}
	lg := &localGroup{opts: slices.Clone(opts), stamp: st}
	subj := b.subject(group)
	sub, err := b.nc.ChanSubscribe(subj, b.in)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to group %q: %w", group, err)
	}
	lg.sub = sub
	b.groups[group] = lg
	b.subjects[subj] = group
	b.announce()
	return slices.Clone(lg.opts), nil
}

// Options returns the agreed options of an open group.
func (b *Bus) Options(group string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lg := b.groups[group]
	if lg == nil {
		return nil, false
	}
	return slices.Clone(lg.opts), true
}

// AddMember announces that name (a member on this node) joined group,
// opening the group with nil options if it is not open.
func (b *Bus) AddMember(group, name string) error {
	if _, err := b.Open(group, nil); err != nil {
		return err
	}
	b.mu.Lock()
	lg := b.groups[group]
	lg.members = append(lg.members, name)
	b.mu.Unlock()
	b.announce()
	return nil
}

// RemoveMember announces that name left group (one AddMember undone).
func (b *Bus) RemoveMember(group, name string) {
	b.mu.Lock()
	lg := b.groups[group]
	if lg != nil {
		if i := slices.Index(lg.members, name); i >= 0 {
			lg.members = slices.Delete(lg.members, i, i+1)
		}
	}
	b.mu.Unlock()
	b.announce()
}

// Members returns the names of group's members on the other live nodes,
// node by node in name order, each node's in joining order.
func (b *Bus) Members(group string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.nodes))
	for n := range b.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		out = append(out, b.nodes[n].groups[group].Members...)
	}
	return out
}

// Nodes returns the names of the other live nodes, sorted.
func (b *Bus) Nodes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.nodes))
	for n := range b.nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Publish queues payload for group's members on the other nodes and
// returns at once. A full queue refuses it with ErrQueueFull.
func (b *Bus) Publish(group string, payload []byte) error {
	if b.closed.Load() {
		return ErrClosed
	}
	select {
	case b.out <- outgoing{group: group, payload: payload, sent: time.Now().UnixNano()}:
		return nil
	default:
		b.st.dropped.Add(1)
		b.log.every(&b.st.lastDropLog, time.Second, "cluster: outgoing queue full: messages to other brokers dropped",
			"queued_max", b.cfg.MaxQueued, "dropped_total", b.st.dropped.Load())
		return ErrQueueFull
	}
}

// announce asks the state loop to publish this node's state soon.
func (b *Bus) announce() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// publisher hands queued messages to NATS, numbering them per group.
func (b *Bus) publisher() {
	defer b.wg.Done()
	seqs := map[string]uint64{}
	subjects := map[string]string{}
	var buf []byte
	publish := func(m outgoing) {
		subj := subjects[m.group]
		if subj == "" {
			subj = b.subject(m.group)
			subjects[m.group] = subj
		}
		seqs[m.group]++
		e := envelope{node: b.cfg.Node, inc: b.inc, seq: seqs[m.group], sent: m.sent, payload: m.payload}
		buf = e.append(buf[:0])
		if err := b.nc.Publish(subj, buf); err != nil {
			b.st.failed.Add(1)
			b.log.every(&b.st.lastFailLog, time.Second, "cluster: publish failed: message to other brokers lost",
				"err", err, "failed_total", b.st.failed.Load())
			return
		}
		b.st.published.Add(1)
	}
	for {
		select {
		case m := <-b.out:
			select {
			case <-b.gateChan():
			case <-b.done:
				publish(m) // into the reconnect buffer, for Close
				continue
			}
			publish(m)
		case <-b.done:
			for {
				select {
				case m := <-b.out:
					publish(m)
				default:
					return
				}
			}
		}
	}
}

// receiver handles what NATS delivers, one message at a time.
func (b *Bus) receiver() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case m := <-b.in:
			if m.Subject == b.stateSub {
				b.onState(m.Data)
			} else {
				b.onMessage(m)
			}
		}
	}
}

func (b *Bus) onMessage(m *nats.Msg) {
	e, err := parseEnvelope(m.Data)
	if err != nil {
		b.st.malformed.Add(1)
		b.log.every(&b.st.lastBadLog, time.Second, "cluster: malformed message ignored", "subject", m.Subject)
		return
	}
	b.mu.Lock()
	group, ok := b.subjects[m.Subject]
	if !ok || (e.node == b.cfg.Node && e.inc == b.inc) {
		b.mu.Unlock()
		return
	}
	key := streamKey{e.node, e.inc, group}
	last := b.last[key]
	if e.seq <= last {
		b.mu.Unlock()
		b.st.duplicates.Add(1)
		return
	}
	b.last[key] = e.seq
	b.mu.Unlock()
	if last != 0 && e.seq > last+1 {
		n := e.seq - last - 1
		b.st.lost.Add(n)
		b.log.Warn("cluster: messages from another broker were lost in transit", "from", e.node, "group", group, "lost", n)
	}
	b.st.observeLag(time.Now().UnixNano() - e.sent)
	b.st.delivered.Add(1)
	b.h.Deliver(group, e.node, e.payload)
}

type optionChange struct {
	group string
	opts  []byte
}

func (b *Bus) onState(data []byte) {
	var st state
	if err := json.Unmarshal(data, &st); err != nil || st.Node == "" {
		b.st.malformed.Add(1)
		b.log.every(&b.st.lastBadLog, time.Second, "cluster: malformed state ignored")
		return
	}
	if st.Node == b.cfg.Node {
		if st.Inc != b.inc {
			b.log.every(&b.st.lastDupNodeLog, 10*time.Second,
				"cluster: another broker uses this node's name: give each broker its own --node")
		}
		return
	}
	b.mu.Lock()
	n := b.nodes[st.Node]
	if st.Bye {
		if n != nil && n.inc == st.Inc {
			delete(b.nodes, st.Node)
			b.mu.Unlock()
			b.log.Info("cluster: broker left", "broker", st.Node)
			return
		}
		b.mu.Unlock()
		return
	}
	fresh := n == nil || n.inc != st.Inc
	if n != nil && n.inc != st.Inc {
		for k := range b.last {
			if k.node == st.Node && k.inc == n.inc {
				delete(b.last, k)
			}
		}
	}
	groups := make(map[string]stateGroup, len(st.Groups))
	var changes []optionChange
	for _, g := range st.Groups {
		groups[g.Name] = g
		if lg := b.groups[g.Name]; lg != nil && g.Stamp.before(lg.stamp) {
			lg.stamp, lg.opts = g.Stamp, slices.Clone(g.Options)
			changes = append(changes, optionChange{g.Name, slices.Clone(g.Options)})
		}
	}
	b.nodes[st.Node] = &remoteNode{inc: st.Inc, seen: time.Now(), groups: groups}
	b.mu.Unlock()
	b.heard(st.Node)
	if fresh {
		b.log.Info("cluster: broker joined", "broker", st.Node)
	}
	for _, c := range changes {
		b.log.Info("cluster: group options agreed: another broker created the group first", "group", c.group)
		b.h.Options(c.group, c.opts)
	}
	if fresh || len(changes) > 0 {
		b.announce()
	}
}

// stateLoop publishes this node's state when it changes and every
// heartbeat, and forgets silent nodes.
func (b *Bus) stateLoop() {
	defer b.wg.Done()
	beat := time.NewTicker(b.cfg.Heartbeat)
	defer beat.Stop()
	reap := time.NewTicker(max(b.cfg.Timeout/8, 10*time.Millisecond))
	defer reap.Stop()
	var soon *time.Timer
	var soonC <-chan time.Time
	for {
		select {
		case <-b.done:
			if soon != nil {
				soon.Stop()
			}
			return
		case <-b.kick:
			if soonC == nil {
				soon = time.NewTimer(b.cfg.StateDelay)
				soonC = soon.C
			}
		case <-soonC:
			soonC = nil
			b.publishState(false)
		case <-beat.C:
			b.publishState(false)
		case <-reap.C:
			b.reap()
		}
	}
}

func (b *Bus) publishState(bye bool) {
	if !b.st.connected.Load() {
		return // the reconnect handler announces the state again
	}
	st := state{Node: b.cfg.Node, Inc: b.inc, Bye: bye}
	if !bye {
		b.mu.Lock()
		st.Groups = make([]stateGroup, 0, len(b.groups))
		for name, lg := range b.groups {
			st.Groups = append(st.Groups, stateGroup{Name: name, Options: lg.opts, Stamp: lg.stamp, Members: slices.Clone(lg.members)})
		}
		b.mu.Unlock()
	}
	data, err := json.Marshal(&st)
	if err != nil {
		return
	}
	if err := b.nc.Publish(b.stateSub, data); err != nil {
		b.log.every(&b.st.lastFailLog, time.Second, "cluster: publishing this broker's state failed", "err", err, "bytes", len(data))
		return
	}
	b.st.states.Add(1)
}

func (b *Bus) reap() {
	now := time.Now()
	var gone []string
	b.mu.Lock()
	for name, n := range b.nodes {
		if now.Sub(n.seen) > b.cfg.Timeout {
			delete(b.nodes, name)
			gone = append(gone, name)
		}
	}
	b.mu.Unlock()
	for _, name := range gone {
		b.st.nodesLost.Add(1)
		b.log.Warn("cluster: broker silent: taken for gone, its members leave the groups", "broker", name, "silent_for", b.cfg.Timeout)
	}
}

// Close tells the other nodes that this one leaves, publishes what is
// still queued (within ctx), and disconnects.
func (b *Bus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed.Store(true)
		b.mu.Unlock()
		close(b.done)
		b.wg.Wait()
		b.publishState(true)
		if b.st.connected.Load() {
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			b.nc.FlushWithContext(fctx)
			cancel()
		}
		b.nc.Close()
	})
	return nil
}

// gateChan returns the channel that is closed while publishing may go on.
func (b *Bus) gateChan() <-chan struct{} {
	b.gateMu.Lock()
	defer b.gateMu.Unlock()
	return b.gate
}

// shut holds outgoing messages back (NATS is gone) until reopen: they
// wait in the bounded queue rather than in the client's buffer, which
// would send them before the other nodes have subscribed again.
func (b *Bus) shut() {
	b.gateMu.Lock()
	defer b.gateMu.Unlock()
	select {
	case <-b.gate:
	default:
		return // already shut
	}
	b.gate = make(chan struct{})
	b.gateGen++
	b.mu.Lock()
	b.waitFor = make(map[string]bool, len(b.nodes))
	for n := range b.nodes {
		b.waitFor[n] = true
	}
	b.mu.Unlock()
}

// reopen lets held messages go once every node known before the outage
// has been heard again, or after Timeout.
func (b *Bus) reopen() {
	b.gateMu.Lock()
	defer b.gateMu.Unlock()
	select {
	case <-b.gate:
		return
	default:
	}
	if len(b.waitFor) == 0 {
		close(b.gate)
		return
	}
	gen := b.gateGen
	time.AfterFunc(b.cfg.Timeout, func() {
		b.gateMu.Lock()
		defer b.gateMu.Unlock()
		if b.gateGen == gen && b.st.connected.Load() {
			select {
			case <-b.gate:
			default:
				close(b.gate)
			}
		}
	})
}

// heard notes a state from node: the gate may open.
func (b *Bus) heard(node string) {
	b.gateMu.Lock()
	defer b.gateMu.Unlock()
	if b.waitFor == nil || !b.waitFor[node] {
		return
	}
	delete(b.waitFor, node)
	if len(b.waitFor) > 0 || !b.st.connected.Load() {
		return
	}
	select {
	case <-b.gate:
	default:
		close(b.gate)
	}
}
