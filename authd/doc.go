// Package authd is Spread's central authentication server and the
// checker with which a broker delegates logins to it: log in once,
// reach every broker, with tickets that stock Twisted clients can use.
//
// # The flow
//
//  1. A user logs in to authd with the ordinary PB login (Twisted's
//     challenge login, or Spread's password login where the store holds
//     hashes). The avatar has ticket(service), which returns a ticket (a
//     str) for the broker named service, and logout().
//  2. The user logs in to that broker with UsernamePassword(user,
//     ticket): a stock Twisted PBClientFactory.login.
//  3. The broker's [Checker] forwards the challenge and the response (or,
//     for Spread's password login, the ticket) to authd over its own PB
//     connection; authd checks them against the MD5 of each live ticket
//     of that user for that service, in constant time, consumes the one
//     that matches, and answers the avatar id and a revocation handle.
//
// Tickets have 256 bits from crypto/rand, are valid once, only at the
// service they name, for Config.TicketTTL (a minute), and end with the
// authd login that issued them. They are never logged; authd keeps only
// their SHA-256 and MD5.
//
// # Services
//
// A broker is a service with its own account in authd's services file
// ([Services], bcrypt hashes). It logs in as [ServicePrefix]+name with
// Spread's password login (TLS or loopback), handing authd a mind. A
// service can redeem only its own tickets (unless it has the proxy
// option), cannot mint tickets, and cannot log in as a user; a user's
// avatar has no service methods. docs/authd.md documents the service
// protocol, for brokers written in Python.
//
// # Revocation
//
// When a user logs out at authd, the authd login expires
// (Config.SessionTTL), or an operator revokes the user
// ([Server.RevokeUser], or revokeUser from an admin service), authd
// calls revoke(user, handle) on the mind of every service that redeemed
// one of that login's tickets. The [Checker] then closes the PB
// connections of those sessions, which runs the realm's logout.
//
// A broker can miss such a call: it was not connected (authd keeps the
// revocations of a service none of whose minds is connected, in memory,
// for its next login there), another instance of the service was, or it
// comes back to another authd process. So each time a [Checker] logs in
// at authd it reconciles: it asks ended(handles) about the sessions it
// tracked before, in batches, and closes those whose login has ended.
// A handle starts with the id of the state that issued it (random per
// process with memory state, one per database with [SQLState]); authd
// judges only its own state's handles and answers the others as
// unknown, which the checker keeps (and logs), so that an authd that
// never knew a session never ends it. docs/authd.md 4.1 has the rules.
//
// # Outages
//
// When authd cannot be reached, a Checker answers at once with a
// *cred.UnavailableError (the client is told the login cannot be checked
// now), keeps every open session, and reconnects with backoff.
//
// # Several processes
//
// With Config.State ([OpenSQLState]) the sessions and tickets live in
// PostgreSQL, and several authd processes serve the same users: a
// ticket minted at one is redeemed through any other exactly once (a
// conditional DELETE decides), and a session ended at one is revoked at
// the services connected to any (PostgreSQL NOTIFY, and a table of
// recent revocations that a process replays after its listening
// connection was down). A [Checker] given
// several addresses (CheckerConfig.Addr "A,B") connects to the first
// that answers and moves to the next when it is lost.
//
// # Recursion
//
// With Config.Upstream an authd is itself a service of another one:
// user logins and tickets it does not know are checked upstream, so
// broker -> regional authd -> central authd works. The upstream accepts
// this only from services with the proxy option.
package authd
