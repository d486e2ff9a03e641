package checkers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/cred"
)

// ErrUnsupportedHash is matched (together with cred.ErrUnauthorizedLogin)
// by the error of a login for a user whose htpasswd entry is not a bcrypt
// hash. Such a login is always refused.
var ErrUnsupportedHash = errors.New("checkers: htpasswd entry is not a supported bcrypt hash")

// Htpasswd checks logins against an Apache htpasswd file whose entries
// are bcrypt hashes ("$2y$", "$2a$" or "$2b$", as made by htpasswd -B).
// It accepts cred.KindPassword only: bcrypt cannot verify a challenge
// response, so Perspective Broker's MD5 login cannot use this checker.
//
// The file is parsed as Apache's mod_authn_file reads it: white space
// around each line is removed; blank lines and lines starting with "#"
// are skipped; the user name runs up to the first ":" and the hash up to
// the next ":" or the end of the line. Lines without ":" or with an empty
// user name are skipped. User names are case-sensitive. When a user name
// appears more than once, the first line wins.
//
// Entries in other formats ("{SHA}", "$apr1$", crypt(3), plaintext, the
// buggy "$2x$" variant) are not refused at load time, so that one odd
// line does not lock everybody out: they never match. A login for such a
// user costs one dummy bcrypt comparison and returns an error matching
// both cred.ErrUnauthorizedLogin and ErrUnsupportedHash. Unsupported
// lists those users so that a program can warn at startup.
//
// A login for an unknown user is compared against a dummy bcrypt hash of
// the most common cost in the file, so it takes about as long as a wrong
// password.
//
// Passwords longer than 72 bytes are compared on their first 72 bytes,
// as bcrypt (and Apache) do.
//
// The file is read by NewHtpasswd and again whenever it changes (see the
// package documentation). It is safe for concurrent use.
type Htpasswd struct {
	file *watchedFile[*htpasswdData]

	dummyMu sync.Mutex
	dummies map[int][]byte // cost -> dummy hash of that cost

	// compare is bcrypt.CompareHashAndPassword; tests count its calls.
	compare func(hash, password []byte) error
}

type htpasswdEntry struct {
	hash      []byte
	supported bool
}

type htpasswdData struct {
	users       map[string]htpasswdEntry
	unsupported []string
	dummy       []byte // bcrypt hash of a random password, at the usual cost
}

// NewHtpasswd reads the htpasswd file at path. It fails only if the file
// cannot be read.
func NewHtpasswd(path string) (*Htpasswd, error) {
	h := &Htpasswd{dummies: make(map[int][]byte), compare: bcrypt.CompareHashAndPassword}
	h.file = newWatchedFile(path, h.parse)
	if _, err := h.file.get(); err != nil {
		return nil, err
	}
	return h, nil
}

// Kinds returns cred.KindPassword.
func (h *Htpasswd) Kinds() []cred.Kind { return []cred.Kind{cred.KindPassword} }

// CheckCredentials returns the user name if c (a *cred.UsernamePassword)
// carries the user's password. It re-reads the file first if it has
// changed.
func (h *Htpasswd) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	up, err := plainPassword(c)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := h.file.get()
	if err != nil {
		return "", err
	}
	e, known := data.users[up.Username]
	if !known || !e.supported {
		_ = h.compare(data.dummy, up.Password)
		if known {
			return "", fmt.Errorf("%w: user %q: %w", cred.ErrUnauthorizedLogin, up.Username, ErrUnsupportedHash)
		}
		return "", cred.ErrUnauthorizedLogin
	}
	if h.compare(e.hash, up.Password) != nil {
		return "", cred.ErrUnauthorizedLogin
	}
	return up.Username, nil
}

// Unsupported lists, sorted, the users whose entries in the file as last
// read are not bcrypt hashes and therefore never match.
func (h *Htpasswd) Unsupported() []string {
	data, err := h.file.get()
	if err != nil {
		return nil
	}
	return append([]string(nil), data.unsupported...)
}

func (h *Htpasswd) parse(content []byte) (*htpasswdData, error) {
	d := &htpasswdData{users: make(map[string]htpasswdEntry)}
	costs := make(map[int]int)
	for line := range bytes.Lines(content) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		user, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(user) == 0 {
			continue
		}
		hash, _, _ := bytes.Cut(rest, []byte(":"))
		name := string(user)
		if _, dup := d.users[name]; dup {
			continue
		}
		e := htpasswdEntry{hash: bytes.Clone(hash)}
		if cost, ok := bcryptCost(hash); ok {
			e.supported = true
			costs[cost]++
		} else {
			d.unsupported = append(d.unsupported, name)
		}
		d.users[name] = e
	}
	sort.Strings(d.unsupported)

	// The dummy has the most common cost (the higher one on a tie).
	cost, n := bcrypt.DefaultCost, 0
	for c, k := range costs {
		if k > n || (k == n && c > cost) {
			cost, n = c, k
		}
	}
	dummy, err := h.dummy(cost)
	if err != nil {
		return nil, err
	}
	d.dummy = dummy
	return d, nil
}

// dummy returns a bcrypt hash of a random password at cost, made once
// per cost.
func (h *Htpasswd) dummy(cost int) ([]byte, error) {
	h.dummyMu.Lock()
	defer h.dummyMu.Unlock()
	if d, ok := h.dummies[cost]; ok {
		return d, nil
	}
	d, err := bcrypt.GenerateFromPassword(randomSecret(), cost)
	if err != nil {
		return nil, err
	}
	h.dummies[cost] = d
	return d, nil
}

// bcryptCost returns the cost of a supported bcrypt hash.
func bcryptCost(hash []byte) (int, bool) {
	if len(hash) != 60 {
		return 0, false
	}
	switch string(hash[:4]) {
	case "$2a$", "$2b$", "$2y$":
	default:
		return 0, false
	}
	cost, err := bcrypt.Cost(hash)
	if err != nil {
		return 0, false
	}
	return cost, true
}
