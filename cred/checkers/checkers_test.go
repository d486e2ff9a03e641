package checkers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/cred"
)

var ctx = context.Background()

// login describes one CheckCredentials call and its expected outcome.
type login struct {
	creds   cred.Credentials
	wantID  string
	wantErr error // nil: success; otherwise matched with errors.Is
}

func pw(user, password string) *cred.UsernamePassword {
	return &cred.UsernamePassword{Username: user, Password: []byte(password)}
}

var testChallenge = []byte("0123456789abcdef")

// chal builds challenge credentials answered with password.
func chal(user, password string) *cred.UsernameChallenge {
	return &cred.UsernameChallenge{
		Username:  user,
		Challenge: testChallenge,
		Response:  cred.ChallengeResponse([]byte(password), testChallenge),
	}
}

// tokenCreds is a kind no checker here accepts.
type tokenCreds struct{}

func (tokenCreds) Kind() cred.Kind { return "token" }

func runLogins(t *testing.T, c cred.Checker, logins []login) {
	t.Helper()
	for i, l := range logins {
		id, err := c.CheckCredentials(ctx, l.creds)
		if l.wantErr == nil {
			if err != nil || id != l.wantID {
				t.Errorf("#%d %v: got (%q, %v), want (%q, nil)", i, l.creds, id, err, l.wantID)
			}
			continue
		}
		if !errors.Is(err, l.wantErr) || id != "" {
			t.Errorf("#%d %v: got (%q, %v), want error %v", i, l.creds, id, err, l.wantErr)
		}
		if err != nil && l.creds != nil {
			checkNoSecret(t, err, l.creds)
		}
	}
}

// checkNoSecret fails if err's message contains the password sent.
func checkNoSecret(t *testing.T, err error, c cred.Credentials) {
	t.Helper()
	if up, ok := c.(*cred.UsernamePassword); ok && len(up.Password) > 0 {
		if strings.Contains(err.Error(), string(up.Password)) {
			t.Errorf("error %q contains the password", err)
		}
	}
}

func TestInMemory(t *testing.T) {
	m := NewInMemory(map[string]string{"alice": "wonderland", "Bob": "builder", "empty": "", "": ""})
	if got := m.Kinds(); !slices.Equal(got, []cred.Kind{cred.KindPassword, cred.KindChallenge}) {
		t.Errorf("Kinds = %v", got)
	}
	unauth := cred.ErrUnauthorizedLogin
	runLogins(t, m, []login{
		{pw("alice", "wonderland"), "alice", nil},
		{pw("alice", "wonderlanD"), "", unauth},
		{pw("alice", "wonderland "), "", unauth},
		{pw("alice", ""), "", unauth},
		{pw("Alice", "wonderland"), "", unauth}, // exact user names
		{pw("alice ", "wonderland"), "", unauth},
		{pw("Bob", "builder"), "Bob", nil},
		{pw("bob", "builder"), "", unauth},
		{pw("empty", ""), "empty", nil},
		{pw("empty", "x"), "", unauth},
		{pw("nobody", "wonderland"), "", unauth},
		{pw("", ""), "", unauth}, // an empty name never logs in
		{chal("", ""), "", unauth},
		{chal("alice", "wonderland"), "alice", nil},
		{chal("alice", "wrong"), "", unauth},
		{chal("nobody", "wonderland"), "", unauth},
		{chal("empty", ""), "empty", nil},
		{cred.Anonymous{}, "", cred.ErrUnhandledCredentials},
		{tokenCreds{}, "", cred.ErrUnhandledCredentials},
		{nil, "", cred.ErrUnhandledCredentials},
	})

	// The map was copied.
	users := map[string]string{"x": "1"}
	m2 := NewInMemory(users)
	users["x"] = "2"
	runLogins(t, m2, []login{{pw("x", "1"), "x", nil}})

	m.AddUser("carol", "c")
	m.AddUser("alice", "new")
	m.RemoveUser("Bob")
	m.RemoveUser("never-there")
	runLogins(t, m, []login{
		{pw("carol", "c"), "carol", nil},
		{pw("alice", "new"), "alice", nil},
		{pw("alice", "wonderland"), "", unauth},
		{pw("Bob", "builder"), "", unauth},
	})
}

// The unknown-user path must not accept the dummy secret, whatever it is.
func TestInMemoryDummyNeverMatches(t *testing.T) {
	m := NewInMemory(nil)
	runLogins(t, m, []login{
		{pw("ghost", string(m.dummy)), "", cred.ErrUnauthorizedLogin},
		{chal("ghost", string(m.dummy)), "", cred.ErrUnauthorizedLogin},
	})
}

func TestCanceledContext(t *testing.T) {
	dir := t.TempDir()
	fdb := writeFile(t, filepath.Join(dir, "db"), "alice:wonderland\n", time.Now())
	db, err := NewFileDB(fdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	hf := writeFile(t, filepath.Join(dir, "ht"), "alice:"+bcryptHash(t, "wonderland")+"\n", time.Now())
	ht, err := NewHtpasswd(hf)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, tt := range []struct {
		name string
		c    cred.Checker
		cr   cred.Credentials
	}{
		{"InMemory", NewInMemory(map[string]string{"alice": "wonderland"}), pw("alice", "wonderland")},
		{"Anonymous", NewAnonymous(), cred.Anonymous{}},
		{"FileDB", db, pw("alice", "wonderland")},
		{"Htpasswd", ht, pw("alice", "wonderland")},
	} {
		if id, err := tt.c.CheckCredentials(cctx, tt.cr); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got (%q, %v), want context.Canceled", tt.name, id, err)
		}
	}
}

func TestAnonymous(t *testing.T) {
	a := NewAnonymous()
	if got := a.Kinds(); !slices.Equal(got, []cred.Kind{cred.KindAnonymous}) {
		t.Errorf("Kinds = %v", got)
	}
	runLogins(t, a, []login{
		{cred.Anonymous{}, cred.AnonymousID, nil},
		{&cred.Anonymous{}, cred.AnonymousID, nil},
		{pw("alice", "x"), "", cred.ErrUnhandledCredentials},
		{chal("alice", "x"), "", cred.ErrUnhandledCredentials},
		{nil, "", cred.ErrUnhandledCredentials},
	})
	// Through a portal, next to a password checker.
	p := cred.NewPortal(cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		if id == cred.AnonymousID {
			return "guest", nil, nil
		}
		return "user " + id, nil, nil
	}), NewInMemory(map[string]string{"alice": "w"}), a)
	for _, tt := range []struct {
		c    cred.Credentials
		want string
	}{{cred.Anonymous{}, "guest"}, {pw("alice", "w"), "user alice"}, {chal("alice", "w"), "user alice"}} {
		_, av, _, err := p.Login(ctx, tt.c, nil)
		if err != nil || av != tt.want {
			t.Errorf("Login(%v) = %v, %v; want %q", tt.c, av, err, tt.want)
		}
	}
}

// writeFile writes content to path and sets its modification time
// explicitly, so that tests never depend on the clock's granularity.
func writeFile(t testing.TB, path, content string, mtime time.Time) string {
	t.Helper()
	if err := writeFileErr(path, content, mtime); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFileErr(path, content string, mtime time.Time) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}

// replaceFile writes content to a new file and renames it over path, as
// an editor or a deployment tool would.
func replaceFile(t testing.TB, path, content string, mtime time.Time) {
	t.Helper()
	if err := replaceFileErr(path, content, mtime); err != nil {
		t.Fatal(err)
	}
}

func replaceFileErr(path, content string, mtime time.Time) error {
	if err := writeFileErr(path+".new", content, mtime); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

const fileDBContent = "alice:wonderland\n" +
	"bob:builder:extra:fields\n" +
	"carol:trailing \t\r\n" +
	"  dave:leading-space-user\n" +
	"#eve:comment-like\n" +
	"\n" +
	"   \n" +
	"nofields\n" +
	"frank:\n" +
	"alice:second-alice-ignored\n" +
	"ALICE:upper-alice\n" +
	"Grace:Hopper\n" +
	"h\u00e9ctor:\u00f1and\u00fa\n" +
	":emptyuser\n" +
	"judy:pw with spaces \n" +
	"ivan:pass\x00word\n" +
	"last:no-newline"

func TestFileDBParse(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "passwd"), fileDBContent, t0)
	unauth := cred.ErrUnauthorizedLogin
	tests := []struct {
		name   string
		cfg    *FileDBConfig
		kinds  []cred.Kind
		logins []login
	}{
		{
			name:  "defaults",
			cfg:   nil,
			kinds: []cred.Kind{cred.KindPassword, cred.KindChallenge},
			logins: []login{
				{pw("alice", "wonderland"), "alice", nil},
				{pw("alice", "second-alice-ignored"), "", unauth}, // first line wins
				{pw("ALICE", "upper-alice"), "ALICE", nil},
				{pw("ALICE", "wonderland"), "", unauth},
				{pw("bob", "builder"), "bob", nil},
				{pw("bob", "builder:extra:fields"), "", unauth},
				{pw("carol", "trailing"), "carol", nil}, // trailing white space stripped
				{pw("carol", "trailing \t"), "", unauth},
				{pw("  dave", "leading-space-user"), "  dave", nil}, // leading kept
				{pw("dave", "leading-space-user"), "", unauth},
				{pw("#eve", "comment-like"), "#eve", nil}, // no comments
				{pw("frank", ""), "frank", nil},           // empty password
				{pw("frank", "x"), "", unauth},
				{pw("nofields", ""), "", unauth}, // too few fields
				{pw("", ""), "", unauth},
				{pw("", "emptyuser"), "", unauth}, // Twisted accepts it; see FileDB
				{pw("Grace", "Hopper"), "Grace", nil},
				{pw("grace", "Hopper"), "", unauth},
				{pw("h\u00e9ctor", "\u00f1and\u00fa"), "h\u00e9ctor", nil},
				{pw("judy", "pw with spaces"), "judy", nil},
				{pw("ivan", "pass\x00word"), "ivan", nil},
				{pw("ivan", "pass"), "", unauth},
				{pw("last", "no-newline"), "last", nil},
				{pw("nobody", "wonderland"), "", unauth},
				{chal("alice", "wonderland"), "alice", nil},
				{chal("alice", "wrong"), "", unauth},
				{chal("frank", ""), "frank", nil},
				{chal("nobody", ""), "", unauth},
				{cred.Anonymous{}, "", cred.ErrUnhandledCredentials},
			},
		},
		{
			name:  "case-insensitive",
			cfg:   &FileDBConfig{CaseInsensitive: true},
			kinds: []cred.Kind{cred.KindPassword, cred.KindChallenge},
			logins: []login{
				{pw("alice", "wonderland"), "alice", nil},
				{pw("ALICE", "wonderland"), "alice", nil},
				{pw("ALICE", "upper-alice"), "", unauth}, // shadowed by the first alice
				{pw("GRACE", "Hopper"), "grace", nil},
				{pw("grace", "hopper"), "", unauth}, // passwords keep their case
				{pw("H\u00e9CTOR", "\u00f1and\u00fa"), "h\u00e9ctor", nil},
				{pw("H\u00c9CTOR", "\u00f1and\u00fa"), "", unauth}, // ASCII only, like bytes.lower
				{chal("Alice", "wonderland"), "alice", nil},
			},
		},
		{
			name:  "fields swapped",
			cfg:   &FileDBConfig{UsernameField: 1, PasswordField: 0},
			kinds: []cred.Kind{cred.KindPassword, cred.KindChallenge},
			logins: []login{
				{pw("wonderland", "alice"), "wonderland", nil},
				{pw("builder", "bob"), "builder", nil},
				{pw("", "frank"), "", unauth},
				{pw("alice", "wonderland"), "", unauth},
			},
		},
		{
			name:  "third field",
			cfg:   &FileDBConfig{UsernameField: 0, PasswordField: 2},
			kinds: []cred.Kind{cred.KindPassword, cred.KindChallenge},
			logins: []login{
				{pw("bob", "extra"), "bob", nil},
				{pw("alice", "wonderland"), "", unauth}, // too few fields
			},
		},
		{
			name:  "other delimiter",
			cfg:   &FileDBConfig{Delim: "r"},
			kinds: []cred.Kind{cred.KindPassword, cred.KindChallenge},
			logins: []login{
				{pw("ca", "ol:t"), "ca", nil}, // "carol:trailing" split at every "r"
				{pw("alice", "wonderland"), "", unauth},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := NewFileDB(path, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := db.Kinds(); !slices.Equal(got, tt.kinds) {
				t.Errorf("Kinds = %v, want %v", got, tt.kinds)
			}
			runLogins(t, db, tt.logins)
		})
	}
}

func sha256Hex(username, password, stored []byte) []byte {
	sum := sha256.Sum256(password)
	return []byte(hex.EncodeToString(sum[:]))
}

func TestFileDBHash(t *testing.T) {
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("wonderland"))
	path := writeFile(t, filepath.Join(dir, "passwd"),
		"alice:"+hex.EncodeToString(sum[:])+"\nbob:\nplain:wonderland\n", t0)

	var calls [][3]string
	hash := func(u, p, s []byte) []byte {
		calls = append(calls, [3]string{string(u), string(p), string(s)})
		return sha256Hex(u, p, s)
	}
	db, err := NewFileDB(path, &FileDBConfig{Hash: hash, CaseInsensitive: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Kinds(); !slices.Equal(got, []cred.Kind{cred.KindPassword}) {
		t.Errorf("Kinds = %v", got)
	}
	unauth := cred.ErrUnauthorizedLogin
	runLogins(t, db, []login{
		{pw("alice", "wonderland"), "alice", nil},
		{pw("Alice", "wonderland"), "alice", nil},
		{pw("alice", "wrong"), "", unauth},
		{pw("plain", "wonderland"), "", unauth}, // the field is compared with the hash
		{pw("bob", ""), "", unauth},
		{chal("alice", "wonderland"), "", cred.ErrUnhandledCredentials},
	})
	// Hash gets the user name as presented and the stored field.
	if len(calls) < 2 || calls[1][0] != "Alice" || calls[1][2] != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash calls: %q", calls)
	}

	// An unknown user costs one Hash call too, against a real stored
	// field, and is refused even if that hash would match.
	calls = nil
	runLogins(t, db, []login{{pw("nobody", "wonderland"), "", unauth}})
	if len(calls) != 1 || calls[0][2] != hex.EncodeToString(sum[:]) {
		t.Errorf("unknown user: Hash calls %q, want one against alice's field", calls)
	}

	// A nil result refuses, even against an empty stored field.
	nilHash, err := NewFileDB(path, &FileDBConfig{Hash: func(u, p, s []byte) []byte { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	runLogins(t, nilHash, []login{{pw("bob", ""), "", unauth}})
	emptyHash, err := NewFileDB(path, &FileDBConfig{Hash: func(u, p, s []byte) []byte { return []byte{} }})
	if err != nil {
		t.Fatal(err)
	}
	runLogins(t, emptyHash, []login{{pw("bob", "anything"), "bob", nil}, {pw("alice", ""), "", unauth}})

	// An empty file with a Hash refuses without calling it.
	empty := writeFile(t, filepath.Join(dir, "empty"), "", t0)
	calls = nil
	edb, err := NewFileDB(empty, &FileDBConfig{Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	runLogins(t, edb, []login{{pw("alice", "wonderland"), "", unauth}})
	if len(calls) != 0 {
		t.Errorf("Hash called for an empty file: %q", calls)
	}
}

func TestFileDBConfigErrors(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "passwd"), "a:b\n", t0)
	for _, cfg := range []*FileDBConfig{
		{UsernameField: 1, PasswordField: 1},
		{UsernameField: -1, PasswordField: 1},
		{UsernameField: 0, PasswordField: -1},
	} {
		if _, err := NewFileDB(path, cfg); err == nil {
			t.Errorf("NewFileDB(%+v) succeeded", *cfg)
		}
	}
	_, err := NewFileDB(filepath.Join(t.TempDir(), "missing"), nil)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, cred.ErrUnauthorizedLogin) {
		t.Errorf("missing file: %v", err)
	}
	_, err = NewFileDB(t.TempDir(), nil)
	if err == nil {
		t.Error("NewFileDB of a directory succeeded")
	}
}

func TestFileDBReload(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "passwd"), "alice:one\n", t0)
	db, err := NewFileDB(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	unauth := cred.ErrUnauthorizedLogin
	steps := []struct {
		name   string
		change func()
		logins []login
	}{
		{"initial", func() {}, []login{{pw("alice", "one"), "alice", nil}, {pw("bob", "two"), "", unauth}}},
		{"in place, same size, new mtime", func() {
			writeFile(t, path, "alice:uno\n", t0.Add(time.Second))
		}, []login{{pw("alice", "uno"), "alice", nil}, {pw("alice", "one"), "", unauth}}},
		{"in place, new size, same mtime", func() {
			writeFile(t, path, "alice:uno\nbob:two\n", t0.Add(time.Second))
		}, []login{{pw("bob", "two"), "bob", nil}}},
		{"mtime moved backwards", func() {
			writeFile(t, path, "alice:ONE\nbob:TWO\n", t0)
		}, []login{{pw("alice", "ONE"), "alice", nil}, {pw("bob", "TWO"), "bob", nil}}},
		{"in place, same size and mtime: not noticed (documented)", func() {
			writeFile(t, path, "alice:111\nbob:222\n", t0)
		}, []login{{pw("alice", "ONE"), "alice", nil}, {pw("alice", "111"), "", unauth}}},
		{"renamed over, same size and mtime: noticed", func() {
			replaceFile(t, path, "alice:aaa\nbob:bbb\n", t0)
		}, []login{{pw("alice", "aaa"), "alice", nil}, {pw("bob", "bbb"), "bob", nil}}},
		{"removed: fail closed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, []login{{pw("alice", "aaa"), "", fs.ErrNotExist}, {pw("alice", "aaa"), "", unauth}}},
		{"back again", func() {
			writeFile(t, path, "carol:ccc\n", t0)
		}, []login{{pw("carol", "ccc"), "carol", nil}, {pw("alice", "aaa"), "", unauth}}},
		{"emptied", func() {
			writeFile(t, path, "", t0.Add(time.Hour))
		}, []login{{pw("carol", "ccc"), "", unauth}, {chal("carol", "ccc"), "", unauth}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change()
			runLogins(t, db, s.logins)
		})
	}
}

// bcryptHash hashes password at the minimum cost, to keep tests fast.
func bcryptHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func withPrefix(hash, prefix string) string { return prefix + hash[4:] }

func TestHtpasswd(t *testing.T) {
	hA := bcryptHash(t, "alpha")
	content := strings.Join([]string{
		"# a comment:line",
		"",
		"ann:" + withPrefix(hA, "$2a$"),
		"bea:" + withPrefix(bcryptHash(t, "beta"), "$2b$"),
		"  cid:" + withPrefix(bcryptHash(t, "gamma"), "$2y$") + "  \r",
		"dan:" + bcryptHash(t, "delta") + ":extra:fields",
		"ann:" + bcryptHash(t, "second"),
		"sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
		"apr:$apr1$6O2jWj/k$OETBxoj9qxb8p2kTdnx1y0",
		"cry:rqXexS6ZhobKA",
		"plain:plaintext",
		"bug:" + withPrefix(bcryptHash(t, "bugpw"), "$2x$"),
		"short:$2y$04$tooshort",
		"nocolon",
		":" + bcryptHash(t, "nobody"),
		"Eve:" + bcryptHash(t, "evil"),
	}, "\n")
	path := writeFile(t, filepath.Join(t.TempDir(), "htpasswd"), content, t0)
	h, err := NewHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Kinds(); !slices.Equal(got, []cred.Kind{cred.KindPassword}) {
		t.Errorf("Kinds = %v", got)
	}
	unauth := cred.ErrUnauthorizedLogin
	runLogins(t, h, []login{
		{pw("ann", "alpha"), "ann", nil},
		{pw("ann", "second"), "", unauth}, // first line wins
		{pw("ann", "Alpha"), "", unauth},
		{pw("bea", "beta"), "bea", nil},
		{pw("cid", "gamma"), "cid", nil},
		{pw("dan", "delta"), "dan", nil},
		{pw("Eve", "evil"), "Eve", nil},
		{pw("eve", "evil"), "", unauth},
		{pw("", "nobody"), "", unauth},
		{pw("nocolon", ""), "", unauth},
		{pw("sha", "password"), "", ErrUnsupportedHash},
		{pw("sha", "password"), "", unauth},
		{pw("apr", "password"), "", ErrUnsupportedHash},
		{pw("cry", "password"), "", ErrUnsupportedHash},
		{pw("plain", "plaintext"), "", ErrUnsupportedHash},
		{pw("bug", "bugpw"), "", ErrUnsupportedHash},
		{pw("short", ""), "", ErrUnsupportedHash},
		{pw("zed", "alpha"), "", unauth},
		{chal("ann", "alpha"), "", cred.ErrUnhandledCredentials},
		{cred.Anonymous{}, "", cred.ErrUnhandledCredentials},
	})
	if got, want := h.Unsupported(), []string{"apr", "bug", "cry", "plain", "sha", "short"}; !slices.Equal(got, want) {
		t.Errorf("Unsupported = %q, want %q", got, want)
	}
	// Unknown users are not reported as unsupported.
	if _, err := h.CheckCredentials(ctx, pw("zed", "x")); errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("unknown user: %v", err)
	}
}

// Every login, whether the user is known, unknown or has an unsupported
// entry, costs exactly one bcrypt comparison.
func TestHtpasswdOneComparisonPerLogin(t *testing.T) {
	content := "ann:" + bcryptHash(t, "alpha") + "\n" +
		"bea:" + withPrefix(bcryptHash(t, "beta"), "$2y$") + "\n" +
		"sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
	path := writeFile(t, filepath.Join(t.TempDir(), "htpasswd"), content, t0)
	h, err := NewHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	h.compare = func(hash, password []byte) error {
		hashes = append(hashes, string(hash))
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	data, _ := h.file.get()
	if c, err := bcrypt.Cost(data.dummy); err != nil || c != bcrypt.MinCost {
		t.Fatalf("dummy cost = %d, %v; want the file's cost %d", c, err, bcrypt.MinCost)
	}
	for _, tt := range []struct {
		c         *cred.UsernamePassword
		wantDummy bool
	}{
		{pw("ann", "alpha"), false},
		{pw("ann", "wrong"), false},
		{pw("bea", "beta"), false},
		{pw("nobody", "alpha"), true},
		{pw("sha", "password"), true},
	} {
		hashes = nil
		_, _ = h.CheckCredentials(ctx, tt.c)
		if len(hashes) != 1 {
			t.Errorf("%v: %d comparisons, want 1", tt.c, len(hashes))
			continue
		}
		if isDummy := hashes[0] == string(data.dummy); isDummy != tt.wantDummy {
			t.Errorf("%v: compared with dummy = %v, want %v", tt.c, isDummy, tt.wantDummy)
		}
	}
}

func TestHtpasswdDummyCost(t *testing.T) {
	mk := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte("x"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	c4, c5 := mk(4), mk(5)
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{"empty file", "", bcrypt.DefaultCost},
		{"unsupported entries do not count", "a:{SHA}xyz\nb:{SHA}xyz\nc:" + c5 + "\n", 5},
		{"single cost", "a:" + c4 + "\n", 4},
		{"mode", "a:" + c4 + "\nb:" + c4 + "\nc:" + c5 + "\n", 4},
		{"tie goes up", "a:" + c4 + "\nb:" + c5 + "\n", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "htpasswd"), tt.content, t0)
			h, err := NewHtpasswd(path)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := h.file.get()
			if c, err := bcrypt.Cost(data.dummy); err != nil || c != tt.want {
				t.Errorf("dummy cost = %d, %v; want %d", c, err, tt.want)
			}
		})
	}
}

func TestHtpasswdReload(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "htpasswd"), "ann:"+bcryptHash(t, "one")+"\n", t0)
	h, err := NewHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	unauth := cred.ErrUnauthorizedLogin
	runLogins(t, h, []login{{pw("ann", "one"), "ann", nil}})

	// Same size (bcrypt hashes have a fixed length), new mtime.
	writeFile(t, path, "ann:"+bcryptHash(t, "two")+"\n", t0.Add(time.Second))
	runLogins(t, h, []login{{pw("ann", "two"), "ann", nil}, {pw("ann", "one"), "", unauth}})

	// Replaced by rename with the same size and mtime.
	replaceFile(t, path, "bob:"+bcryptHash(t, "bbb")+"\n", t0.Add(time.Second))
	runLogins(t, h, []login{{pw("bob", "bbb"), "bob", nil}, {pw("ann", "two"), "", unauth}})

	// An unsupported entry appears.
	writeFile(t, path, "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nann:"+bcryptHash(t, "two")+"\n", t0.Add(2*time.Second))
	runLogins(t, h, []login{{pw("bob", "bbb"), "", ErrUnsupportedHash}, {pw("ann", "two"), "ann", nil}})
	if got := h.Unsupported(); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("Unsupported = %q", got)
	}

	// Removed: fail closed; Unsupported is empty.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	runLogins(t, h, []login{{pw("bob", "bbb"), "", fs.ErrNotExist}})
	if got := h.Unsupported(); got != nil {
		t.Errorf("Unsupported = %q", got)
	}
	if _, err := NewHtpasswd(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewHtpasswd of a missing file: %v", err)
	}
}

func TestFileCheckersConcurrent(t *testing.T) {
	dir := t.TempDir()
	dbPath := writeFile(t, filepath.Join(dir, "passwd"), "alice:one\n", t0)
	htPath := writeFile(t, filepath.Join(dir, "htpasswd"), "alice:"+bcryptHash(t, "one")+"\n", t0)
	db, err := NewFileDB(dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	ht, err := NewHtpasswd(htPath)
	if err != nil {
		t.Fatal(err)
	}
	htLine := "alice:" + bcryptHash(t, "one") + "\n"
	done := make(chan error, 1)
	go func() {
		for i := range 10 {
			mtime := t0.Add(time.Duration(i) * time.Second)
			if err := replaceFileErr(dbPath, "alice:one\n", mtime); err != nil {
				done <- err
				return
			}
			if err := replaceFileErr(htPath, htLine, mtime); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			for range 10 {
				for _, c := range []cred.Checker{db, ht} {
					if _, err := c.CheckCredentials(ctx, pw("alice", "one")); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkInMemoryWrong(b *testing.B) {
	m := NewInMemory(map[string]string{"alice": "wonderland"})
	c := pw("alice", "not-the-password")
	for b.Loop() {
		_, _ = m.CheckCredentials(ctx, c)
	}
}

func BenchmarkInMemoryUnknown(b *testing.B) {
	m := NewInMemory(map[string]string{"alice": "wonderland"})
	c := pw("nobody", "not-the-password")
	for b.Loop() {
		_, _ = m.CheckCredentials(ctx, c)
	}
}

func BenchmarkInMemoryChallengeWrong(b *testing.B) {
	m := NewInMemory(map[string]string{"alice": "wonderland"})
	c := chal("alice", "not-the-password")
	for b.Loop() {
		_, _ = m.CheckCredentials(ctx, c)
	}
}

func BenchmarkInMemoryChallengeUnknown(b *testing.B) {
	m := NewInMemory(map[string]string{"alice": "wonderland"})
	c := chal("nobody", "not-the-password")
	for b.Loop() {
		_, _ = m.CheckCredentials(ctx, c)
	}
}

func benchHtpasswd(b *testing.B, user string) {
	path := writeFile(b, filepath.Join(b.TempDir(), "htpasswd"),
		"alice:"+bcryptHash(b, "wonderland")+"\n", t0)
	h, err := NewHtpasswd(path)
	if err != nil {
		b.Fatal(err)
	}
	c := pw(user, "not-the-password")
	for b.Loop() {
		_, _ = h.CheckCredentials(ctx, c)
	}
}

func BenchmarkHtpasswdWrong(b *testing.B)   { benchHtpasswd(b, "alice") }
func BenchmarkHtpasswdUnknown(b *testing.B) { benchHtpasswd(b, "nobody") }
