// Package web is the chat in a browser: an http.Handler for each
// logged-in user, served behind package guard, whose page talks to the
// chat over a WebSocket.
//
// A [Chat] gives the chat's web avatars (it is a chat.WebAvatars): put
// it in a chat.Realm beside the chat.Server, and the same cred.Portal,
// the same users and the same groups serve Perspective Broker clients
// and browsers. A browser is a chat member like a PB client: what it
// sends reaches PB members as "<alice> says: ...", and what they send
// appears in the page.
//
// # Paths
//
// The avatar serves, relative to where it is mounted (the site's root
// behind a guard):
//
//   - GET / the chat page: plain HTML, CSS and a little JavaScript
//     embedded in the binary, with a strict Content-Security-Policy and
//     Cache-Control: no-store (the back button after a logout does not
//     show the chat again);
//   - GET chat.css, chat.js: the page's style and script;
//   - GET ws: the WebSocket;
//   - GET keepalive: 204, a request the page makes while its user is
//     active, so that the guard's idle timeout counts activity in the
//     page and not only page loads.
//
// # The WebSocket
//
// The upgrade is a request of the guard's session: without a session
// the guard refuses it (401), and the socket closes (status 4001,
// "session ended") when the session ends: logout, expiry, a changed
// password, the guard's Close. A cross-site upgrade is refused (403):
// a browser's Origin must be the page's own scheme and host, or one of
// Config.TrustedOrigins, and Sec-Fetch-Site must not be cross-site.
//
// Frames are JSON objects with a "type". The page sends
//
//	{"type": "join", "group": "#g", "allowMattress": false}
//	{"type": "send", "message": "hi"}
//
// and receives "hello" (its user name), "joined" (the group, whether it
// allows the mattress, its members), "members" (the group's members,
// when they change), "line" (a line the group sent, as
// "<bob> says: hi") and "error" (a chat error such as "Don't say that
// word", or a malformed frame). A socket is in one group at a time:
// joining another leaves the first. Each socket is its own chat member,
// so each anonymous visitor gets its own guest-N name.
//
// Memory per socket is bounded: frames larger than Config.MaxFrameBytes
// close the socket (1009), and a browser that does not read its lines
// fast enough to keep Config.SendQueue of them queued is disconnected
// (1008, "too slow") instead of holding the group up.
//
// Member lists follow joins and leaves of browser members at once, and
// of members on other transports (PB) within Config.MembersInterval.
//
// This package imports chat and guard (and github.com/coder/websocket).
package web
