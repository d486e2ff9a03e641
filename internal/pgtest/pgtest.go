// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// binaries of Debian's postgresql package (initdb, pg_ctl and postgres
// under /usr/lib/postgresql/*/bin, or on PATH).
//
// A server lives in a temporary directory, listens on 127.0.0.1 on a
// free port and puts its Unix socket in that directory; authentication is
// "trust" for the superuser "postgres". When the tests run as root, the
// binaries run as the system user "postgres" (through runuser), since
// PostgreSQL refuses to run as root.
//
// Most tests call Start, which returns the DSN of a fresh, empty database.
// A test binary that wraps its tests with Main shares one server among all
// its tests; otherwise each Start call gets its own server, stopped when
// the test ends. Missing binaries make the test fail, never skip.
//
// Outage tests use a server of their own (NewServer): Halt and Resume
// stop it and start it again on the same port with its data; Freeze and
// Thaw send SIGSTOP and SIGCONT to the postmaster and its backends, as a
// hung machine would behave.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", to create databases
)

// Server is one running PostgreSQL server.
type Server struct {
	// Dir is the temporary directory holding data, socket and log.
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int

	binDir string
	runAs  string // system user to run the binaries as, or ""
	dbSeq  atomic.Int64
	halted atomic.Bool
	once   sync.Once
	err    error
}

// binGlob is where Debian installs each PostgreSQL version's binaries.
var binGlob = "/usr/lib/postgresql/*/bin"

// BinDir finds the directory of Debian's PostgreSQL server binaries: the
// highest version under /usr/lib/postgresql, else the directory of
// pg_ctl on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		d := filepath.Dir(p)
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found " +
		"under /usr/lib/postgresql/*/bin or on PATH: install Debian's postgresql package " +
		"(apt-get install postgresql)")
}

// traversable reports whether every directory from / down to dir lets
// other users pass (o+x).
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// NewServer initializes and starts a server. Call Stop when done.
func NewServer() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{binDir: bin}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("pgtest: running as root but there is no system user \"postgres\" " +
				"to run the server as (Debian's postgresql package creates it)")
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, errors.New("pgtest: running as root but runuser is not on PATH")
		}
		s.runAs = "postgres"
	}
	parent := os.TempDir()
	if s.runAs != "" && !traversable(parent) {
		// The server's user must reach its directory.
		parent = "/tmp"
	}
	s.Dir, err = os.MkdirTemp(parent, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.setup(); err != nil {
		os.RemoveAll(s.Dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string   { return filepath.Join(s.Dir, "data") }
func (s *Server) socketDir() string { return s.Dir }
func (s *Server) logFile() string   { return filepath.Join(s.Dir, "postgres.log") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.binDir, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return cmd
}

func (s *Server) run(name string, args ...string) error {
	cmd := s.command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func (s *Server) setup() error {
	if s.runAs != "" {
		u, err := user.Lookup(s.runAs)
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: chown %s: %w", s.Dir, err)
		}
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return err
	}
	if err := s.run("initdb", "-D", s.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Port = port
		lastErr = s.start()
		if lastErr == nil {
			return nil
		}
		log, _ := os.ReadFile(s.logFile())
		if !bytes.Contains(log, []byte("already in use")) && !bytes.Contains(log, []byte("could not bind")) {
			return fmt.Errorf("%v\nserver log:\n%s", lastErr, log)
		}
	}
	return lastErr
}

// start runs pg_ctl start on s.Port.
func (s *Server) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c TimeZone=UTC",
		s.Port, s.socketDir())
	return s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.dataDir(), "-l", s.logFile(), "-o", opts)
}

// Halt stops the server (pg_ctl stop -m fast) and keeps its data, so
// that Resume can start it again on the same port: a database outage.
func (s *Server) Halt() error {
	s.halted.Store(true)
	return s.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", s.dataDir())
}

// Resume starts a server that Halt stopped, on the same port.
func (s *Server) Resume() error {
	s.halted.Store(false)
	if err := s.start(); err != nil {
		log, _ := os.ReadFile(s.logFile())
		return fmt.Errorf("%v\nserver log:\n%s", err, log)
	}
	return nil
}

// Freeze stops (SIGSTOP) the postmaster and every process it started:
// the server keeps its sockets but answers nothing, as a hung machine
// would. Thaw continues them. It returns the number of processes
// stopped.
func (s *Server) Freeze() (int, error) { return s.signalAll(syscall.SIGSTOP) }

// Thaw continues (SIGCONT) the processes Freeze stopped, and any that
// the postmaster started since.
func (s *Server) Thaw() error {
	_, err := s.signalAll(syscall.SIGCONT)
	return err
}

// signalAll sends sig to the postmaster (its pid is the first line of
// postmaster.pid) and its children.
func (s *Server) signalAll(sig syscall.Signal) (int, error) {
	pidFile := filepath.Join(s.dataDir(), "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pm <= 1 {
		return 0, fmt.Errorf("pgtest: no postmaster pid in %s", pidFile)
	}
	pids := append([]int{pm}, childrenOf(pm)...)
	n := 0
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err == nil {
			n++
		} else if !errors.Is(err, syscall.ESRCH) {
			return n, fmt.Errorf("pgtest: signal %d: %w", pid, err)
		}
	}
	return n, nil
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid {
				out = append(out, p)
			}
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns the URL of database db on this server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// CreateDatabase creates a new, empty database with a unique name and
// returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.dbSeq.Add(1))
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.DSN(name), nil
}

// Stop stops the server (pg_ctl stop -m fast; a frozen one is thawed
// first, a halted one is left as it is) and removes its directory.
// It is safe to call more than once.
func (s *Server) Stop() error {
	s.once.Do(func() {
		if !s.halted.Load() {
			s.signalAll(syscall.SIGCONT) // a frozen server cannot stop
			s.err = s.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", s.dataDir())
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.err == nil {
			s.err = err
		}
	})
	return s.err
}

var shared struct {
	enabled bool
	once    sync.Once
	srv     *Server
	err     error
}

// Main runs the tests of a package with one PostgreSQL server shared by
// all Start calls, and stops it afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// The server starts on the first Start call, so a run that selects no
// PostgreSQL test starts none.
func Main(m *testing.M) int {
	shared.enabled = true
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the DSN of a fresh, empty database on a running server.
// Under Main the server is shared by the whole test binary; otherwise it
// is started for this test alone and stopped in t.Cleanup. It fails the
// test (never skips) when PostgreSQL cannot start.
func Start(t testing.TB) string {
	t.Helper()
	var srv *Server
	if shared.enabled {
		shared.once.Do(func() { shared.srv, shared.err = NewServer() })
		if shared.err != nil {
			t.Fatal(shared.err)
		}
		srv = shared.srv
	} else {
		var err error
		srv, err = NewServer()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
