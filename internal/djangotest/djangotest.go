// Package djangotest drives a real Django (Debian's python3-django, run
// by /usr/bin/python3) against a test database, so that tests can check
// Spread's Django support against the real thing.
//
// New writes a minimal project into a temporary directory: a settings
// module with django.contrib.auth and contenttypes, USE_TZ = True, the
// given database (SQLite file, or PostgreSQL through psycopg2) and
// PASSWORD_HASHERS listing every hasher this Django ships, the PBKDF2
// one first; and a helper script that performs operations read as JSON
// on standard input. Each method runs one Python process.
//
// Failures to start Python or Django fail the test; nothing here skips.
package djangotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Python is the interpreter that has Django, argon2-cffi, bcrypt and
// psycopg2 (Debian's).
const Python = "/usr/bin/python3"

// Options tune the generated project. The zero value is Django's
// defaults.
type Options struct {
	// PBKDF2Iterations, when not zero, makes the preferred hasher a
	// pbkdf2_sha256 subclass with this iteration count, so that tests
	// need not pay for Django's default count. Django then also re-hashes
	// passwords with another count at login.
	PBKDF2Iterations int
}

// Django is one generated project bound to one database.
type Django struct {
	// Dir holds the settings and helper modules.
	Dir string
	// Version is django.get_version().
	Version string
	// Hashers lists the algorithm names of PASSWORD_HASHERS, preferred
	// first.
	Hashers []string
}

type dbConfig struct {
	Engine   string `json:"ENGINE"`
	Name     string `json:"NAME"`
	User     string `json:"USER,omitempty"`
	Password string `json:"PASSWORD,omitempty"`
	Host     string `json:"HOST,omitempty"`
	Port     string `json:"PORT,omitempty"`
}

// databaseFor turns Spread's DSN ("sqlite:PATH" or a postgres:// URL)
// into Django's DATABASES entry.
func databaseFor(dsn string) (dbConfig, error) {
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return dbConfig{Engine: "django.db.backends.sqlite3", Name: p}, nil
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dbConfig{}, fmt.Errorf("djangotest: unsupported DSN %q", dsn)
	}
	c := dbConfig{
		Engine: "django.db.backends.postgresql",
		Name:   strings.TrimPrefix(u.Path, "/"),
		Host:   u.Hostname(),
		Port:   u.Port(),
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// New writes a project for the database dsn and checks that Django
// starts. It does not migrate; call Migrate for that.
func New(t testing.TB, dsn string, opts *Options) *Django {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("djangotest: %s not found (install Debian's python3-django python3-argon2 "+
			"python3-bcrypt python3-psycopg2): %v", Python, err)
	}
	db, err := databaseFor(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, _ := json.Marshal(map[string]any{
		"database":          db,
		"pbkdf2_iterations": opts.PBKDF2Iterations,
	})
	for name, text := range map[string]string{
		"spread_config.json":  string(conf),
		"spread_settings.py":  settingsPy,
		"spread_hashers.py":   hashersPy,
		"spread_djangoops.py": opsPy,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := &Django{Dir: dir}
	var info struct {
		Version string   `json:"version"`
		Hashers []string `json:"hashers"`
	}
	d.Call(t, "info", nil, &info)
	d.Version, d.Hashers = info.Version, info.Hashers
	return d
}

func (d *Django) env() []string {
	env := []string{"DJANGO_SETTINGS_MODULE=spread_settings", "PYTHONPATH=" + d.Dir,
		"PYTHONDONTWRITEBYTECODE=1", "TZ=UTC"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PYTHONPATH" || k == "PYTHONHOME" || k == "DJANGO_SETTINGS_MODULE" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Manage runs "python3 -m django ARGS..." (manage.py) and returns its
// output.
func (d *Django) Manage(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(Python, append([]string{"-m", "django"}, args...)...)
	cmd.Dir, cmd.Env = d.Dir, d.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("djangotest: django-admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Migrate runs "migrate" (extra arguments such as "--fake-initial" are
// passed on).
func (d *Django) Migrate(t testing.TB, args ...string) {
	t.Helper()
	d.Manage(t, append([]string{"migrate", "--no-input", "-v", "0"}, args...)...)
}

// Call runs one operation of the helper script with in as its JSON
// argument and decodes its JSON result into out (which may be nil).
func (d *Django) Call(t testing.TB, op string, in, out any) {
	t.Helper()
	arg, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Python, "-m", "spread_djangoops", op)
	cmd.Dir, cmd.Env = d.Dir, d.env()
	cmd.Stdin = bytes.NewReader(arg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("djangotest: %s: %v\n%s%s", op, err, stderr.String(), stdout.String())
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("djangotest: %s: bad output %q: %v\n%s", op, stdout.String(), err, stderr.String())
		}
	}
}

// User describes a user for CreateUsers.
type User struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Algorithm names the hasher (as in PASSWORD_HASHERS, e.g.
	// "bcrypt_sha256"); "" means the preferred one.
	Algorithm string `json:"algorithm,omitempty"`
	// Params are set as attributes on a fresh instance of the hasher
	// before hashing, e.g. {"iterations": 1000} for PBKDF2,
	// {"rounds": 4} for bcrypt, {"time_cost": 1, "memory_cost": 1024,
	// "parallelism": 1} for argon2, {"work_factor": 1024} for scrypt.
	Params map[string]any `json:"params,omitempty"`
	// Unusable stores an unusable password (set_unusable_password).
	Unusable bool `json:"unusable,omitempty"`
	// Inactive sets is_active = False.
	Inactive bool `json:"inactive,omitempty"`
}

// CreateUsers creates the users with Django's ORM and returns the
// encoded password stored for each, by username.
func (d *Django) CreateUsers(t testing.TB, users ...User) map[string]string {
	t.Helper()
	out := map[string]string{}
	d.Call(t, "create_users", users, &out)
	return out
}

// MakePassword calls make_password(password, hasher=...) with a hasher
// chosen and tuned as in User.
func (d *Django) MakePassword(t testing.TB, password, algorithm string, params map[string]any) string {
	t.Helper()
	var out []string
	d.Call(t, "make_passwords", []User{{Password: password, Algorithm: algorithm, Params: params}}, &out)
	return out[0]
}

// Login is one authenticate() call.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Authenticate calls django.contrib.auth.authenticate for each login and
// reports which returned a user. Django re-hashes passwords it would
// update as a side effect, as it does in production.
func (d *Django) Authenticate(t testing.TB, logins ...Login) []bool {
	t.Helper()
	var out []bool
	d.Call(t, "authenticate", logins, &out)
	return out
}

// CheckPassword calls check_password(password, encoded) without a
// setter, so nothing is written.
func (d *Django) CheckPassword(t testing.TB, password, encoded string) bool {
	t.Helper()
	var out []bool
	d.Call(t, "check_passwords", [][2]string{{password, encoded}}, &out)
	return out[0]
}

// CheckPasswords is CheckPassword for many (password, encoded) pairs in
// one process.
func (d *Django) CheckPasswords(t testing.TB, pairs [][2]string) []bool {
	t.Helper()
	var out []bool
	d.Call(t, "check_passwords", pairs, &out)
	return out
}

// Exec runs Python code after django.setup(). The code sees the JSON
// value in as the variable arg and leaves its answer, which must be
// JSON-encodable, in the variable result; that is decoded into out
// (which may be nil).
func (d *Django) Exec(t testing.TB, code string, in, out any) {
	t.Helper()
	d.Call(t, "exec", map[string]any{"code": code, "arg": in}, out)
}

// UserRow is a user as Django's ORM reads it back.
type UserRow struct {
	Username  string  `json:"username"`
	Password  string  `json:"password"`
	IsActive  bool    `json:"is_active"`
	LastLogin *string `json:"last_login"` // ISO 8601, or nil
}

// Users reads every user through the ORM, ordered by username.
func (d *Django) Users(t testing.TB) []UserRow {
	t.Helper()
	var out []UserRow
	d.Call(t, "users", nil, &out)
	return out
}

const settingsPy = `import json, os
from django.contrib.auth import hashers as _h



def _has_crypt():
    if not hasattr(_h, 'CryptPasswordHasher'):
        return False
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import crypt  # noqa: F401
        return True
    except ImportError:
        return False


_conf = json.load(open(os.path.join(os.path.dirname(__file__), 'spread_config.json')))
SECRET_KEY = 'spread-djangotest-not-secret'
INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes']
DATABASES = {'default': _conf['database']}
USE_TZ = True
TIME_ZONE = 'UTC'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
PASSWORD_HASHERS = [
    'spread_hashers.PBKDF2' if _conf['pbkdf2_iterations'] else 'django.contrib.auth.hashers.PBKDF2PasswordHasher',
    'django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher',
    'django.contrib.auth.hashers.Argon2PasswordHasher',
    'django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
    'django.contrib.auth.hashers.BCryptPasswordHasher',
] + (['django.contrib.auth.hashers.ScryptPasswordHasher'] if hasattr(_h, 'ScryptPasswordHasher') else []) + [
    'django.contrib.auth.hashers.SHA1PasswordHasher',
    'django.contrib.auth.hashers.MD5PasswordHasher',
    'django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher',
    'django.contrib.auth.hashers.UnsaltedMD5PasswordHasher',
] + (['django.contrib.auth.hashers.CryptPasswordHasher'] if _has_crypt() else [])
`

const hashersPy = `import json, os
from django.contrib.auth.hashers import PBKDF2PasswordHasher

_conf = json.load(open(os.path.join(os.path.dirname(__file__), 'spread_config.json')))


class PBKDF2(PBKDF2PasswordHasher):
    iterations = _conf['pbkdf2_iterations'] or PBKDF2PasswordHasher.iterations
`

const opsPy = `import json, sys, warnings
warnings.simplefilter('ignore')
import django
django.setup()
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import hashers


def hasher_for(spec):
    algorithm = spec.get('algorithm') or 'default'
    base = hashers.get_hasher(algorithm)
    h = type(base)()
    for k, v in (spec.get('params') or {}).items():
        if not hasattr(h, k):
            raise SystemExit('hasher %s has no attribute %s' % (h.algorithm, k))
        setattr(h, k, v)
    return h


def op_info(arg):
    return {'version': django.get_version(),
            'hashers': [h.algorithm for h in hashers.get_hashers()]}


def op_make_passwords(arg):
    return [hashers.make_password(u['password'], hasher=hasher_for(u)) for u in arg]


def op_create_users(arg):
    User = get_user_model()
    out = {}
    for u in arg:
        user = User(username=u['username'], is_active=not u.get('inactive'))
        if u.get('unusable'):
            user.set_unusable_password()
        else:
            user.password = hashers.make_password(u['password'], hasher=hasher_for(u))
        user.save()
        out[u['username']] = User.objects.get(pk=user.pk).password
    return out


def op_authenticate(arg):
    return [authenticate(None, username=l['username'], password=l['password']) is not None for l in arg]


def op_check_passwords(arg):
    return [hashers.check_password(pw, enc) for pw, enc in arg]


def op_exec(arg):
    env = {'arg': arg.get('arg'), 'result': None}
    exec(arg['code'], env)
    return env['result']


def op_users(arg):
    User = get_user_model()
    return [{'username': u.username, 'password': u.password, 'is_active': u.is_active,
             'last_login': u.last_login.isoformat() if u.last_login else None}
            for u in User.objects.order_by('username')]


if __name__ == '__main__':
    op = sys.argv[1]
    arg = json.load(sys.stdin)
    json.dump(globals()['op_' + op](arg), sys.stdout)
`
