// Package crosscheck holds a live test that round-trips random jelly values
// between this module (packages jelly and banana) and real Twisted 22.4
// (/usr/bin/python3), checking byte-for-byte agreement in both directions.
package crosscheck
