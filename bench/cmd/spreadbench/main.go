// Command spreadbench measures Spread next to the systems a user would
// pick instead (Twisted PB, gRPC-Go, net/rpc), in one run on one machine,
// and reports ratios. See ../../BENCHMARKS.md (bench/ is its own module,
// so that gRPC stays out of Spread's dependencies).
//
//	cd bench && go run ./cmd/spreadbench --json results.json
//	cd bench && go run ./cmd/spreadbench --quick            # smoke test
//
// The same binary also runs the Go servers (spreadbench serve -kind K)
// and the idle-connection holders (spreadbench hold ...) as separate
// processes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

type options struct {
	duration, warmup time.Duration
	runs             int
	quick            bool
	only             map[string]bool
	systems          map[string]bool
	shapes           map[string]bool
	jsonPath         string
	profileDir       string
	benchDir         string
	python           string
	idleConns        int
	perHolder        int
	fanoutMembers    int
	floodUsers       int
	loginConns       int
	payload          string
	timeout          time.Duration
	self             string
	verbose          bool
	match            *regexp.Regexp
}

// want reports whether a measurement of that name is selected by --match.
func (o *options) want(name string) bool { return o.match == nil || o.match.MatchString(name) }

// sections in run order.
var sections = []string{"calls", "logins", "idle", "fanout", "codec", "web", "flood"}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			os.Exit(serveMain(os.Args[2:]))
		case "hold":
			os.Exit(holdMain(os.Args[2:]))
		case "flood":
			os.Exit(floodMain(os.Args[2:]))
		case "run":
			os.Args = append(os.Args[:1], os.Args[2:]...)
		}
	}
	os.Exit(runMain(os.Args[1:]))
}

func runMain(args []string) int {
	fs := flag.NewFlagSet("spreadbench", flag.ExitOnError)
	o := &options{}
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of one measured run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before the first run of each measurement")
	fs.IntVar(&o.runs, "runs", 3, "runs per measurement (at least 3)")
	fs.BoolVar(&o.quick, "quick", false, "smoke test: short runs, 600 idle connections, 50 chat members")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(sections, ","))
	shapesFlag := fs.String("shapes", "", "comma-separated call shapes: 1x1,1x100,4x25")
	systems := fs.String("systems", "", "comma-separated call systems: go-spread,go-twisted,py-twisted,py-spread,grpc,netrpc")
	fs.StringVar(&o.jsonPath, "json", "", "write every figure and the ratios to this file")
	fs.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the Go servers (one per server process) into this directory")
	fs.StringVar(&o.benchDir, "bench-dir", "", "the bench/ directory (default: found from the working directory)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python with Twisted 22.4")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "idle logged-in connections")
	fs.IntVar(&o.perHolder, "per-holder", 2000, "connections per holder process")
	fs.IntVar(&o.fanoutMembers, "fanout-members", 1000, "chat group members")
	fs.IntVar(&o.floodUsers, "flood-users", 1000, "logged-in users calling during the connection flood")
	fs.IntVar(&o.loginConns, "login-conns", 4, "connections logging in concurrently")
	fs.StringVar(&o.payload, "payload", "spread bench payload 0123456789", "the echoed string")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "abort the whole run after this long")
	fs.BoolVar(&o.verbose, "v", false, "log progress details")
	match := fs.String("match", "", "run only the measurements whose name matches this regexp (e.g. 'spread')")
	fs.Parse(args)

	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.duration = 300 * time.Millisecond
		}
		if !set["warmup"] {
			o.warmup = 100 * time.Millisecond
		}
		if !set["idle-conns"] {
			o.idleConns = 600
		}
		if !set["per-holder"] {
			o.perHolder = 200
		}
		if !set["fanout-members"] {
			o.fanoutMembers = 50
		}
		if !set["flood-users"] {
			o.floodUsers = 100
		}
	}
	if o.runs < 3 {
		fmt.Fprintln(os.Stderr, "spreadbench: --runs must be at least 3")
		return 2
	}
	o.only = splitSet(*only)
	for k := range o.only {
		if !contains(sections, k) {
			fmt.Fprintf(os.Stderr, "spreadbench: unknown section %q\n", k)
			return 2
		}
	}
	o.systems = splitSet(*systems)
	o.shapes = splitSet(*shapesFlag)
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spreadbench: --match:", err)
			return 2
		}
		o.match = re
	}
	if o.benchDir == "" {
		d, err := findBenchDir()
		if err != nil {
			fmt.Fprintln(os.Stderr, "spreadbench:", err)
			return 2
		}
		o.benchDir = d
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "spreadbench:", err)
		return 1
	}
	o.self = self
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "spreadbench:", err)
			return 1
		}
		o.profileDir, _ = filepath.Abs(o.profileDir)
	}
	initClock()

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	rep := &Report{Meta: machineMeta(o)}
	start := time.Now()
	logf("spreadbench: duration %s, warm-up %s, %d runs; load average %s", o.duration, o.warmup, o.runs, rep.Meta["loadavg_start"])
	for _, s := range sections {
		if len(o.only) > 0 && !o.only[s] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var ms []*Measurement
		switch s {
		case "calls":
			ms = runCalls(ctx, o)
		case "logins":
			ms = runLogins(ctx, o)
		case "idle":
			ms = runIdle(ctx, o)
		case "fanout":
			ms = runFanout(ctx, o)
		case "codec":
			ms = runCodec(ctx, o)
		case "web":
			ms = runWeb(ctx, o)
		case "flood":
			ms = runFlood(ctx, o)
		}
		rep.Measurements = append(rep.Measurements, ms...)
		logf("spreadbench: %s done in %s", s, time.Since(t0).Round(100*time.Millisecond))
	}
	rep.Meta["loadavg_end"] = loadavg()
	rep.Meta["elapsed_s"] = round3(time.Since(start).Seconds())
	rep.Ratios = computeRatios(rep)
	printReport(os.Stdout, rep)
	if o.jsonPath != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			fmt.Fprintln(os.Stderr, "spreadbench:", err)
			return 1
		}
		if err := os.WriteFile(o.jsonPath, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "spreadbench:", err)
			return 1
		}
	}
	failed := 0
	for _, m := range rep.Measurements {
		if m.Error != "" {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "spreadbench: %d measurement(s) failed\n", failed)
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func splitSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// findBenchDir finds the bench/ directory: the working directory or one
// of its parents holding py/echo_load.py, or a bench/ child of one.
func findBenchDir() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, c := range []string{d, filepath.Join(d, "bench")} {
			if _, err := os.Stat(filepath.Join(c, "py", "echo_load.py")); err == nil {
				return c, nil
			}
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("cannot find the bench/ directory; run from the repository or pass --bench-dir")
		}
		d = p
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return strings.TrimSpace(string(b))
}

func machineMeta(o *options) map[string]any {
	m := map[string]any{
		"date":           time.Now().UTC().Format(time.RFC3339),
		"go":             runtime.Version(),
		"goos_goarch":    runtime.GOOS + "/" + runtime.GOARCH,
		"num_cpu":        runtime.NumCPU(),
		"gomaxprocs":     runtime.GOMAXPROCS(0),
		"loadavg_start":  loadavg(),
		"duration_s":     o.duration.Seconds(),
		"warmup_s":       o.warmup.Seconds(),
		"runs":           o.runs,
		"quick":          o.quick,
		"payload_bytes":  len(o.payload),
		"idle_conns":     o.idleConns,
		"fanout_members": o.fanoutMembers,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.IndexByte(l, ':'); i >= 0 {
					m["cpu"] = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l := strings.SplitN(string(b), "\n", 2)[0]
		m["memory"] = strings.Join(strings.Fields(l)[1:], " ")
	}
	if out, err := exec.Command(o.python, "-c", "import sys, twisted; print(sys.version.split()[0], twisted.__version__)").Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) == 2 {
			m["python"] = f[0]
			m["twisted"] = f[1]
		}
	}
	m["clk_tck"] = clkTck
	// Which Spread was measured: the commit and the files changed since.
	root := filepath.Join(o.benchDir, "..")
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m["spread_commit"] = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", "banana", "jelly", "pb", "cred", "chat", "internal/echo").Output(); err == nil {
			var dirty []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					dirty = append(dirty, l)
				}
			}
			m["spread_uncommitted"] = dirty
		}
	}
	return m
}
