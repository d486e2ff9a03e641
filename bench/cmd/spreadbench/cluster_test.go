package main

import "testing"

// TestQuickCluster runs the cluster section in quick mode (30 members
// per broker, three brokers on a real nats-server) and checks that
// every figure is there and sane.
func TestQuickCluster(t *testing.T) {
	rep := quickRun(t, "--only", "cluster")
	want := map[string][]string{
		"fan-out, 1 broker":     {"p50_ms", "p99_ms", "messages_per_s", "machine_cpu_us_per_message", "cpu_floor_ms"},
		"fan-out, 3 brokers":    {"p50_ms", "p99_ms", "messages_per_s", "machine_cpu_us_per_message", "cpu_floor_ms"},
		"throughput, 3 brokers": {"messages_per_s"},
		"hop":                   {"local_p50_us", "remote_p50_us", "remote_p99_us"},
	}
	for name, keys := range want {
		m := rep.find("cluster", name)
		if m == nil {
			t.Errorf("no measurement %q", name)
			continue
		}
		if m.Error != "" {
			t.Errorf("%s: %s", name, m.Error)
			continue
		}
		if len(m.Runs) < 3 {
			t.Errorf("%s: %d runs", name, len(m.Runs))
		}
		for _, k := range keys {
			if v := m.Median[k]; !(v > 0) {
				t.Errorf("%s: %s = %v", name, k, v)
			}
		}
	}
	// The CPU floor is a lower bound of the mean time per message (the
	// messages go one at a time): the CPUs cannot have been busier than
	// the run was long. The slack is the clock ticks' granularity.
	for _, name := range []string{"fan-out, 1 broker", "fan-out, 3 brokers"} {
		if m := rep.find("cluster", name); m != nil && m.Error == "" {
			for i, r := range m.Runs {
				if mean := 1000 / r["messages_per_s"]; r["cpu_floor_ms"] > 1.1*mean+1 {
					t.Errorf("%s run %d: CPU floor %.2f ms above the mean time %.2f ms", name, i, r["cpu_floor_ms"], mean)
				}
			}
		}
	}
	if m := rep.find("cluster", "hop"); m != nil && m.Error == "" && m.Median["remote_p50_us"] < m.Median["local_p50_us"] {
		t.Errorf("a member on another broker hears sooner than one on the sender's: %v", m.Median)
	}
	found := 0
	for _, r := range rep.Ratios {
		if r.Name == "Cluster: latency the cross-broker hop adds, p50" {
			found++
		}
	}
	if found != 1 {
		t.Errorf("the hop's ratio is missing: %+v", rep.Ratios)
	}
}
