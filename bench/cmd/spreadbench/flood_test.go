package main

import "testing"

// TestQuickFlood runs the flood section in quick mode (100 users, a cap
// of 500 connections not logged in, 800 held by the flooders) and checks
// that the three rows are measured: users kept their rate with a p99,
// before and during the flood, and the refused connections cost the
// server some CPU.
func TestQuickFlood(t *testing.T) {
	rep := quickRun(t, "--only", "flood")
	rows := map[string]*Measurement{}
	for _, m := range rep.Measurements {
		if m.Error != "" {
			t.Fatalf("%s: %s", m.Name, m.Error)
		}
		rows[m.Name] = m
	}
	users := rows["spread logged-in users under a connection flood"]
	cpu := rows["spread server CPU per refused connection"]
	base := rows["spread logged-in users, no flood (baseline)"]
	if users == nil || cpu == nil || base == nil || len(rows) != 3 {
		t.Fatalf("rows: %v", rows)
	}
	if len(users.Runs) < 3 || !(users.Median["users_at_rate"] > 0) || !(users.Median["p99_us"] >= users.Median["p50_us"]) ||
		!(users.Median["refused_per_s"] > 0) || users.Median["flood_held"] < 500 {
		t.Errorf("users under the flood: %d runs, median %v", len(users.Runs), users.Median)
	}
	if len(base.Runs) < 3 || !(base.Median["users_at_rate"] > 0) || !(base.Median["p99_us"] > 0) {
		t.Errorf("baseline: %d runs, median %v", len(base.Runs), base.Median)
	}
	if len(cpu.Runs) < 3 || !(cpu.Median["refused_per_s"] > 0) || !(cpu.Median["server_cpu_us_per_refused"] > 0) {
		t.Errorf("refused connections: %d runs, median %v", len(cpu.Runs), cpu.Median)
	}
}
