package main

import "testing"

// TestQuickWeb runs the web section in quick mode: the bare handler, the
// guard with a session, scs and the bare handler sending the guard's
// headers, and a handler setting its Content-Type bare and behind the
// guard, interleaved, and web logins against
// Django's PBKDF2 next to the bare hash; every row measured and the
// run-by-run comparisons recorded.
func TestQuickWeb(t *testing.T) {
	rep := quickRun(t, "--only", "web")
	rows := map[string]*Measurement{}
	for _, m := range rep.Measurements {
		if m.Error != "" {
			t.Fatalf("%s: %s", m.Name, m.Error)
		}
		rows[m.Name] = m
	}
	if len(rows) != 8 {
		t.Fatalf("rows: %v", rows)
	}
	for _, n := range []string{"web bare handler", "web spread guard", "web scs LoadAndSave", "web bare handler with the guard's headers",
		"web bare handler setting Content-Type", "web spread guard, handler setting Content-Type"} {
		m := rows[n]
		if m == nil || len(m.Runs) < 3 || !(m.Median["requests_per_s"] > 0) || !(m.Median["server_cpu_us_per_request"] > 0) {
			t.Fatalf("%s: %+v", n, m)
		}
	}
	for i, r := range rows["web spread guard"].Runs {
		if _, ok := r["above_bare_us"]; !ok {
			t.Errorf("guard run %d has no above_bare_us", i)
		}
		if _, ok := r["above_headers_us"]; !ok {
			t.Errorf("guard run %d has no above_headers_us", i)
		}
		if v, ok := r["cpu_vs_scs"]; !ok || !(v > 0) {
			t.Errorf("guard run %d: cpu_vs_scs %v", i, v)
		}
	}
	for i, r := range rows["web spread guard, handler setting Content-Type"].Runs {
		if _, ok := r["above_bare_ct_us"]; !ok {
			t.Errorf("guard with the Content-Type handler, run %d, has no above_bare_ct_us", i)
		}
	}
	login := rows["web guard django pbkdf2 login"]
	if login == nil || !(login.Median["logins_per_s"] > 0) || !(login.Median["rate_vs_bare"] > 0) {
		t.Fatalf("web logins: %+v", login)
	}
	if !(rows["web bare pbkdf2_sha256 hash"].Median["logins_per_s"] > 0) {
		t.Fatal("bare hash rate missing")
	}
	found := 0
	for _, r := range rep.Ratios {
		switch r.Name {
		case "Guard: server CPU per request above the bare handler", "Web logins/s (guard, Django pbkdf2) vs bare hash rate", "Guard vs scs: server CPU per request":
			if r.Met == nil {
				t.Errorf("%s has no target", r.Name)
			}
			found++
		}
	}
	if found != 3 {
		t.Errorf("web ratios: %+v", rep.Ratios)
	}
}
