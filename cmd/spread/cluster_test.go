package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/internal/natstest"
	"github.com/gospread/spread/pb"
)

var metricsRE = regexp.MustCompile(`serving metrics" addr=(\S+)`)

type lineMind struct {
	pb.Referenceable
	lines chan string
}

func (m *lineMind) RemotePrint(s string) { m.lines <- s }

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Two chat servers joined by --cluster: a line crosses, the member
// lists show both, every log line names its node, and --metrics serves
// the counters and the health of each.
func TestChatServeClusterAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := natstest.Start(t)
	a := startServe(t, ctx, "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--cluster", n.URL(), "--node", "a", "--metrics", "127.0.0.1:0")
	b := startServe(t, ctx, "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--cluster", n.URL(), "--node", "b")
	login := func(addr, user, pw string) (*pb.RemoteReference, *lineMind) {
		br, err := pb.Dial(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { br.Close() })
		m := &lineMind{lines: make(chan string, 10)}
		av, err := br.Login(ctx, &cred.UsernamePassword{Username: user, Password: []byte(pw)}, m)
		if err != nil {
			t.Fatal(err)
		}
		g, err := av.CallRemote(ctx, "joinGroup", "#c")
		if err != nil {
			t.Fatal(err)
		}
		return g.(*pb.RemoteReference), m
	}
	ga, ma := login(a.addr, "alice", demoUsers["alice"])
	gb, mb := login(b.addr, "bob", demoUsers["bob"])
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := ga.CallRemote(ctx, "members")
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(v.([]any), []any{"alice", "bob"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members on a = %v", v)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := gb.CallRemote(ctx, "send", "hi from b"); err != nil {
		t.Fatal(err)
	}
	for who, m := range map[string]*lineMind{"alice": ma, "bob": mb} {
		select {
		case l := <-m.lines:
			if l != "<bob> says: hi from b" {
				t.Errorf("%s heard %q", who, l)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s heard nothing", who)
		}
	}
	if _, err := ga.Broker().Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("wrong")}, nil); err == nil {
		t.Fatal("wrong password accepted")
	}

	m := metricsRE.FindStringSubmatch(a.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", a.stderr)
	}
	code, body := httpGet(t, "http://"+m[1]+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"spread_pb_connections 1\n", "spread_pb_logged_in 1\n",
		`spread_pb_logins_total{result="ok"} 1` + "\n", `spread_pb_logins_total{result="refused"} 1` + "\n",
		"spread_bus_connected 1\n", "spread_bus_nodes 1\n",
		`spread_bus_messages_total{event="delivered"} 1` + "\n", `spread_bus_messages_total{event="duplicate"} 0` + "\n",
		"spread_bus_lag_seconds_count 1\n", "spread_serving 1\n", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body = httpGet(t, "http://"+m[1]+"/healthz")
	var h struct {
		Node    string
		Serving bool
		Bus     string
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || h != (struct {
		Node    string
		Serving bool
		Bus     string
	}{"a", true, "connected"}) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	n.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, body = httpGet(t, "http://"+m[1]+"/healthz")
		if strings.Contains(body, `"bus":"unreachable"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with NATS stopped: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(a.stderr.String(), "cluster: NATS unreachable") {
		t.Errorf("the outage was not logged:\n%s", a.stderr)
	}
	for _, s := range []*server{a, b} {
		for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
			if !regexp.MustCompile(` node=[ab]$`).MatchString(line) {
				t.Errorf("a log line without its node: %s", line)
			}
		}
	}
}

func TestChatServeBadClusterFlags(t *testing.T) {
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--cluster", "http://127.0.0.1:4222").
		expect(t, "http URL", 2, "", `--cluster: \"http://127.0.0.1:4222\" is not a nats://HOST:PORT URL`)
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--cluster", " , ").
		expect(t, "no URL", 2, "", "--cluster: no NATS URL")
	spread(t, "", "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--metrics", "256.0.0.1:1").
		expect(t, "metrics cannot listen", 1, "", "chat: listen")
}

// A broker whose NATS is absent serves its own members and says so.
func TestChatServeWithoutNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := natstest.Start(t)
	url := n.URL()
	n.Kill()
	s := startServe(t, ctx, "chat", "serve", "--listen", "127.0.0.1:0", "--demo", "--cluster", url)
	if !strings.Contains(s.stderr.String(), "cluster: NATS unreachable: serving local members only") {
		t.Errorf("the absent bus was not logged:\n%s", s.stderr)
	}
	t.Setenv("SPREAD_PASSWORD", demoUsers["bob"])
	spread(t, "alone\n", "chat", "join", "--server", s.addr, "--user", "bob", "--group", "#solo").
		expect(t, "join", 0, "<bob> says: alone\n", "")
}
