package pgtest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStartFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("two Start calls gave the same database %s", a)
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("tables in fresh db = %d, %v; want 1", n, err)
	}
	var addr string
	if err := db.QueryRowContext(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil || addr != "127.0.0.1" {
		t.Fatalf("server address %q, %v", addr, err)
	}
}

// A server started outside Main is stopped by Cleanup.
func TestOwnServer(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := s.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("pgx", dsn)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s left behind: %v", s.Dir, err)
	}
}

// Without the binaries the error says what to install.
func TestMissingBinaries(t *testing.T) {
	old := binGlob
	binGlob = "/nonexistent/*/bin"
	t.Cleanup(func() { binGlob = old })
	t.Setenv("PATH", t.TempDir())
	_, err := NewServer()
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("NewServer without binaries: %v", err)
	}
}
