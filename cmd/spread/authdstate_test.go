package main

import "testing"

func TestAuthdStateAndAddressesUsage(t *testing.T) {
	spread(t, "", "authd", "--services", "/nonexistent", "--demo", "--state", "sqlite:/tmp/x.db").
		expect(t, "--state sqlite:", 2, "", "--state takes a PostgreSQL URL")
	t.Setenv("SPREAD_SERVICE_SECRET", "a-secret")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--authd", "127.0.0.1:1,,127.0.0.1:2", "--service", "chat").
		expect(t, "--authd with an empty address", 1, "", "empty address")
}
