package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cluster"
)

// clusterFlags join a chat server to other brokers through NATS.
type clusterFlags struct {
	urls string
	node string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.urls, "cluster", "", "join the brokers that share these NATS servers: nats://HOST:PORT[,nats://...]")
	fs.StringVar(&c.node, "node", "", "this broker's name, unique in the cluster and on every log line (default: host name and process id)")
}

// servers parses --cluster.
func (c *clusterFlags) servers() ([]string, error) {
	var out []string
	for _, u := range strings.Split(c.urls, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" {
			return nil, fmt.Errorf("--cluster: %q is not a nats://HOST:PORT URL", u)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--cluster: no NATS URL")
	}
	return out, nil
}

// nodeName is --node, or the host name and process id.
func (c *clusterFlags) nodeName() string {
	if c.node != "" {
		return c.node
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "spread"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// logNode is the node's name when the broker has one (--node or
// --cluster), else "".
func (c *clusterFlags) logNode() string {
	if c.node == "" && c.urls == "" {
		return ""
	}
	return c.nodeName()
}

// logger adds the node's name to every line, when the broker has one
// (--node or --cluster).
func (c *clusterFlags) logger(log *slog.Logger) *slog.Logger {
	if c.logNode() == "" {
		return log
	}
	return slog.New(nodeHandler{log.Handler(), c.nodeName()})
}

// join connects server to the cluster when --cluster is set. The
// returned close, to run after the PB server has stopped, tells the
// other brokers that this one leaves.
func (c *clusterFlags) join(server *chat.Server, log *slog.Logger) (*cluster.Bus, func(), error) {
	if c.urls == "" {
		return nil, func() {}, nil
	}
	servers, err := c.servers()
	if err != nil {
		return nil, nil, err
	}
	bus, err := server.JoinCluster(&cluster.Config{Servers: servers, Node: c.nodeName(), Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return bus, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		bus.Close(ctx)
	}, nil
}

// nodeHandler appends node=NAME to every record, after the record's own
// attributes (so that "msg=... addr=..." keeps its shape).
type nodeHandler struct {
	slog.Handler
	node string
}

func (h nodeHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(slog.String("node", h.node))
	return h.Handler.Handle(ctx, r)
}

func (h nodeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return nodeHandler{h.Handler.WithAttrs(as), h.node}
}

func (h nodeHandler) WithGroup(name string) slog.Handler {
	return nodeHandler{h.Handler.WithGroup(name), h.node}
}
