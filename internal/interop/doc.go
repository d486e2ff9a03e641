// Package interop holds the tests that run Spread against real Twisted
// peers (/usr/bin/python3 with Debian's python3-twisted) on 127.0.0.1,
// in both directions. It has no non-test code besides this comment.
package interop
