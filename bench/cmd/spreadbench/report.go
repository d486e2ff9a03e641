package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Report is everything a run measured; --json writes it.
type Report struct {
	Meta         map[string]any `json:"meta"`
	Measurements []*Measurement `json:"measurements"`
	Ratios       []Ratio        `json:"ratios"`
}

// Ratio is a headline figure, usually a ratio of two medians of the same
// run, with its target when the issue sets one.
type Ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
	Note   string  `json:"note,omitempty"`
}

func (r *Report) find(section, name string) *Measurement {
	for _, m := range r.Measurements {
		if m.Section == section && m.Name == name {
			return m
		}
	}
	return nil
}

func (r *Report) med(section, name, key string) float64 {
	return r.find(section, name).med(key)
}

func computeRatios(r *Report) []Ratio {
	var out []Ratio
	add := func(name string, v float64, unit, op string, target float64, note string) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		x := Ratio{Name: name, Value: round3(v), Unit: unit, Note: note}
		if op != "" {
			x.Target = fmt.Sprintf("%s %g", op, target)
			met := (op == ">=" && v >= target) || (op == "<=" && v <= target)
			x.Met = &met
		}
		out = append(out, x)
	}
	cps := func(sys, sh string) float64 { return r.med("calls", sys+" "+sh, "calls_per_s") }

	add("Go client -> Spread vs gRPC-Go unary, calls/s, 1x100", cps("go-spread", "1x100")/cps("grpc", "1x100"), "x", ">=", 2, "")
	add("Go client -> Spread vs net/rpc, calls/s, 1x100", cps("go-spread", "1x100")/cps("netrpc", "1x100"), "x", ">=", 1.2, "")
	add("Spread server CPU per call, 1x100", r.med("calls", "go-spread 1x100", "server_cpu_us_per_call"), "µs", "<=", 5, "")
	for _, sh := range shapes {
		// Runs interleaved (runPyPair): the median of run-by-run ratios.
		v, note := r.med("calls", "py-spread "+sh.name, "rate_vs_twisted"), "runs interleaved; median of run-by-run ratios"
		if math.IsNaN(v) {
			v, note = cps("py-spread", sh.name)/cps("py-twisted", sh.name), ""
		}
		add("Twisted client: Spread vs Twisted server, calls/s, "+sh.name, v, "x", ">=", 1, note)
	}
	add("Spread server CPU per in-memory login", r.med("logins", "spread in-memory", "server_cpu_us_per_login"), "µs", "<=", 40, "")
	add("Spread server CPU per in-memory login above the bare-TCP floor", r.med("logins", "spread in-memory", "above_floor_us"), "µs", "", 0, "floor: the same bytes on plain TCP, runs interleaved; median of run-by-run differences")
	add("Bare-TCP floor of an in-memory login: server CPU", r.med("logins", "floor: bare Go TCP", "server_cpu_us_per_login"), "µs", "", 0, "the kernel's and the Go runtime's share")
	add("Django pbkdf2 logins/s vs bare hash rate", r.med("logins", "spread django pbkdf2", "rate_vs_bare"), "x", ">=", 0.95, "last_login written; median of run-by-run ratios")
	add("Django pbkdf2 logins/s vs bare hash rate, read-only store", r.med("logins", "spread django pbkdf2 ro", "rate_vs_bare"), "x", "", 0, "Store.ReadOnly")
	add("Django pbkdf2: server CPU per login vs CPU per bare hash", r.med("logins", "spread django pbkdf2", "cpu_vs_bare"), "x", "", 0, "less sensitive to machine load than the rates")
	add("Django pbkdf2: server CPU per login vs CPU per bare hash, read-only store", r.med("logins", "spread django pbkdf2 ro", "cpu_vs_bare"), "x", "", 0, "")
	add("Idle RSS per logged-in connection, Spread vs Twisted (settled RSS)", r.med("idle", "spread idle logged-in", "rss_bytes_per_conn")/r.med("idle", "twisted idle logged-in", "rss_bytes_per_conn"), "x", "<=", 1, "")
	add("Idle RSS per logged-in connection, Spread vs Twisted, 2 s after the last login", r.med("idle", "spread idle logged-in", "rss_2s_bytes_per_conn")/r.med("idle", "twisted idle logged-in", "rss_2s_bytes_per_conn"), "x", "", 0, "")

	add("Cluster fan-out: 3 brokers, 3x the members, vs 1 broker, time to the last member", r.med("cluster", "fan-out, 3 brokers", "p50_ms")/r.med("cluster", "fan-out, 1 broker", "p50_ms"), "x", "<=", 1.5, "p50s; all processes share this machine's CPUs")
	add("Cluster fan-out: busiest of 3 brokers' CPU per message (3,000 members) vs 1 broker's (1,000)", r.med("cluster", "fan-out, 3 brokers", "busiest_server_cpu_us_per_message")/r.med("cluster", "fan-out, 1 broker", "server_cpu_us_per_message"), "x", "", 0, "what the fan-out time would follow with a core per broker")
	add("Cluster fan-out: the shortest 3-broker time this machine's CPUs allow (its CPU per message / CPUs) vs the 1-broker time", r.med("cluster", "fan-out, 3 brokers", "cpu_floor_ms")/r.med("cluster", "fan-out, 1 broker", "p50_ms"), "x", "", 0, "every process's CPU, the members' and NATS's too; above 1.5, the target is out of reach here")
	add("Cluster: latency the cross-broker hop adds, p50", r.med("cluster", "hop", "hop_p50_us")/1000, "ms", "<=", 1, "NATS on loopback")
	add("Cluster: messages/s at each member on another broker, one pipelining sender", r.med("cluster", "throughput, 3 brokers", "messages_per_s"), "msg/s", "", 0, "")
	out = append(out, authdRatios(r)...)

	// Context, no target.
	for _, sh := range shapes {
		if sh.name != "1x100" { // 1x100 has its target above
			add("Go client -> Spread vs gRPC-Go unary, calls/s, "+sh.name, cps("go-spread", sh.name)/cps("grpc", sh.name), "x", "", 0, "")
			add("Go client -> Spread vs net/rpc, calls/s, "+sh.name, cps("go-spread", sh.name)/cps("netrpc", sh.name), "x", "", 0, "")
		}
		add("Go client: Spread vs Twisted server, calls/s, "+sh.name, cps("go-spread", sh.name)/cps("go-twisted", sh.name), "x", "", 0, "")
		add("Server CPU per call, Twisted vs Spread, Go client, "+sh.name,
			r.med("calls", "go-twisted "+sh.name, "server_cpu_us_per_call")/r.med("calls", "go-spread "+sh.name, "server_cpu_us_per_call"), "x", "", 0, "")
	}
	add("In-memory logins/s, Spread vs Twisted", r.med("logins", "spread in-memory", "logins_per_s")/r.med("logins", "twisted in-memory", "logins_per_s"), "x", "", 0, "")
	add("Server CPU per in-memory login, Twisted vs Spread", r.med("logins", "twisted in-memory", "server_cpu_us_per_login")/r.med("logins", "spread in-memory", "server_cpu_us_per_login"), "x", "", 0, "")
	add("Server CPU per connection + login (idle set-up), Spread", r.med("idle", "spread idle logged-in", "server_cpu_us_per_conn"), "µs", "", 0, "TCP accept, PB handshake, challenge login")
	add("Server CPU per connection + login (idle set-up), Twisted vs Spread", r.med("idle", "twisted idle logged-in", "server_cpu_us_per_conn")/r.med("idle", "spread idle logged-in", "server_cpu_us_per_conn"), "x", "", 0, "")
	add("Chat fan-out to the last member, Twisted vs Spread time", r.med("fanout", "twisted chat fan-out", "p50_ms")/r.med("fanout", "spread chat fan-out", "p50_ms"), "x", "", 0, "")
	for _, c := range codecCases("") {
		for _, dir := range []string{"encode", "decode"} {
			add("Codec MB/s, Spread vs Twisted, "+c.name+" "+dir,
				r.med("codec", "spread "+c.name+" "+dir, "mb_per_s")/r.med("codec", "twisted "+c.name+" "+dir, "mb_per_s"), "x", "", 0, "")
		}
	}
	out = append(out, webRatios(r)...)
	return out
}

// f formats a median with its spread.
func f(m *Measurement, key, format string) string {
	if m == nil {
		return "-"
	}
	if m.Error != "" {
		return "error"
	}
	v, ok := m.Median[key]
	if !ok {
		return "-"
	}
	s := fmt.Sprintf(format, v)
	if sp, ok := m.SpreadPct[key]; ok && sp >= 0.5 {
		s += fmt.Sprintf(" ±%.0f%%", sp/2)
	}
	return s
}

// rw formats the server's read and write system calls per operation.
func rw(m *Measurement, unit string) string {
	if m == nil || m.Error != "" {
		return "-"
	}
	r, ok1 := m.Median["server_reads_per_"+unit]
	w, ok2 := m.Median["server_writes_per_"+unit]
	if !ok1 || !ok2 {
		return "-"
	}
	return fmt.Sprintf("%.2f + %.2f", r, w)
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "\n## spreadbench: %v, %v CPUs (%v), %v, load %v -> %v, %v runs of %vs after %vs warm-up\n",
		r.Meta["date"], r.Meta["num_cpu"], r.Meta["cpu"], r.Meta["go"], r.Meta["loadavg_start"], r.Meta["loadavg_end"],
		r.Meta["runs"], r.Meta["duration_s"], r.Meta["warmup_s"])
	fmt.Fprintln(w, "\nMedians over the runs; ±x% is half the range (max-min)/2 relative to the median.")

	var calls, logins, idle, fan, clu, codec, flood []*Measurement
	var errs []*Measurement
	for _, m := range r.Measurements {
		if m.Error != "" {
			errs = append(errs, m)
		}
		switch m.Section {
		case "calls":
			calls = append(calls, m)
		case "logins":
			logins = append(logins, m)
		case "idle":
			idle = append(idle, m)
		case "fanout":
			fan = append(fan, m)
		case "cluster":
			clu = append(clu, m)
		case "codec":
			codec = append(codec, m)
		case "flood":
			flood = append(flood, m)
		}
	}
	if len(calls) > 0 {
		fmt.Fprintln(w, "\n### Call round trips (echo of a 31-byte string)")
		fmt.Fprintln(w, "\n| system | shape | calls/s | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call | server reads+writes /call |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
		for _, m := range calls {
			fmt.Fprintf(w, "| %v | %v | %s | %s | %s | %s | %s | %s |\n", m.Params["desc"], m.Params["shape"],
				f(m, "calls_per_s", "%.0f"), f(m, "p50_us", "%.0f"), f(m, "p99_us", "%.0f"),
				f(m, "server_cpu_us_per_call", "%.1f"), f(m, "client_cpu_us_per_call", "%.1f"), rw(m, "call"))
		}
	}
	if len(logins) > 0 {
		fmt.Fprintln(w, "\n### Logins (login + release in a loop; in-memory: 4 connections, Django: one per CPU, interleaved with the bare hash runs)")
		fmt.Fprintln(w, "\n| what | logins/s | p50 µs | server CPU µs/login | server reads+writes /login |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, m := range logins {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m.Name, f(m, "logins_per_s", "%.1f"), f(m, "p50_us", "%.0f"), f(m, "server_cpu_us_per_login", "%.1f"), rw(m, "login"))
		}
	}
	if len(idle) > 0 {
		fmt.Fprintln(w, "\n### Idle logged-in connections (held by separate client processes)")
		fmt.Fprintln(w, "\n| server | connections | RSS before MB | RSS 2 s after MB | per connection (B) | RSS settled MB | per connection (B) | settled after s | set-up s | server CPU µs/connection |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, m := range idle {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.Name, f(m, "conns", "%.0f"), f(m, "rss_before_mb", "%.1f"),
				f(m, "rss_2s_mb", "%.1f"), f(m, "rss_2s_bytes_per_conn", "%.0f"),
				f(m, "rss_after_mb", "%.1f"), f(m, "rss_bytes_per_conn", "%.0f"), f(m, "settle_s", "%.0f"),
				f(m, "setup_s", "%.1f"), f(m, "server_cpu_us_per_conn", "%.0f"))
		}
	}
	if len(fan) > 0 {
		fmt.Fprintln(w, "\n### Chat fan-out (one message, the time until the last member's mind has it)")
		fmt.Fprintln(w, "\n| server | members | p50 ms | p99 ms | messages/s | server CPU µs/message |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		for _, m := range fan {
			fmt.Fprintf(w, "| %s | %v | %s | %s | %s | %s |\n", m.Name, m.Params["members"], f(m, "p50_ms", "%.2f"), f(m, "p99_ms", "%.2f"),
				f(m, "messages_per_s", "%.1f"), f(m, "server_cpu_us_per_message", "%.0f"))
		}
	}
	if len(clu) > 0 {
		fmt.Fprintln(w, "\n### Chat across brokers (NATS on loopback; every process on this machine)")
		fmt.Fprintln(w, "\n| what | members | p50 ms | p99 ms | messages/s | CPU µs/message, all brokers | busiest broker |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, m := range clu {
			if m.Name == "hop" {
				continue
			}
			fmt.Fprintf(w, "| %s | %v | %s | %s | %s | %s | %s |\n", m.Name, m.Params["members"], f(m, "p50_ms", "%.2f"), f(m, "p99_ms", "%.2f"), f(m, "messages_per_s", "%.0f"),
				f(m, "server_cpu_us_per_message", "%.0f"), f(m, "busiest_server_cpu_us_per_message", "%.0f"))
		}
		if m := r.find("cluster", "hop"); m != nil {
			fmt.Fprintln(w, "\n| one message at a time | p50 µs | p99 µs |")
			fmt.Fprintln(w, "|---|---:|---:|")
			fmt.Fprintf(w, "| member on the sender's broker | %s | %s |\n", f(m, "local_p50_us", "%.0f"), f(m, "local_p99_us", "%.0f"))
			fmt.Fprintf(w, "| member on another broker | %s | %s |\n", f(m, "remote_p50_us", "%.0f"), f(m, "remote_p99_us", "%.0f"))
			fmt.Fprintf(w, "| the cross-broker hop (difference) | %s | %s |\n", f(m, "hop_p50_us", "%.0f"), f(m, "hop_p99_us", "%.0f"))
		}
	}
	if len(codec) > 0 {
		fmt.Fprintln(w, "\n### Codec (banana + jelly, one message per op)")
		fmt.Fprintln(w, "\n| impl | message | op | wire B | ns/op | MB/s | allocs/op | B/op |")
		fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|")
		for _, m := range codec {
			fmt.Fprintf(w, "| %v | %v | %v | %s | %s | %s | %s | %s |\n", m.Params["impl"], m.Params["case"], m.Params["op"],
				f(m, "wire_bytes", "%.0f"), f(m, "ns_per_op", "%.0f"), f(m, "mb_per_s", "%.1f"), f(m, "allocs_per_op", "%.1f"), f(m, "bytes_per_op", "%.0f"))
		}
	}
	printWeb(w, r)
	printFlood(w, flood)
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w, "\n### Ratios and targets (same run)")
		fmt.Fprintln(w, "\n| figure | value | target | met |")
		fmt.Fprintln(w, "|---|---:|---|---|")
		for _, x := range r.Ratios {
			met := ""
			if x.Met != nil {
				met = "yes"
				if !*x.Met {
					met = "**no**"
				}
			}
			name := x.Name
			if x.Note != "" {
				name += " (" + x.Note + ")"
			}
			fmt.Fprintf(w, "| %s | %g %s | %s | %s |\n", name, x.Value, x.Unit, x.Target, met)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\n### Errors")
		for _, m := range errs {
			fmt.Fprintf(w, "- %s / %s: %s\n", m.Section, m.Name, strings.ReplaceAll(m.Error, "\n", " "))
		}
	}
}
