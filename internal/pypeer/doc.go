// Package pypeer runs real Twisted Perspective Broker peers for interop tests.
//
// The peers are small Python scripts in the py directory, written against
// Twisted's public API (twisted.spread.pb, twisted.cred) and run with
// Debian's /usr/bin/python3 and python3-twisted (Twisted 22.4). The python3
// found on PATH is not used: it may have no Twisted.
//
// Scripts (see each file's docstring for details):
//
//	echo_server.py [PORT]                 the Echo service (root object, no login)
//	echo_client.py HOST:PORT [--only RE] [--skip RE] [--timeout S]
//	                                      checks an Echo server; one JSON line per check
//	login_server.py [PORT] [--anonymous]  PBServerFactory(portal): user1/pass1, user2/pass2
//	login_client.py HOST:PORT (USER PASS | --anonymous) [--arg N] [--call-mind TEXT] [--timeout S]
//	                [--bind HOST] [--password-login]
//	                                      logs in (from HOST; with Spread's loginPassword),
//	                                      calls foo(N), prints one JSON line
//	echo_types.py                         Point/RemotePoint, Counter/RemoteCounter (shared module)
//	authd_client.py                       a stock Twisted client driven line by line on stdin
//	                                      (authd login, tickets, broker logins, logout, waiting
//	                                      for a connection to close); one JSON line per command
//
// Servers bind to 127.0.0.1, print "LISTENING <port>" once ready and stop
// cleanly (exit status 0) on SIGTERM. StartServer starts one and stops it when
// the test ends; RunClient runs a client script to completion. Missing Python
// or Twisted is a test failure (t.Fatal), never a skip.
package pypeer
