package main

import (
	"context"
	"fmt"
	"net/rpc"
	"os"
	"path/filepath"
	"runtime/pprof"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gospread/spread/pb"
)

type shape struct {
	name            string
	conns, inflight int
}

var shapes = []shape{{"1x1", 1, 1}, {"1x100", 1, 100}, {"4x25", 4, 25}}

// callSystem is one client/server pair of the call benchmark.
type callSystem struct {
	name   string
	desc   string
	server string // spread, twisted, grpc, netrpc
	client string // go-pb, py, grpc, netrpc
}

var callSystems = []callSystem{
	{"go-spread", "Go client -> Spread server", "spread", "go-pb"},
	{"go-twisted", "Go client -> Twisted server", "twisted", "go-pb"},
	{"py-twisted", "Twisted client -> Twisted server", "twisted", "py"},
	{"py-spread", "Twisted client -> Spread server", "spread", "py"},
	{"grpc", "gRPC-Go unary echo", "grpc", "grpc"},
	{"netrpc", "net/rpc echo (gob)", "netrpc", "netrpc"},
}

// clientProfile starts a CPU profile of the harness (the Go clients)
// when --profile is set; the returned function stops it.
func (o *options) clientProfile(name string) func() {
	if o.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(o.profileDir, name+".pprof"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func (o *options) profileArgs(name string) []string {
	if o.profileDir == "" {
		return nil
	}
	return []string{"-cpuprofile", filepath.Join(o.profileDir, name+".pprof"),
		"-memprofile", filepath.Join(o.profileDir, name+".heap")}
}

// startEchoServer starts the echo server of a system.
func startEchoServer(ctx context.Context, o *options, kind, profName string) (*server, error) {
	switch kind {
	case "spread":
		return startServer(ctx, "spread echo server", o.benchDir,
			append([]string{o.self, "serve", "-kind", "echo"}, o.profileArgs(profName)...)...)
	case "twisted":
		return startServer(ctx, "twisted echo_server.py", o.benchDir,
			o.python, "-u", filepath.Join(o.benchDir, "..", "internal", "pypeer", "py", "echo_server.py"), "0")
	case "grpc":
		return startServer(ctx, "grpc echo server", o.benchDir,
			append([]string{o.self, "serve", "-kind", "grpc"}, o.profileArgs(profName)...)...)
	case "netrpc":
		return startServer(ctx, "net/rpc echo server", o.benchDir,
			append([]string{o.self, "serve", "-kind", "netrpc"}, o.profileArgs(profName)...)...)
	}
	return nil, fmt.Errorf("unknown server %q", kind)
}

// goWorkers opens sh.conns client connections of the given kind and
// returns sh.conns*sh.inflight blocking call functions and a closer.
func goWorkers(ctx context.Context, o *options, client, addr string, sh shape) ([]func() error, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var workers []func() error
	payload := o.payload
	for c := 0; c < sh.conns; c++ {
		var call func() error
		switch client {
		case "go-pb":
			b, err := pb.Dial(ctx, addr, nil)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			closers = append(closers, func() { b.Close() })
			root := b.Root()
			call = func() error {
				v, err := root.CallRemote(ctx, "echo", payload)
				if err != nil {
					return err
				}
				if s, ok := v.(string); !ok || s != payload {
					return fmt.Errorf("echo returned %#v", v)
				}
				return nil
			}
		case "grpc":
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			closers = append(closers, func() { cc.Close() })
			call = func() error {
				in := wrapperspb.String(payload)
				out := new(wrapperspb.StringValue)
				if err := cc.Invoke(ctx, grpcEchoMethod, in, out); err != nil {
					return err
				}
				if out.Value != payload {
					return fmt.Errorf("echo returned %q", out.Value)
				}
				return nil
			}
		case "netrpc":
			rc, err := rpc.Dial("tcp", addr)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			closers = append(closers, func() { rc.Close() })
			call = func() error {
				var reply string
				if err := rc.Call("NetRPCEcho.Echo", payload, &reply); err != nil {
					return err
				}
				if reply != payload {
					return fmt.Errorf("echo returned %q", reply)
				}
				return nil
			}
		default:
			return nil, nil, fmt.Errorf("unknown client %q", client)
		}
		for i := 0; i < sh.inflight; i++ {
			workers = append(workers, call)
		}
	}
	return workers, closeAll, nil
}

// wantSystem and wantShape apply --systems, --shapes and --match.
func (o *options) wantSystem(name string) bool {
	return (len(o.systems) == 0 || o.systems[name]) && o.want(name)
}

func (o *options) wantShape(name string) bool { return len(o.shapes) == 0 || o.shapes[name] }

func newCallMeasurement(sys callSystem, sh shape) *Measurement {
	return &Measurement{Section: "calls", Name: sys.name + " " + sh.name,
		Params: map[string]any{"system": sys.name, "desc": sys.desc, "shape": sh.name,
			"conns": sh.conns, "inflight": sh.inflight, "server": sys.server, "client": sys.client}}
}

func logCalls(m *Measurement, sys callSystem, sh shape) {
	logf("calls: %-10s %-5s %8.0f calls/s  p50 %7.1f µs  p99 %7.1f µs  server CPU %5.1f µs/call",
		sys.name, sh.name, m.med("calls_per_s"), m.med("p50_us"), m.med("p99_us"), m.med("server_cpu_us_per_call"))
}

func runCalls(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	paired := o.wantSystem("py-twisted") && o.wantSystem("py-spread")
	for _, sys := range callSystems {
		if !o.wantSystem(sys.name) {
			continue
		}
		if paired && sys.client == "py" {
			if sys.name == "py-twisted" {
				out = append(out, runPyPair(ctx, o)...)
			}
			continue
		}
		logf("calls: %s (%s)", sys.name, sys.desc)
		srv, err := startEchoServer(ctx, o, sys.server, "calls-"+sys.name)
		for _, sh := range shapes {
			if !o.wantShape(sh.name) {
				continue
			}
			m := newCallMeasurement(sys, sh)
			out = append(out, m)
			if err != nil {
				m.Error = err.Error()
				continue
			}
			var runs []runStats
			var lerr error
			if sys.client == "py" {
				runs, lerr = pyLoad(ctx, o, srv.Pid(), srv.port, sh.conns, sh.inflight, o.runs)
				for _, r := range runs {
					m.Runs = append(m.Runs, pyMetrics(r))
				}
			} else {
				ws, closeAll, werr := goWorkers(ctx, o, sys.client, srv.addr, sh)
				if werr != nil {
					lerr = werr
				} else {
					stopProf := o.clientProfile("client-" + sys.name + "-" + sh.name)
					runs, lerr = goLoad(ctx, o, srv.Pid(), ws)
					stopProf()
					closeAll()
				}
				for _, r := range runs {
					m.Runs = append(m.Runs, r.metrics("call"))
				}
			}
			if lerr != nil {
				m.Error = lerr.Error()
				logf("calls: %s %s: %v", sys.name, sh.name, lerr)
			}
			m.summarize()
			logCalls(m, sys, sh)
		}
		if srv != nil {
			srv.stop()
		}
	}
	return out
}

// runPyPair measures the Twisted client against the Twisted server and
// against the Spread server with their runs interleaved: one run against
// each in turn, the order alternating, each run with its own warm-up.
// Each run against Spread gets the ratio to the run against Twisted
// beside it (rate_vs_twisted): on this VM, whose speed drifts within
// minutes, a ratio of runs taken seconds apart is the steadier figure.
func runPyPair(ctx context.Context, o *options) []*Measurement {
	pair := [2]callSystem{}
	for _, sys := range callSystems {
		switch sys.name {
		case "py-twisted":
			pair[0] = sys
		case "py-spread":
			pair[1] = sys
		}
	}
	var srvs [2]*server
	var errs [2]error
	for i, sys := range pair {
		logf("calls: %s (%s), runs interleaved with %s", sys.name, sys.desc, pair[1-i].name)
		srvs[i], errs[i] = startEchoServer(ctx, o, sys.server, "calls-"+sys.name)
	}
	defer func() {
		for _, srv := range srvs {
			if srv != nil {
				srv.stop()
			}
		}
	}()
	var out []*Measurement
	for _, sh := range shapes {
		if !o.wantShape(sh.name) {
			continue
		}
		ms := [2]*Measurement{newCallMeasurement(pair[0], sh), newCallMeasurement(pair[1], sh)}
		out = append(out, ms[0], ms[1])
		for i := range ms {
			ms[i].Params["interleaved_with"] = pair[1-i].name
			if errs[i] != nil {
				ms[i].Error = errs[i].Error()
			}
		}
		for r := 0; r < o.runs && ms[0].Error == "" && ms[1].Error == ""; r++ {
			for k := range 2 {
				i := k ^ r%2 // Twisted first in even runs, Spread first in odd ones
				runs, err := pyLoad(ctx, o, srvs[i].Pid(), srvs[i].port, sh.conns, sh.inflight, 1)
				if err != nil {
					ms[i].Error = err.Error()
					logf("calls: %s %s: %v", pair[i].name, sh.name, err)
					break
				}
				ms[i].Runs = append(ms[i].Runs, pyMetrics(runs[0]))
			}
			if len(ms[0].Runs) == r+1 && len(ms[1].Runs) == r+1 {
				ms[1].Runs[r]["rate_vs_twisted"] = ms[1].Runs[r]["calls_per_s"] / ms[0].Runs[r]["calls_per_s"]
			}
		}
		for i, m := range ms {
			m.summarize()
			logCalls(m, pair[i], sh)
		}
	}
	return out
}
