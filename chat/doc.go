// Package chat is the chat service of Twisted's PB documentation, in Go.
//
// Members join named groups and send lines to them; a group delivers
// "<name> says: message" to every member. The first member to join a
// group decides its allowMattress; a group that forbids it refuses any
// message containing "mattress" with [ErrForbiddenWord]. Members leave
// their groups when their session ends.
//
// # The transport seam
//
// The group logic knows a participant only as a [Member]: something
// that can be handed a line, told of an error, and told that it has
// left. A transport attaches a member with [Server.Attach] and acts for
// it through the returned [Session] (Join, Send, Leave). Failures are
// the chat's own [Error] values; each transport shows them in its own
// form.
//
// PB is one transport (pbmember.go). A [Server] is a cred.Realm: each
// PB login gets a [User] avatar whose member prints to the client's
// mind through its remote print(message) method. The user calls
// joinGroup(groupname, allowMattress=True) and gets the group back as a
// Viewable ([GroupView]), so the group knows who calls its send. Chat
// errors reach Python clients as the exceptions Twisted's example
// raises: builtins.ValueError for a missing group name and for
// "Don't say that word", twisted.spread.pb.Error otherwise. Anonymous
// logins are named guest-N.
//
// Browsers are another transport (package chat/web). [Realm] is the
// chat's one realm for both: PB perspectives from the Server, web
// avatars (cred.IHTTPHandler) from its Web, for the same users and the
// same cred.Portal.
//
// # Across brokers
//
// [Server.JoinCluster] joins several chat servers (brokers) into one
// service over NATS (package cluster): a group's lines reach its members
// on every broker once, in the order each sender sent them; its
// allowMattress is the one of the first member to create it on any
// broker; its member list shows the members of every live broker (the
// members of a broker that stops answering leave the lists after the
// bus's timeout, three seconds by default). A broker keeps serving its
// own members while NATS is unreachable. The PB group also answers
// members(), a Spread addition, with that list.
//
// Sends from one PB user to one group are delivered in the order they
// were made (PB starts calls to one object in arrival order), and every
// member receives the messages of a group in the order the group sent
// them.
package chat
