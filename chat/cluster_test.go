package chat_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/cluster"
	"github.com/gospread/spread/internal/natstest"
)

func clusterServer(t *testing.T, url, node string) *chat.Server {
	t.Helper()
	s := chat.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	bus, err := s.JoinCluster(&cluster.Config{Servers: []string{url}, Node: node,
		Heartbeat: 100 * time.Millisecond, StateDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(context.Background()) })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two chat servers on one NATS: members on each hear the other's lines
// once, the first creator's rule holds on both, and the member lists
// show both.
func TestChatAcrossBrokers(t *testing.T) {
	n := natstest.Start(t)
	a, b := clusterServer(t, n.URL(), "a"), clusterServer(t, n.URL(), "b")
	ann, ben := newMemMember(), newMemMember()
	as, bs := a.Attach("ann", ann), b.Attach("ben", ben)
	ga, err := as.Join("#g", false) // ann creates #g without mattresses
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b learns of a's #g", func() bool { return slices.Contains(b.Bus().Nodes(), "a") })
	waitFor(t, "a's state has #g", func() bool {
		// b has not opened #g yet; its bus knows a's members.
		return slices.Equal(b.Bus().Members("#g"), []string{"ann"})
	})
	gb, err := bs.Join("#g", true) // ben asks for mattresses: too late
	if err != nil {
		t.Fatal(err)
	}
	if gb.AllowMattress() {
		t.Fatal("b's #g allows mattresses: the first creator (on a) said no")
	}
	if err := bs.Send(gb, "my mattress"); !errors.Is(err, chat.ErrForbiddenWord) {
		t.Fatalf("mattress on b = %v", err)
	}
	waitFor(t, "member lists", func() bool {
		return slices.Equal(ga.Members(), []string{"ann", "ben"}) && slices.Equal(gb.Members(), []string{"ben", "ann"})
	})
	if err := as.Send(ga, "hi ben"); err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(gb, "hi ann"); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for range 2 {
		got["ann"] = append(got["ann"], ann.next(t))
		got["ben"] = append(got["ben"], ben.next(t))
	}
	for who, lines := range got {
		slices.Sort(lines)
		if want := []string{"<ann> says: hi ben", "<ben> says: hi ann"}; !slices.Equal(lines, want) {
			t.Errorf("%s heard %v", who, lines)
		}
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case l := <-ann.got:
		t.Errorf("ann heard an extra %q", l)
	case l := <-ben.got:
		t.Errorf("ben heard an extra %q", l)
	default:
	}
	if _, err := as.Join(strings.Repeat("g", cluster.MaxNameLen+1), true); !errors.Is(err, chat.ErrGroupNameTooLong) {
		t.Errorf("a long group name: %v", err)
	}
	bs.Leave()
	waitFor(t, "ben leaves a's list", func() bool { return slices.Equal(ga.Members(), []string{"ann"}) })
}
