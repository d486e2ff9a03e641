package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// quickRun builds spreadbench, runs it in quick mode with args and
// returns the JSON it writes.
func quickRun(t *testing.T, args ...string) Report {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "spreadbench")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	out := filepath.Join(dir, "out.json")
	args = append([]string{"--quick", "--duration", "150ms", "--warmup", "50ms", "--json", out, "--timeout", "2m"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.." // bench/
	cmd.Stderr = os.Stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("spreadbench: %v", err)
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("spreadbench did not finish in 3 minutes")
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("bad JSON: %v", err)
	}
	return rep
}

// TestQuickJSON runs a short quick-mode subset (Go -> Spread and net/rpc
// calls, the codec with Twisted's) and checks that the JSON holds sane
// figures.
func TestQuickJSON(t *testing.T) {
	rep := quickRun(t, "--only", "calls,codec", "--systems", "go-spread,netrpc")
	if rep.Meta["num_cpu"] == nil || rep.Meta["date"] == nil {
		t.Errorf("meta is missing fields: %v", rep.Meta)
	}
	calls, codec := 0, 0
	for _, m := range rep.Measurements {
		if m.Error != "" {
			t.Errorf("%s/%s: %s", m.Section, m.Name, m.Error)
			continue
		}
		if len(m.Runs) < 3 {
			t.Errorf("%s/%s: %d runs", m.Section, m.Name, len(m.Runs))
		}
		switch m.Section {
		case "calls":
			calls++
			for _, k := range []string{"calls_per_s", "p50_us", "p99_us", "server_cpu_us_per_call"} {
				if v, ok := m.Median[k]; !ok || !(v > 0) {
					t.Errorf("%s: %s = %v", m.Name, k, v)
				}
			}
			if m.Median["p99_us"] < m.Median["p50_us"] {
				t.Errorf("%s: p99 %v < p50 %v", m.Name, m.Median["p99_us"], m.Median["p50_us"])
			}
		case "codec":
			codec++
			if v := m.Median["mb_per_s"]; !(v > 0) {
				t.Errorf("%s: mb_per_s = %v", m.Name, v)
			}
		}
	}
	if calls != 6 || codec != 12 {
		t.Errorf("got %d call rows and %d codec rows, want 6 and 12", calls, codec)
	}
	found := false
	for _, r := range rep.Ratios {
		if r.Name == "Go client -> Spread vs net/rpc, calls/s, 1x100" {
			found = r.Value > 0 && r.Met != nil
		}
	}
	if !found {
		t.Errorf("ratio vs net/rpc missing: %+v", rep.Ratios)
	}
}

// TestQuickLoginFloor runs Spread's in-memory login and its floor and
// checks the pair: both measured, the difference
// recorded run by run, and the floor server reading once per message
// (no EAGAIN reads), as Spread's reader does.
func TestQuickLoginFloor(t *testing.T) {
	rep := quickRun(t, "--only", "logins", "--match", "^(spread in-memory|floor: bare Go TCP)$")
	rows := map[string]*Measurement{}
	for _, m := range rep.Measurements {
		if m.Error != "" {
			t.Fatalf("%s: %s", m.Name, m.Error)
		}
		rows[m.Name] = m
	}
	login, floor := rows["spread in-memory"], rows["floor: bare Go TCP"]
	if login == nil || floor == nil || len(rows) != 2 {
		t.Fatalf("rows: %v", rows)
	}
	for _, m := range []*Measurement{login, floor} {
		if len(m.Runs) < 3 || !(m.Median["logins_per_s"] > 0) || !(m.Median["server_cpu_us_per_login"] > 0) {
			t.Errorf("%s: %d runs, median %v", m.Name, len(m.Runs), m.Median)
		}
	}
	for i, r := range login.Runs {
		if _, ok := r["above_floor_us"]; !ok {
			t.Errorf("login run %d has no above_floor_us: %v", i, r)
		}
	}
	if r, w := floor.Median["server_reads_per_login"], floor.Median["server_writes_per_login"]; r < 1.9 || r > 2.2 || w < 1.9 || w > 2.2 {
		t.Errorf("floor server: %.2f reads + %.2f writes per login, want 2 + 2", r, w)
	}
}
