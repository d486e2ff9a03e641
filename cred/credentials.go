package cred

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
)

// Kind names what a set of credentials can prove. Checkers declare the
// kinds they accept; the Portal routes credentials by kind.
type Kind string

// The kinds of credentials Spread knows.
const (
	// KindPassword: the plaintext password is available to the checker.
	KindPassword Kind = "password"
	// KindChallenge: an MD5 challenge/response, as Perspective Broker's
	// login sends it. Needs the password or its MD5 on the server.
	KindChallenge Kind = "challenge"
	// KindAnonymous: no proof.
	KindAnonymous Kind = "anonymous"
)

// Credentials is what a client presents to log in.
type Credentials interface {
	// Kind tells the Portal which checkers can verify these credentials.
	Kind() Kind
}

// PasswordProver is implemented by credentials that can be checked
// against a known plaintext password. Both UsernamePassword and
// UsernameChallenge implement it, so a checker that stores passwords in
// the clear can serve both.
type PasswordProver interface {
	Credentials
	// User returns the user name exactly as the client sent it.
	User() string
	// CheckPassword reports, in constant time, whether password matches.
	CheckPassword(password []byte) bool
}

// UsernamePassword carries a plaintext password. Checkers that hold
// salted hashes need this kind.
type UsernamePassword struct {
	Username string
	Password []byte
}

// Kind returns KindPassword.
func (c *UsernamePassword) Kind() Kind { return KindPassword }

// User returns the user name.
func (c *UsernamePassword) User() string { return c.Username }

// CheckPassword compares password with the one presented, in constant
// time. It compares SHA-256 digests, so that not even the length of the
// stored password shows in the timing.
func (c *UsernamePassword) CheckPassword(password []byte) bool {
	a, b := sha256.Sum256(c.Password), sha256.Sum256(password)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String never shows the password.
func (c *UsernamePassword) String() string {
	return "UsernamePassword(" + c.Username + ", <hidden>)"
}

// UsernameChallenge carries Perspective Broker's challenge response:
// Response = MD5(MD5(password) || Challenge).
type UsernameChallenge struct {
	Username  string
	Challenge []byte
	Response  []byte
}

// Kind returns KindChallenge.
func (c *UsernameChallenge) Kind() Kind { return KindChallenge }

// User returns the user name.
func (c *UsernameChallenge) User() string { return c.Username }

// CheckPassword reports whether the response was computed from password.
func (c *UsernameChallenge) CheckPassword(password []byte) bool {
	sum := md5.Sum(password)
	return c.CheckMD5(sum[:])
}

// CheckMD5 reports whether the response was computed from a password
// whose MD5 digest (16 raw bytes) is passwordMD5.
func (c *UsernameChallenge) CheckMD5(passwordMD5 []byte) bool {
	h := md5.New()
	h.Write(passwordMD5)
	h.Write(c.Challenge)
	return subtle.ConstantTimeCompare(h.Sum(nil), c.Response) == 1
}

// String never shows the response.
func (c *UsernameChallenge) String() string {
	return "UsernameChallenge(" + c.Username + ", <hidden>)"
}

// ChallengeResponse computes the response a client sends for password
// and challenge.
func ChallengeResponse(password, challenge []byte) []byte {
	sum := md5.Sum(password)
	h := md5.New()
	h.Write(sum[:])
	h.Write(challenge)
	return h.Sum(nil)
}

// Anonymous carries no proof.
type Anonymous struct{}

// Kind returns KindAnonymous.
func (Anonymous) Kind() Kind { return KindAnonymous }
