package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gospread/spread/authd"
	"github.com/gospread/spread/cluster"
	"github.com/gospread/spread/pb"
)

// metricsFlags serve Prometheus metrics and a health check beside a
// server command.
type metricsFlags struct{ addr string }

func (m *metricsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics and health on /healthz (bind it where only operators reach it)")
}

// sources are what the metrics read: a PB server, a bus when the
// broker is in a cluster, the authd checkers a broker delegates to, and
// the authd server of `spread authd`. Any may be nil.
type sources struct {
	node   string
	pb     *pb.Server
	bus    *cluster.Bus
	authd  []*authd.Checker
	server *authd.Server
}

// endpoints serve /metrics and /healthz on --metrics, or nothing.
func (m *metricsFlags) endpoints(src sources) []endpoint {
	if m.addr == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{src: src})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", src.health)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ep := httpEndpoint(srv, m.addr, nil)
	ep.kind = "metrics"
	return []endpoint{ep}
}

// health answers 200 while the PB server is serving, else 503, with
// what it knows as JSON: {"node", "serving", "bus", "authd"}, where bus
// and authd are "connected", "unreachable" or "none" (not in a cluster;
// no authd to delegate to). authd is "unreachable" while any of the
// broker's authd servers is.
func (s sources) health(w http.ResponseWriter, r *http.Request) {
	h := struct {
		Node    string `json:"node,omitempty"`
		Serving bool   `json:"serving"`
		Bus     string `json:"bus"`
		Authd   string `json:"authd"`
	}{Node: s.node, Bus: "none", Authd: "none"}
	if s.pb != nil {
		h.Serving = s.pb.Stats().Listeners > 0
	}
	if s.bus != nil {
		h.Bus = "unreachable"
		if s.bus.Connected() {
			h.Bus = "connected"
		}
	}
	for i, c := range s.authd {
		if i == 0 {
			h.Authd = "connected"
		}
		if !c.Connected() {
			h.Authd = "unreachable"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !h.Serving {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// collector reads the plain counters of pb and cluster at each scrape.
type collector struct{ src sources }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	mConns         = desc("spread_pb_connections", "Open PB connections.")
	mLoggedIn      = desc("spread_pb_logged_in", "PB logins not yet logged out.")
	mUnauth        = desc("spread_pb_connections_not_logged_in", "Open PB connections not logged in yet.")
	mRefused       = desc("spread_pb_connections_refused_total", "PB connections closed at once for a connection cap.")
	mLogins        = desc("spread_pb_logins_total", "PB logins by result: ok, refused (wrong credentials, unknown user, store unavailable), throttled.", "result")
	mCalls         = desc("spread_pb_calls_total", "Incoming PB calls that ran (logins included).")
	mFailures      = desc("spread_pb_call_failures_total", "Incoming PB calls whose handler failed.")
	mQueued        = desc("spread_pb_queued_output_bytes", "Outgoing bytes waiting for peers to read them.")
	mServing       = desc("spread_serving", "1 while the PB server accepts connections.")
	mBusUp         = desc("spread_bus_connected", "1 while NATS is reachable.")
	mBusNodes      = desc("spread_bus_nodes", "Other live brokers.")
	mBusQueue      = desc("spread_bus_queued_messages", "Messages waiting to be published.")
	mBusCount      = desc("spread_bus_messages_total", "Bus messages by event: published, dropped (queue full), failed (refused by NATS), delivered (from other brokers), duplicate (dropped), lost (gaps).", "event")
	mBusOut        = desc("spread_bus_outages_total", "Times NATS became unreachable.")
	mBusLostN      = desc("spread_bus_nodes_lost_total", "Brokers taken for gone after falling silent.")
	mBusStates     = desc("spread_bus_states_published_total", "State messages (heartbeats) published.")
	mAuthdUp       = desc("spread_authd_connected", "1 while the broker's connection to its authentication server is up.", "authd")
	mAuthdSessions = desc("spread_authd_sessions", "Live authd sessions (user logins at authd).")
	mAuthdLive     = desc("spread_authd_tickets_live", "Tickets issued and not yet redeemed or expired.")
	mAuthdIssued   = desc("spread_authd_tickets_issued_total", "Tickets issued.")
	mAuthdRedeemed = desc("spread_authd_tickets_redeemed_total", "Tickets redeemed at a broker.")
	mBusLag        = desc("spread_bus_lag_seconds", "Time from publish on the sending broker to delivery here (sender's clock).")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mConns, mLoggedIn, mUnauth, mRefused, mLogins, mCalls, mFailures, mQueued, mServing,
		mBusUp, mBusNodes, mBusQueue, mBusCount, mBusOut, mBusLostN, mBusStates, mBusLag,
		mAuthdUp, mAuthdSessions, mAuthdLive, mAuthdIssued, mAuthdRedeemed} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if s := c.src.pb; s != nil {
		st := s.Stats()
		gauge(mServing, b2f(st.Listeners > 0))
		gauge(mConns, float64(st.Open))
		gauge(mLoggedIn, float64(st.LoggedIn))
		gauge(mUnauth, float64(st.NotLoggedIn))
		counter(mRefused, uint64(st.Refused))
		counter(mLogins, st.LoginsOK, "ok")
		counter(mLogins, st.LoginsRefused, "refused")
		counter(mLogins, st.LoginsThrottled, "throttled")
		counter(mCalls, st.Calls)
		counter(mFailures, st.CallFailures)
		gauge(mQueued, float64(st.QueuedBytes))
	}
	if b := c.src.bus; b != nil {
		st := b.Stats()
		gauge(mBusUp, b2f(st.Connected))
		gauge(mBusNodes, float64(st.Nodes))
		gauge(mBusQueue, float64(st.Queued))
		counter(mBusCount, st.Published, "published")
		counter(mBusCount, st.Dropped, "dropped")
		counter(mBusCount, st.Failed, "failed")
		counter(mBusCount, st.Delivered, "delivered")
		counter(mBusCount, st.Duplicates, "duplicate")
		counter(mBusCount, st.Lost, "lost")
		counter(mBusOut, st.Outages)
		counter(mBusLostN, st.NodesLost)
		counter(mBusStates, st.States)
		buckets := make(map[float64]uint64, len(st.Lag.Bounds))
		for i, ub := range st.Lag.Bounds {
			buckets[ub] = st.Lag.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(mBusLag, st.Lag.Count, st.Lag.Sum, buckets)
	}
	for _, a := range c.src.authd {
		gauge(mAuthdUp, b2f(a.Connected()), a.Addr())
	}
	if s := c.src.server; s != nil {
		st := s.Stats()
		gauge(mAuthdSessions, float64(st.Sessions))
		gauge(mAuthdLive, float64(st.Tickets))
		counter(mAuthdIssued, st.Issued)
		counter(mAuthdRedeemed, st.Redeemed)
	}
}
