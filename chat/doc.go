// Package chat is the chat service of Twisted's PB documentation, in Go.
//
// A [Server] is a cred.Realm: each login gets a [User] avatar. A user
// calls joinGroup(groupname, allowMattress=True) and gets the [Group]
// back as a Viewable, so the group knows who calls it. Group.send
// delivers "<name> says: message" to every member's mind through its
// remote print(message) method. The first user to join a group decides
// its allowMattress; a group that forbids it refuses any message
// containing "mattress" with a ValueError, "Don't say that word".
// Members leave their groups when they log out or disconnect.
//
// Sends from one user to one group are delivered in the order they were
// made (PB starts calls to one object in arrival order), and every
// member's mind receives the messages in the order the group sent them.
package chat
