package main

import "testing"

// TestQuickTicketLogins runs the ticket-login rows in quick mode and
// checks that they hold sane figures and their ratios.
func TestQuickTicketLogins(t *testing.T) {
	rep := quickRun(t, "--only", "logins", "--match", `^(spread ticket \(authd\)|spread ticket in hand \(authd\)|spread in-memory, ticket broker|authd tickets issued)$`)
	rows := map[string]*Measurement{}
	for _, m := range rep.Measurements {
		if m.Error != "" {
			t.Fatalf("%s: %s", m.Name, m.Error)
		}
		rows[m.Name] = m
	}
	for name, unit := range map[string]string{"spread ticket (authd)": "login", "spread ticket in hand (authd)": "login", "spread in-memory, ticket broker": "login", "authd tickets issued": "ticket"} {
		m := rows[name]
		if m == nil {
			t.Errorf("no row %q", name)
			continue
		}
		if len(m.Runs) < 3 || !(m.Median[unit+"s_per_s"] > 0) || !(m.Median["server_cpu_us_per_"+unit] > 0) {
			t.Errorf("%s: %d runs, median %v", name, len(m.Runs), m.Median)
		}
	}
	found := map[string]bool{}
	for _, r := range rep.Ratios {
		found[r.Name] = r.Value > 0
	}
	for _, n := range []string{"Ticket logins/s vs in-memory logins/s at the same broker", "ticket() then ticket login, per second, vs in-memory logins/s at the same broker", "Server CPU per ticket login, broker + authd", "Tickets issued per second at authd"} {
		if !found[n] {
			t.Errorf("ratio %q missing or zero", n)
		}
	}
}
