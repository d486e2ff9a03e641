package chat_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gospread/spread/chat"
	"github.com/gospread/spread/pb"
)

// memMember is a member that lives in memory: no PB, no network.
type memMember struct {
	mu      sync.Mutex
	lines   []string
	errs    []error
	leaves  int
	failing error // Deliver returns this when set
	got     chan string
}

func newMemMember() *memMember { return &memMember{got: make(chan string, 100)} }

func (m *memMember) Deliver(line string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return m.failing
	}
	m.lines = append(m.lines, line)
	m.got <- line
	return nil
}

func (m *memMember) Error(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, err)
}

func (m *memMember) Leave() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves++
}

func (m *memMember) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-m.got:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line delivered")
		return ""
	}
}

func nextLine(t *testing.T, m *mind) string {
	t.Helper()
	select {
	case l := <-m.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line printed")
		return ""
	}
}

// A member that is not a PB client shares a group with PB members: each
// hears the others, and the group's rules and errors are the same for
// both, in each one's own form.
func TestInMemoryMemberWithPBMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, _, _, addr := start(t, nil)

	_, aa, ma := login(t, ctx, addr, "alice")
	gv, err := aa.CallRemote(ctx, "joinGroup", "#mixed", pb.Kw{"allowMattress": false})
	if err != nil {
		t.Fatal(err)
	}
	ga := gv.(*pb.RemoteReference)

	robot := newMemMember()
	rs := cs.Attach("robot", robot)
	g, err := rs.Join("#mixed", true)
	if err != nil {
		t.Fatal(err)
	}
	if g.AllowMattress() {
		t.Error("the second member changed the group's allowMattress")
	}
	_, ab, mb := login(t, ctx, addr, "bob")
	gv, err = ab.CallRemote(ctx, "joinGroup", "#mixed")
	if err != nil {
		t.Fatal(err)
	}
	gb := gv.(*pb.RemoteReference)
	if got, want := g.Members(), []string{"alice", "robot", "bob"}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}

	// A PB member speaks: the PB members and the in-memory one hear it.
	if _, err := ga.CallRemote(ctx, "send", "hello"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{nextLine(t, ma), nextLine(t, mb), robot.next(t)} {
		if l != "<alice> says: hello" {
			t.Errorf("heard %q", l)
		}
	}
	// The in-memory member speaks: the PB members' minds print it.
	if err := rs.Send(g, "beep"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{nextLine(t, ma), nextLine(t, mb), robot.next(t)} {
		if l != "<robot> says: beep" {
			t.Errorf("heard %q", l)
		}
	}
	// The group's rule: a chat error for the in-memory member, Twisted's
	// ValueError for a PB member.
	if err := rs.Send(g, "a mattress"); !errors.Is(err, chat.ErrForbiddenWord) {
		t.Errorf("in-memory mattress = %v", err)
	}
	_, err = gb.CallRemote(ctx, "send", "my mattress")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "Don't say that word" {
		t.Errorf("PB mattress = %v", err)
	}

	// A delivery that fails is told to that member only; the others hear
	// the line.
	broken := errors.New("transport gone")
	robot.mu.Lock()
	robot.failing = broken
	robot.mu.Unlock()
	if _, err := gb.CallRemote(ctx, "send", "still here"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{nextLine(t, ma), nextLine(t, mb)} {
		if l != "<bob> says: still here" {
			t.Errorf("heard %q", l)
		}
	}
	robot.mu.Lock()
	if len(robot.errs) != 1 || !errors.Is(robot.errs[0], broken) {
		t.Errorf("robot was told %v", robot.errs)
	}
	robot.failing = nil
	robot.mu.Unlock()

	// Leaving: out of the group, told once, no more joins.
	rs.Leave()
	rs.Leave()
	if got, want := g.Members(), []string{"alice", "bob"}; !slices.Equal(got, want) {
		t.Errorf("members after leave = %v, want %v", got, want)
	}
	robot.mu.Lock()
	if robot.leaves != 1 {
		t.Errorf("Leave ran %d times", robot.leaves)
	}
	robot.mu.Unlock()
	if _, err := rs.Join("#mixed", true); !errors.Is(err, chat.ErrLoggedOut) {
		t.Errorf("join after leave = %v", err)
	}
	if _, err := ga.CallRemote(ctx, "send", "bye"); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, mb); l != "<alice> says: bye" {
		t.Errorf("bob heard %q", l)
	}
	select {
	case l := <-robot.got:
		t.Errorf("robot heard %q after leaving", l)
	default:
	}
}

// The chat's errors say where they come from; the PB edge shows Python
// clients the bare text.
func TestErrorText(t *testing.T) {
	if got := chat.ErrForbiddenWord.Error(); got != "chat: Don't say that word" {
		t.Errorf("Error() = %q", got)
	}
}
