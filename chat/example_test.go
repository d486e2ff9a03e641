package chat_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/gospread/spread/chat"
)

// printer is a member that prints what it is given: the smallest
// transport.
type printer struct{ name string }

func (p printer) Deliver(line string) error {
	fmt.Printf("%s hears %s\n", p.name, line)
	return nil
}
func (p printer) Error(err error) { fmt.Printf("%s is told %v\n", p.name, err) }
func (p printer) Leave()          { fmt.Printf("%s has left\n", p.name) }

// A transport attaches its members and acts for them through their
// sessions; the group logic is the same whatever carries the lines.
func ExampleServer_Attach() {
	s := chat.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ann := s.Attach("ann", printer{"ann"})
	ben := s.Attach("ben", printer{"ben"})

	g, _ := ann.Join("#quiet", false) // the first member decides: no mattress
	ben.Join("#quiet", true)
	ben.Send(g, "hello")
	if err := ann.Send(g, "a mattress"); errors.Is(err, chat.ErrForbiddenWord) {
		fmt.Println("refused:", err)
	}
	ann.Leave()
	fmt.Println(g.Members())
	// Output:
	// ann hears <ben> says: hello
	// ben hears <ben> says: hello
	// refused: chat: Don't say that word
	// ann has left
	// [ben]
}
