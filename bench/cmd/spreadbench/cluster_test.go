package main

import "testing"

// TestQuickCluster runs the cluster section in quick mode (30 members
// per broker, three brokers on a real nats-server) and checks that
// every figure is there and sane.
func TestQuickCluster(t *testing.T) {
	rep := quickRun(t, "--only", "cluster")
	want := map[string][]string{
		"fan-out, 1 broker":     {"p50_ms", "p99_ms", "messages_per_s"},
		"fan-out, 3 brokers":    {"p50_ms", "p99_ms", "messages_per_s"},
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
