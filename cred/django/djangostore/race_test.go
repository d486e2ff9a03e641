//go:build race

package djangostore

// raceEnabled: the race detector slows pure-Go hashing (bcrypt's
// Blowfish, PBKDF2's HMAC loop) about tenfold.
const raceEnabled = true
