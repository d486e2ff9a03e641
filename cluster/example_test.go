package cluster_test

import (
	"context"
	"fmt"

	"github.com/gospread/spread/cluster"
)

// printer prints what the other brokers send.
type printer struct{}

func (printer) Deliver(group, from string, payload []byte) {
	fmt.Printf("%s in %s: %s\n", from, group, payload)
}

func (printer) Options(group string, options []byte) {
	fmt.Printf("%s now has options %s\n", group, options)
}

// A broker opens its groups, announces its members and publishes; the
// other brokers' Handlers get the messages, and Members lists theirs.
// (Not run: it needs a nats-server.)
func ExampleNew() {
	bus, err := cluster.New(&cluster.Config{Servers: []string{"nats://127.0.0.1:4222"}, Node: "b1"}, printer{})
	if err != nil {
		panic(err)
	}
	defer bus.Close(context.Background())

	opts, _ := bus.Open("#general", []byte(`{"allowMattress":true}`)) // the first creator's options win
	fmt.Printf("#general: %s\n", opts)
	bus.AddMember("#general", "alice")
	bus.Publish("#general", []byte("<alice> says: hi")) // never waits for NATS
	fmt.Println("elsewhere:", bus.Members("#general"))
}
