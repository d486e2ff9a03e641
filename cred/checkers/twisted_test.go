package checkers

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/cred"
)

// debianPython is the interpreter that has Twisted and bcrypt installed
// (Debian's python3-twisted and python3-bcrypt). A python3 found on PATH
// may be another installation without them.
const debianPython = "/usr/bin/python3"

// runPython runs script with /usr/bin/python3, feeding it in as JSON and
// decoding its standard output as JSON into out. It fails the test (never
// skips it) if Python or one of its modules is missing.
func runPython(t *testing.T, script string, in, out any) {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"}
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s\n(these tests need Debian's python3-twisted and python3-bcrypt)",
			debianPython, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("decoding Python's answer %q: %v", stdout, err)
	}
}

const twistedFileDBScript = `
import hashlib, json, sys
from twisted.cred.checkers import FilePasswordDB
from twisted.cred.credentials import UsernamePassword
from twisted.spread.pb import _PortalAuthChallenger

def sha256hex(username, password, stored):
    return hashlib.sha256(password).hexdigest().encode()

req = json.load(sys.stdin)
out = []
for cfg in req:
    kw = dict(delim=bytes.fromhex(cfg["delim"]), usernameField=cfg["ufield"],
              passwordField=cfg["pfield"], caseSensitive=cfg["caseSensitive"])
    if cfg["hash"]:
        kw["hash"] = sha256hex
    db = FilePasswordDB(cfg["path"], **kw)
    res = []
    for c in cfg["cases"]:
        user = bytes.fromhex(c["user"])
        if c["kind"] == "password":
            creds = UsernamePassword(user, bytes.fromhex(c["password"]))
        else:
            # What Perspective Broker's login hands to the portal.
            creds = _PortalAuthChallenger(None, None, user, bytes.fromhex(c["challenge"]))
            creds.response = bytes.fromhex(c["response"])
        got = []
        db.requestAvatarId(creds).addCallbacks(
            lambda r: got.append(r.hex()),
            lambda f: got.append(None) if f.check(Exception) else f)
        res.append(got[0])
    out.append(res)
json.dump(out, sys.stdout)
`

// TestFileDBAgreesWithTwisted checks the same file with the same
// credentials through Twisted's FilePasswordDB and through FileDB, and
// compares the decisions and avatar ids.
func TestFileDBAgreesWithTwisted(t *testing.T) {
	dir := t.TempDir()
	plain := writeFile(t, filepath.Join(dir, "passwd"), fileDBContent, t0)
	swapped := writeFile(t, filepath.Join(dir, "swapped"),
		"wonderland|alice|x\nbuilder|bob\n|nopass\nonly-one-field\n  \n", t0)
	multi := writeFile(t, filepath.Join(dir, "multi"), "alice::wonderland::x\nbob:builder\n", t0)
	hashed := writeFile(t, filepath.Join(dir, "hashed"),
		"alice:"+string(sha256Hex(nil, []byte("wonderland"), nil))+"\n"+
			"Bob:"+string(sha256Hex(nil, []byte("builder"), nil))+"\n"+
			"plain:wonderland\n", t0)

	type tcase struct {
		Kind      string `json:"kind"`
		User      string `json:"user"`
		Password  string `json:"password"`
		Challenge string `json:"challenge,omitempty"`
		Response  string `json:"response,omitempty"`

		creds cred.Credentials
		// goRefuses marks the one deliberate difference: Go refuses an
		// empty user name that Twisted accepts (see FileDB).
		goRefuses bool
	}
	P := func(user, password string) tcase {
		return tcase{Kind: "password", User: hex.EncodeToString([]byte(user)),
			Password: hex.EncodeToString([]byte(password)), creds: pw(user, password)}
	}
	C := func(user, password string) tcase {
		c := chal(user, password)
		return tcase{Kind: "challenge", User: hex.EncodeToString([]byte(user)),
			Challenge: hex.EncodeToString(c.Challenge), Response: hex.EncodeToString(c.Response), creds: c}
	}
	empty := func(c tcase) tcase { c.goRefuses = true; return c }
	type config struct {
		Path          string  `json:"path"`
		Delim         string  `json:"delim"`
		UField        int     `json:"ufield"`
		PField        int     `json:"pfield"`
		CaseSensitive bool    `json:"caseSensitive"`
		Hash          bool    `json:"hash"`
		Cases         []tcase `json:"cases"`

		cfg *FileDBConfig
	}
	defaultCases := []tcase{
		P("alice", "wonderland"), P("alice", "second-alice-ignored"), P("alice", "Wonderland"),
		P("ALICE", "upper-alice"), P("ALICE", "wonderland"), P("Alice", "wonderland"),
		P("bob", "builder"), P("bob", "builder:extra:fields"),
		P("carol", "trailing"), P("carol", "trailing \t"), P("carol", "trailing \t\r"),
		P("  dave", "leading-space-user"), P("dave", "leading-space-user"),
		P("#eve", "comment-like"), P("frank", ""), P("frank", " "),
		P("nofields", ""), P("", ""), empty(P("", "emptyuser")),
		P("Grace", "Hopper"), P("grace", "Hopper"), P("GRACE", "Hopper"),
		P("h\u00e9ctor", "\u00f1and\u00fa"), P("H\u00e9CTOR", "\u00f1and\u00fa"), P("H\u00c9CTOR", "\u00f1and\u00fa"),
		P("judy", "pw with spaces"), P("judy", "pw with spaces "),
		P("ivan", "pass\x00word"), P("ivan", "pass"),
		P("last", "no-newline"), P("nobody", "wonderland"),
		C("alice", "wonderland"), C("alice", "wrong"), C("ALICE", "upper-alice"), C("Grace", "Hopper"),
		C("GRACE", "Hopper"), C("frank", ""), C("nobody", ""), C("carol", "trailing"),
	}
	configs := []config{
		{Path: plain, Delim: ":", UField: 0, PField: 1, CaseSensitive: true, Cases: defaultCases, cfg: nil},
		{Path: plain, Delim: ":", UField: 0, PField: 1, CaseSensitive: false, Cases: defaultCases,
			cfg: &FileDBConfig{CaseInsensitive: true}},
		{Path: plain, Delim: ":", UField: 1, PField: 0, CaseSensitive: true,
			Cases: []tcase{P("wonderland", "alice"), P("builder", "bob"), empty(P("", "frank")), P("alice", "wonderland")},
			cfg:   &FileDBConfig{UsernameField: 1, PasswordField: 0}},
		{Path: plain, Delim: ":", UField: 0, PField: 2, CaseSensitive: true,
			Cases: []tcase{P("bob", "extra"), P("alice", "wonderland"), P("bob", "builder")},
			cfg:   &FileDBConfig{PasswordField: 2}},
		{Path: swapped, Delim: "|", UField: 1, PField: 0, CaseSensitive: true,
			Cases: []tcase{P("alice", "wonderland"), P("bob", "builder"), P("nopass", ""), P("only-one-field", ""),
				P("wonderland", "alice"), C("alice", "wonderland")},
			cfg: &FileDBConfig{Delim: "|", UsernameField: 1, PasswordField: 0}},
		{Path: multi, Delim: "::", UField: 0, PField: 1, CaseSensitive: true,
			Cases: []tcase{P("alice", "wonderland"), P("alice", ":wonderland"), P("bob", "builder"), P("bob:builder", "")},
			cfg:   &FileDBConfig{Delim: "::"}},
		{Path: hashed, Delim: ":", UField: 0, PField: 1, CaseSensitive: false, Hash: true,
			Cases: []tcase{P("alice", "wonderland"), P("ALICE", "wonderland"), P("alice", "wrong"),
				P("bob", "builder"), P("plain", "wonderland"), P("nobody", "wonderland")},
			cfg: &FileDBConfig{CaseInsensitive: true, Hash: sha256Hex}},
	}
	for i := range configs {
		configs[i].Delim = hex.EncodeToString([]byte(configs[i].Delim))
	}

	var twisted [][]*string
	runPython(t, twistedFileDBScript, configs, &twisted)
	if len(twisted) != len(configs) {
		t.Fatalf("Python answered %d configs, want %d", len(twisted), len(configs))
	}

	accepted := 0
	for i, cfg := range configs {
		db, err := NewFileDB(cfg.Path, cfg.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(twisted[i]) != len(cfg.Cases) {
			t.Fatalf("config %d: Python answered %d cases, want %d", i, len(twisted[i]), len(cfg.Cases))
		}
		for j, c := range cfg.Cases {
			tw := "refused"
			if twisted[i][j] != nil {
				id, err := hex.DecodeString(*twisted[i][j])
				if err != nil {
					t.Fatal(err)
				}
				tw = "accepted as " + string(id)
			}
			goID, err := db.CheckCredentials(ctx, c.creds)
			gd := "refused"
			switch {
			case err == nil:
				gd = "accepted as " + goID
				accepted++
			case !errors.Is(err, cred.ErrUnauthorizedLogin):
				t.Errorf("config %d, %v: unexpected error %v", i, c.creds, err)
			}
			want := tw
			if c.goRefuses {
				if tw == "refused" {
					t.Errorf("config %d, %v: Twisted refuses; drop the goRefuses mark", i, c.creds)
				}
				want = "refused"
			}
			if gd != want {
				t.Errorf("config %d (%s), %v: Go %s, Twisted %s", i, filepath.Base(cfg.Path), c.creds, gd, tw)
			}
		}
	}
	// Guard against a vacuous comparison in which everything is refused.
	if accepted < 20 {
		t.Errorf("only %d logins accepted; the test data is off", accepted)
	}
}

const pythonBcryptScript = `
import bcrypt, json, sys
req = json.load(sys.stdin)
made = {}
for prefix in ("2a", "2b"):
    made[prefix] = bcrypt.hashpw(req["password"].encode(), bcrypt.gensalt(rounds=4, prefix=prefix.encode())).decode()
# htpasswd -B writes $2y$; Python's bcrypt accepts it but makes only 2a/2b.
made["2y"] = "$2y$" + made["2b"][4:]
checked = {k: bcrypt.checkpw(req["password"].encode(), v.encode()) for k, v in req["goHashes"].items()}
checked_wrong = {k: bcrypt.checkpw(b"wrong", v.encode()) for k, v in req["goHashes"].items()}
json.dump({"made": made, "checked": checked, "checkedWrong": checked_wrong}, sys.stdout)
`

// TestHtpasswdPythonBcrypt checks that entries made by Python's bcrypt
// module verify, and that Go's hashes verify in Python.
func TestHtpasswdPythonBcrypt(t *testing.T) {
	const password = "c0rrect horse"
	goHash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{
		"password": password,
		"goHashes": map[string]string{"2a": string(goHash), "2y": withPrefix(string(goHash), "$2y$")},
	}
	var out struct {
		Made         map[string]string
		Checked      map[string]bool
		CheckedWrong map[string]bool
	}
	runPython(t, pythonBcryptScript, in, &out)
	for k, ok := range out.Checked {
		if !ok || out.CheckedWrong[k] {
			t.Errorf("Python checkpw on Go's $%s$ hash: right=%v wrong=%v", k, ok, out.CheckedWrong[k])
		}
	}
	if len(out.Made) != 3 {
		t.Fatalf("Python made %v", out.Made)
	}
	var lines []string
	for _, prefix := range []string{"2a", "2b", "2y"} {
		h := out.Made[prefix]
		if !strings.HasPrefix(h, "$"+prefix+"$04$") {
			t.Fatalf("Python's %s hash is %q", prefix, h)
		}
		lines = append(lines, "user"+prefix+":"+h)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "htpasswd"), strings.Join(lines, "\n")+"\n", t0)
	h, err := NewHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if u := h.Unsupported(); len(u) != 0 {
		t.Errorf("Unsupported = %q", u)
	}
	for _, prefix := range []string{"2a", "2b", "2y"} {
		user := "user" + prefix
		runLogins(t, h, []login{
			{pw(user, password), user, nil},
			{pw(user, "wrong"), "", cred.ErrUnauthorizedLogin},
			{pw(user, password+" "), "", cred.ErrUnauthorizedLogin},
		})
	}
}
