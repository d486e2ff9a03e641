package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gospread/spread/internal/djangotest"
	"github.com/gospread/spread/internal/pgtest"
	"github.com/gospread/spread/internal/pypeer"
)

// Cheap parameters keep Django's hashing fast; the defaults are
// covered by one user and by cred/django's own tests.
var djangoUsers = []djangotest.User{
	{Username: "pbkdf2_default", Password: "pw-default"},
	{Username: "pbkdf2_sha256", Password: "pw-256", Algorithm: "pbkdf2_sha256", Params: map[string]any{"iterations": 1000}},
	{Username: "pbkdf2_sha1", Password: "pw-1", Algorithm: "pbkdf2_sha1", Params: map[string]any{"iterations": 1000}},
	{Username: "argon2", Password: "pw-argon", Algorithm: "argon2", Params: map[string]any{"time_cost": 1, "memory_cost": 1024, "parallelism": 1}},
	{Username: "bcrypt_sha256", Password: "pw-bsha", Algorithm: "bcrypt_sha256", Params: map[string]any{"rounds": 4}},
	{Username: "bcrypt", Password: "pw-bcrypt", Algorithm: "bcrypt", Params: map[string]any{"rounds": 4}},
	{Username: "sha1", Password: "pw-sha1", Algorithm: "sha1"},
	{Username: "md5", Password: "pw-md5", Algorithm: "md5"},
	{Username: "unsalted_md5", Password: "pw-umd5", Algorithm: "unsalted_md5"},
	{Username: "unsalted_sha1", Password: "pw-usha1", Algorithm: "unsalted_sha1"},
	{Username: "inactive", Password: "pw-in", Inactive: true},
	{Username: "unusable", Password: "x", Unusable: true},
}

func TestDjangoUsersThroughSpreadSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	djangoThroughSpread(t, "sqlite:"+path)
}

func TestDjangoUsersThroughSpreadPostgres(t *testing.T) {
	djangoThroughSpread(t, pgtest.Start(t))
}

// allLoggedIn reports whether every user who can log in has a
// last_login in rows.
func allLoggedIn(rows []djangotest.UserRow, users []djangotest.User) bool {
	for _, r := range rows {
		for _, u := range users {
			if u.Username == r.Username && !u.Inactive && !u.Unusable && r.LastLogin == nil {
				return false
			}
		}
	}
	return true
}

// djangoThroughSpread: Django creates users with every hasher it has;
// spread chat serve --db logs each in through spread chat join; Spread's
// users add writes a user Django accepts; last_login moves; with
// --rehash, old hashes are replaced by ones Django accepts.
func djangoThroughSpread(t *testing.T, dsn string) {
	dj := djangotest.New(t, dsn, nil)
	dj.Migrate(t)
	var users []djangotest.User
	for _, u := range djangoUsers {
		if u.Algorithm == "" || contains(dj.Hashers, u.Algorithm) {
			users = append(users, u)
		}
	}
	if dj.Version >= "4" && !contains(dj.Hashers, "scrypt") {
		t.Errorf("Django %s without scrypt", dj.Version)
	}
	dj.CreateUsers(t, users...)

	srv := startSpreadServer(t, nil, "chat", "serve", "--listen", "127.0.0.1:0", "--db", dsn, "--rehash",
		"--login-failures", "1000") // every wrong password below must be refused by the hash, not by the throttle
	join := func(user, pass string) (string, string, int) {
		return runSpread(t, "hello\n", []string{"SPREAD_PASSWORD=" + pass}, "chat", "join",
			"--server", srv.Addr, "--user", user, "--group", "#django")
	}
	for _, u := range users {
		out, stderr, code := join(u.Username, u.Password)
		refused := u.Inactive || u.Unusable
		switch {
		case refused && code == 0:
			t.Errorf("%s: logged in (inactive or unusable)", u.Username)
		case refused && !strings.Contains(stderr, "UnauthorizedLogin"):
			t.Errorf("%s: refused without UnauthorizedLogin: %s", u.Username, stderr)
		case !refused && (code != 0 || strings.TrimSpace(out) != fmt.Sprintf("<%s> says: hello", u.Username)):
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", u.Username, code, out, stderr)
		}
		if !refused {
			if _, _, code := join(u.Username, u.Password+"x"); code == 0 {
				t.Errorf("%s: wrong password accepted", u.Username)
			}
		}
	}

	// last_login moved for those who logged in, and every re-hashed
	// password still verifies in Django. The server writes last_login in
	// the background after answering a login: give it a bounded moment.
	rows := dj.Users(t)
	for wait := 0; wait < 50 && !allLoggedIn(rows, users); wait++ {
		time.Sleep(100 * time.Millisecond)
		rows = dj.Users(t)
	}
	for _, r := range rows {
		var u djangotest.User
		for _, x := range users {
			if x.Username == r.Username {
				u = x
			}
		}
		if u.Inactive || u.Unusable {
			if r.LastLogin != nil {
				t.Errorf("%s: last_login set without a login", r.Username)
			}
			continue
		}
		if r.LastLogin == nil {
			t.Errorf("%s: last_login not set", r.Username)
		}
		if !strings.HasPrefix(r.Password, "pbkdf2_sha256$") {
			t.Errorf("%s: not re-hashed: %.20s...", r.Username, r.Password)
		}
		if !dj.CheckPassword(t, u.Password, r.Password) {
			t.Errorf("%s: Django rejects the re-hashed password", r.Username)
		}
	}

	// A user Spread adds is one Django accepts.
	_, stderr, code := runSpread(t, "", []string{"SPREAD_PASSWORD=from-spread"}, "users", "add", "--db", dsn, "spreaduser")
	if code != 0 {
		t.Fatalf("users add: %s", stderr)
	}
	if ok := dj.Authenticate(t, djangotest.Login{Username: "spreaduser", Password: "from-spread"},
		djangotest.Login{Username: "spreaduser", Password: "wrong"}); !ok[0] || ok[1] {
		t.Errorf("Django authenticate of a Spread user: %v", ok)
	}
	out, _, code := runSpread(t, "", nil, "users", "list", "--db", dsn)
	if code != 0 || !strings.Contains(out, "spreaduser") || !strings.Contains(out, "pbkdf2_sha256") || !strings.Contains(out, "unusable") {
		t.Errorf("users list:\n%s", out)
	}
	out, _, code = runSpread(t, "", []string{"SPREAD_PASSWORD=from-spread"}, "users", "check", "--db", dsn, "spreaduser")
	if code != 0 || !strings.Contains(out, "verifies") {
		t.Errorf("users check: %d %s", code, out)
	}

	// passwd changes what Django accepts; del removes the user.
	_, stderr, code = runSpread(t, "", []string{"SPREAD_PASSWORD=changed"}, "users", "passwd", "--db", dsn, "spreaduser")
	if code != 0 {
		t.Fatalf("users passwd: %s", stderr)
	}
	if ok := dj.Authenticate(t, djangotest.Login{Username: "spreaduser", Password: "changed"},
		djangotest.Login{Username: "spreaduser", Password: "from-spread"}); !ok[0] || ok[1] {
		t.Errorf("Django after users passwd: %v", ok)
	}
	runSpread(t, "", []string{"SPREAD_PASSWORD=temp"}, "users", "add", "--db", dsn, "gone")
	if _, stderr, code := runSpread(t, "", nil, "users", "del", "--db", dsn, "gone"); code != 0 {
		t.Fatalf("users del: %s", stderr)
	}
	if out, _, _ := runSpread(t, "", nil, "users", "list", "--db", dsn); strings.Contains(out, "gone") {
		t.Errorf("deleted user still listed:\n%s", out)
	}
	if _, stderr, code := runSpread(t, "", nil, "users", "add", "--db", dsn, "nopw"); code == 0 || !strings.Contains(stderr, "SPREAD_PASSWORD") {
		t.Errorf("users add without a password source: exit %d, %s", code, stderr)
	}
	runSpread(t, "", []string{"SPREAD_PASSWORD=from-spread"}, "users", "passwd", "--db", dsn, "spreaduser")

	// A stock Twisted client cannot use the challenge against hashes: it
	// gets UnauthorizedLogin and the server says why. The README's
	// password login works.
	pyOut, _, _ := pypeer.RunClient(t, 30*time.Second, "login_client.py", srv.Addr, "spreaduser", "from-spread")
	res, _ := pypeer.ParseLoginResult(pyOut)
	if res.OK || res.Type != "twisted.cred.error.UnauthorizedLogin" {
		t.Errorf("stock Twisted client: %+v", res)
	}
	if !strings.Contains(srv.Log(), "holds only password hashes") {
		t.Errorf("the server did not log why:\n%s", srv.Log())
	}
	pyOut, pyErr, err := pypeer.RunClient(t, 30*time.Second, "password_login.py", srv.Addr, "spreaduser", "from-spread", "#py", "hi")
	if err != nil || strings.TrimSpace(pyOut) != "<spreaduser> says: hi" {
		t.Errorf("README password login: %v\n%s\n%s", err, pyOut, pyErr)
	}
	for _, secret := range []string{"from-spread", "pw-default", "pw-argon"} {
		if strings.Contains(srv.Log(), secret) {
			t.Errorf("a password reached the server log")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
