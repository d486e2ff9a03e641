package checkers

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/gospread/spread/cred"
)

// FileDBConfig configures a FileDB. A nil *FileDBConfig, and the zero
// value of every field, gives Twisted's defaults: "user:password" lines,
// case-sensitive user names, plaintext passwords.
type FileDBConfig struct {
	// Delim separates the fields of a line. Empty means ":". It may be
	// longer than one byte.
	Delim string

	// UsernameField and PasswordField are the zero-based indexes of the
	// user name and the password among a line's fields. When both are 0
	// (the zero value) they mean Twisted's defaults, 0 and 1. Otherwise
	// they are used as given and must differ.
	UsernameField int
	PasswordField int

	// CaseInsensitive makes user names match regardless of ASCII case,
	// like Twisted's caseSensitive=False: the name in the file and the
	// name presented are both lowercased (ASCII letters only, as Python's
	// bytes.lower does), and the avatar id is the lowercased name. The
	// zero value, false, is Twisted's default caseSensitive=True.
	CaseInsensitive bool

	// Hash, when set, means the password field holds a hash: a login is
	// accepted when Hash(username, password, stored) equals stored
	// (compared in constant time). username is the name as presented and
	// password the plaintext sent by the client; Hash may use stored to
	// find a salt. A nil result refuses. With Hash set only
	// cred.KindPassword is accepted, since a challenge response cannot be
	// checked against a hash. Without it, passwords are stored in the
	// clear and both cred.KindPassword and cred.KindChallenge are
	// accepted.
	Hash func(username, password, stored []byte) []byte
}

// FileDB checks logins against a text file in the format of Twisted's
// FilePasswordDB: one user per line, fields separated by a delimiter.
//
// Lines are parsed as Twisted parses them, so the same file gives the
// same decisions in both:
//   - lines are separated by "\n"; trailing ASCII white space (including
//     "\r") is removed from each line, leading white space is kept;
//   - a line is split at every delimiter; a line with too few fields for
//     UsernameField and PasswordField (a blank line, say) is skipped, and
//     extra fields are ignored;
//   - there are no comments: "#alice:pw" is a user named "#alice";
//   - an empty password field is a valid, empty password;
//   - a line with an empty user name is skipped. This is the one
//     deliberate difference from Twisted, which lets such a line log in
//     with an empty name: in Spread that name's avatar id would be
//     cred.AnonymousID, so a realm would take the user for a guest;
//   - when a user name appears more than once, the first line wins (as in
//     Twisted's default, uncached mode).
//
// The file is read by NewFileDB and again whenever it changes (see the
// package documentation). It is safe for concurrent use.
type FileDB struct {
	delim           []byte
	ufield, pfield  int
	caseInsensitive bool
	hash            func(username, password, stored []byte) []byte

	file *watchedFile[*fileDBData]
}

type fileDBData struct {
	users map[string][]byte // user name (lowercased if case-insensitive) -> password field
	dummy []byte            // a stored field to check unknown users against
}

// NewFileDB reads the password file at path. It fails if the file cannot
// be read or cfg is invalid; a file without a single valid line is not an
// error (it refuses every login).
func NewFileDB(path string, cfg *FileDBConfig) (*FileDB, error) {
	var c FileDBConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Delim == "" {
		c.Delim = ":"
	}
	if c.UsernameField == 0 && c.PasswordField == 0 {
		c.PasswordField = 1
	}
	if c.UsernameField < 0 || c.PasswordField < 0 {
		return nil, errors.New("checkers: FileDB field indexes must not be negative")
	}
	if c.UsernameField == c.PasswordField {
		return nil, errors.New("checkers: FileDB UsernameField and PasswordField must differ")
	}
	db := &FileDB{
		delim:           []byte(c.Delim),
		ufield:          c.UsernameField,
		pfield:          c.PasswordField,
		caseInsensitive: c.CaseInsensitive,
		hash:            c.Hash,
	}
	db.file = newWatchedFile(path, db.parse)
	if _, err := db.file.get(); err != nil {
		return nil, err
	}
	return db, nil
}

// Kinds returns cred.KindPassword, and also cred.KindChallenge when the
// passwords are stored in the clear (no Hash).
func (db *FileDB) Kinds() []cred.Kind {
	if db.hash != nil {
		return []cred.Kind{cred.KindPassword}
	}
	return []cred.Kind{cred.KindPassword, cred.KindChallenge}
}

// CheckCredentials returns the avatar id (the user name, lowercased when
// CaseInsensitive) if c proves the user's password. It re-reads the file
// first if it has changed.
func (db *FileDB) CheckCredentials(ctx context.Context, c cred.Credentials) (string, error) {
	var (
		p   cred.PasswordProver
		up  *cred.UsernamePassword
		err error
	)
	if db.hash != nil {
		up, err = plainPassword(c)
		p = up
	} else {
		p, err = passwordProver(c)
	}
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := db.file.get()
	if err != nil {
		return "", err
	}
	name := p.User()
	if db.caseInsensitive {
		name = asciiLower(name)
	}
	stored, known := data.users[name]
	if !known {
		stored = data.dummy
	}
	var ok bool
	if db.hash != nil {
		if stored != nil { // nil only for an empty file: nothing to time
			h := db.hash([]byte(up.Username), up.Password, stored)
			ok = h != nil && subtle.ConstantTimeCompare(h, stored) == 1
		}
	} else {
		ok = matchPlain(p, stored)
	}
	if ok && known {
		return name, nil
	}
	return "", cred.ErrUnauthorizedLogin
}

// parse turns the file's content into a user table.
func (db *FileDB) parse(content []byte) (*fileDBData, error) {
	d := &fileDBData{users: make(map[string][]byte)}
	for line := range bytes.Lines(content) {
		line = bytes.TrimRight(line, pythonSpace)
		parts := bytes.Split(line, db.delim)
		if db.ufield >= len(parts) || db.pfield >= len(parts) {
			continue
		}
		user := string(parts[db.ufield])
		if user == "" {
			continue // would log in as cred.AnonymousID
		}
		if db.caseInsensitive {
			user = asciiLower(user)
		}
		if _, dup := d.users[user]; dup {
			continue
		}
		pw := bytes.Clone(parts[db.pfield])
		d.users[user] = pw
		if d.dummy == nil {
			d.dummy = pw
		}
	}
	if d.dummy == nil && db.hash == nil {
		d.dummy = randomSecret()
	}
	return d, nil
}

// pythonSpace is what Python's bytes.rstrip() strips.
const pythonSpace = " \t\n\r\v\f"

// asciiLower lowercases ASCII letters only, like Python's bytes.lower.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// watchedFile holds the parsed content of a file and parses it again
// when the file changes.
type watchedFile[T any] struct {
	path  string
	parse func([]byte) (T, error)

	mu   sync.Mutex
	info os.FileInfo // of the content held; nil before the first load
	data T
}

func newWatchedFile[T any](path string, parse func([]byte) (T, error)) *watchedFile[T] {
	return &watchedFile[T]{path: path, parse: parse}
}

// get returns the parsed content, reading the file again if its size,
// modification time or identity changed since it was last read. Errors
// match cred.ErrUnauthorizedLogin and wrap the cause; they name the
// file, never its content.
func (w *watchedFile[T]) get() (T, error) {
	var zero T
	fi, err := os.Stat(w.path)
	if err != nil {
		return zero, fileError(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.info != nil && sameVersion(w.info, fi) {
		return w.data, nil
	}
	f, err := os.Open(w.path)
	if err != nil {
		return zero, fileError(err)
	}
	defer f.Close()
	// Stat the open file, not the path: if the file changes while it is
	// read, the stamp is older than the content and the next login reads
	// it again.
	fi, err = f.Stat()
	if err != nil {
		return zero, fileError(err)
	}
	if !fi.Mode().IsRegular() {
		return zero, fileError(fmt.Errorf("%s: not a regular file", w.path))
	}
	content, err := io.ReadAll(f)
	if err != nil {
		return zero, fileError(err)
	}
	data, err := w.parse(content)
	if err != nil {
		return zero, fileError(err)
	}
	w.info, w.data = fi, data
	return data, nil
}

func sameVersion(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

func fileError(err error) error {
	return fmt.Errorf("%w: password file: %w", cred.ErrUnauthorizedLogin, err)
}
