// Package cluster is the bus between brokers: it carries a group's
// messages from one broker to the others, tells each broker who is in a
// group elsewhere, agrees on each group's options, and notices brokers
// that have gone. It runs on core NATS (github.com/nats-io/nats.go) and
// knows nothing of PB or of the chat: groups are names, members are
// names, messages and options are bytes.
//
// # Subjects
//
// With the default prefix "spread":
//
//	spread.g.<group>   a group's messages (the name in unpadded base64url)
//	spread.state       each broker's state: its groups, their options and
//	                   its members in them; also its heartbeat
//
// A broker subscribes to the subject of every group it knows, so NATS
// routes a group's messages only to brokers that have it. Every broker
// subscribes to spread.state.
//
// # Delivery
//
// Each broker (a node) has a name and an incarnation, a random number
// drawn when its Bus starts. Messages carry the sending node, its
// incarnation and a sequence number per group. A receiver hands a
// message to its [Handler] only when its sequence number is above the
// last one it delivered from that node's incarnation and group: a
// message is delivered at most once, and in the order its sender
// published it, whatever NATS does across an outage. A gap (messages
// NATS lost, for instance while a broker was cut off) is counted in
// [Stats].Lost and logged; there is no retransmission. The connection
// does not echo a node's own messages: the chat delivers those to its
// local members itself.
//
// Publish never waits for the network: messages go into a bounded
// queue (Config.MaxQueued) that one goroutine hands to NATS. A full
// queue refuses the message ([ErrQueueFull]) and counts it. While NATS
// is unreachable, the client reconnects forever and the queue holds
// what is published; once NATS is back, the queue is sent when every
// node known before the outage has been heard again (so that their
// subscriptions are back too), or after Timeout. The outage and the
// recovery are logged at Error and Info. Config.ReconnectBuffer bounds
// what the NATS client itself keeps in the moment between a break and
// its detection.
//
// # Membership and liveness
//
// A node publishes its whole state on spread.state when it changes
// (coalesced, at most every StateDelay) and every Heartbeat. A node not
// heard from for Timeout is gone: its members leave every group's
// remote member list. A node that stops cleanly says so (Close), and
// leaves at once. When a node hears a node it did not know (a new
// broker, or one back after an outage), it publishes its own state at
// once, so that the newcomer learns the cluster within a round trip.
//
// # Group options
//
// Options are agreed by the first creator: each group carries a stamp,
// the creation time on its creator's clock and the creator's node name.
// [Bus.Open] adopts the options of the group as another node already
// announced it; when two nodes create a group at nearly the same time,
// every node keeps the options with the smaller stamp (earlier time,
// then smaller node name), and [Handler].Options tells it when that
// replaces what it had. Until the states have crossed (one round trip
// after the later creation) the two creators may apply their own.
//
// # Limits
//
// A node's state is one NATS message; with NATS's default 1 MB payload
// limit it holds some tens of thousands of member names. Lag
// ([Stats].Lag) is measured on the sender's clock and is meaningful
// only between machines whose clocks agree.
package cluster
