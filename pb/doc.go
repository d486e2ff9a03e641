// Package pb is Twisted's Perspective Broker in Go: remote objects over
// banana and jelly, wire-compatible with Twisted 22.4 in both roles.
// The wire protocol is described in the repository's docs/protocol.md.
//
// # Connections
//
// A [Server] accepts connections and gives each its own [Broker] and its
// own root object: Config.Root is called once per connection, or, with
// Config.Portal, the root is the cred login root. [Dial] connects a
// client; [Broker.Root] is the server's root, and [Broker.Login] logs in
// with a cred.Credentials. TLS is Config.TLS on both sides ([ServerTLS],
// [ClientTLSCA], [ClientTLSPinned]).
//
// # Objects
//
// Values travel by copy (jelly's types and registered Copyables) or by
// reference. A struct that embeds [Referenceable] travels by reference:
// the peer gets a [RemoteReference] whose calls run the struct's methods
// named Remote<Name>. A struct that embeds [Viewable] gives each
// perspective its own reference, and its View<Name> methods receive the
// calling perspective. A realm's avatar is called through its
// Perspective<Name> methods. [Cacheable] values are copied once per
// connection and updated through an [Observer]; the receiving side
// registers a [RemoteCache] constructor in Config.Caches and gets
// Observe<Name> calls. A reference sent back to its owner arrives as the
// original object.
//
// # Remote methods
//
// Remote methods are found by name, and only methods with a prefix can
// be called: a peer's call "joinGroup" runs PerspectiveJoinGroup on an
// avatar, RemoteJoinGroup on a Referenceable, ViewJoinGroup on a
// Viewable and ObserveJoinGroup on a RemoteCache.
//
// A method may take, in order: a context.Context; for View methods the
// calling perspective; then either positional parameters (the last may
// be variadic) or one struct whose fields carry `pb:"name"` tags, which
// also accepts keyword arguments and defaults:
//
//	type JoinArgs struct {
//		Group         string `pb:"groupname"`
//		AllowMattress bool   `pb:"allowMattress,default=true"`
//	}
//
// It returns nothing, a value, an error, or a value and an error.
// Arguments that do not fit the parameters fail the call with a
// TypeError for the caller. An object may also implement [Dispatcher] to
// handle calls itself.
//
// # The call model
//
// Each connection has one reader goroutine and one serialized writer:
// senders queue encoded bytes in order, and a flusher goroutine, which
// exists only while there is something to write, moves them to the
// socket. Handlers run on worker goroutines that a process shares and
// that end after two idle seconds, or on the reader itself:
//
// After decoding a read, the reader runs the first call it brought to an
// idle object itself, and the calls queued behind it on that object,
// as long as their method is not known to be slow; then it writes all
// their answers in one write. That saves waking a worker and the
// flusher: with many calls to one object pipelined, a read's worth of
// calls costs one write. Calls to other objects go to workers. If one
// call runs for more than 1-2 ms, or waits for an answer from the
// peer, another goroutine takes over the reading (and the answers made
// so far leave), so a blocking handler delays reading by at most that
// long; its method then runs on workers, until 16 quick calls in a row
// there show that the delay was a pause of the process, not the
// handler. Apart from that, user code never runs on the reader, with one
// exception: a RemoteCache's constructor and its SetCacheState run
// while the value that carries it is decoded, so they must not block.
// User code never runs under a broker lock.
//
// On a plain TCP connection the reader reads the socket itself and
// decodes inside RawConn.Read: after a read that emptied the socket it
// waits for the poller rather than for a read that fails with EAGAIN,
// one system call per burst of input instead of two. It takes a read
// buffer from a shared pool only once data is there.
//
// A plain TCP connection silent for a quarter of a second is parked: on
// Linux its reader ends and one process-wide goroutine, in epoll_wait,
// starts a new one when the socket is readable again (elsewhere the
// reader goes on waiting on a fresh goroutine, whose stack is the
// smallest). An idle connection then costs its buffers and tables, no
// goroutine; a parked connection that wakes pays two epoll_ctl calls
// and a goroutine start.
//
//   - Incoming calls start in the order they arrive, per target object:
//     a second call to the same object starts when the first returns.
//     Calls to different objects run concurrently. A handler may block,
//     for example while it calls back into the peer, without stalling
//     the connection. A handler that does not need the ordering calls
//     [Go](ctx) to let the next call to its object start at once.
//   - A handler's context ends when the connection ends.
//   - [RemoteReference.CallRemote] blocks until the answer, the end of
//     ctx, or the end of the connection. PB has no cancel message: when
//     ctx ends first, the late answer is dropped.
//   - When the connection ends, pending calls fail with a
//     [ConnectionLostError] (errors.Is ErrConnectionLost), every
//     RemoteReference from it dies, and every avatar logs out exactly
//     once.
//
// # Errors
//
// A handler's [*Error] reaches a Python caller as that Python exception
// type (for example [ValueError] gives builtins.ValueError); other errors
// as twisted.spread.pb.Error. A handler panic becomes a RuntimeError for
// the caller and is logged; the connection lives on. The peer's failures
// arrive as [*RemoteError] with type, value and traceback. Protocol
// violations close the connection with a [*ProtocolError]; unknown
// methods, dead or forged ids and bad arguments only fail the call.
//
// # Staying connected
//
// A [Session] keeps a client logged in across server restarts:
// backoff with jitter, the same credentials and mind at every login,
// SessionConfig.OnConnect on every new connection; it gives up only on
// UnauthorizedLogin or when its context ends. TCP keep-alive is on by
// default; a [Probe] closes a connection whose peer stopped answering.
// [RemoteReference.NotifyOnDisconnect] tells when a reference's
// connection ends. Failures also travel as values ([Failure], Twisted's
// CopyableFailure). docs/guide.md shows them together in a worker for a
// Twisted master.
//
// # Limits
//
// Every connection is bounded: banana's size, depth and expression
// limits, Config.MaxRefs exported objects (Twisted's 1024),
// Config.MaxImports proxies, Config.MaxCallsInFlight incoming calls, and
// Config.MaxQueuedBytes of output waiting for a peer that does not read
// (that peer is disconnected and logged).
//
// Config.Limits ([Limits]) bounds what peers can make a process hold:
//
//   - A [Server] caps its open connections, and lower, the connections
//     not logged in yet (with Config.Portal), in all and per remote IP
//     address. A connection over a cap is closed as soon as it is
//     accepted. The defaults follow the process's file limit, so that a
//     flood of connections that never log in cannot take the files the
//     logged-in users need. An accept error (out of files, a connection
//     aborted) is logged and retried after a short pause: Serve never
//     ends because of a peer.
//   - A connection of a Portal server that has not logged in within
//     Limits.LoginTimeout (30 s) is closed; an optional IdleTimeout
//     closes silent ones. A message started and not finished within
//     MessageTimeout (30 s) closes the connection. These are timers of
//     their own, so they hold for parked connections too.
//   - Byte budgets per connection and per process: unfinished input,
//     queued output, and the calls in flight (a handler waiting for an
//     answer the peer never sends holds its arguments). Over a budget, a
//     call is refused with an error reply, or the connection that grows
//     is closed ([BudgetError]); [BudgetUse] reports the process's use.
//   - Logs: text from the peer is shortened and escaped in every log
//     line; one connection logs at most Limits.LogLinesPerMinute lines a
//     minute and a count of the rest; lines about whole connections
//     (refused, timed out, closed for bad input) are rate-limited per
//     server.
package pb
