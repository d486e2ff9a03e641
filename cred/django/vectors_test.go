package django

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gospread/spread/internal/djangotest"
)

// Regenerate testdata/vectors.json with:
//
//	go test ./cred/django -run TestVectors -update-vectors
var updateVectors = flag.Bool("update-vectors", false, "regenerate testdata/vectors.json with the installed Django")

const vectorsFile = "testdata/vectors.json"

// vector is one encoded password made by Django (or, where this Django
// lacks the hasher, by the library Django uses, in Django's format).
type vector struct {
	Name      string   `json:"name"`
	Algorithm string   `json:"algorithm"`
	Source    string   `json:"source"`
	Encoded   string   `json:"encoded"`
	Accept    []string `json:"accept"` // passwords Django accepts
	Reject    []string `json:"reject"` // passwords Django refuses
	// Error is "unsupported" where Spread cannot verify the format.
	Error string `json:"error,omitempty"`
	// Live is false where the Django under test cannot check the value
	// (a hasher it does not have).
	Live bool `json:"live"`
}

type vectorFile struct {
	Django   string   `json:"django"`
	Vectors  []vector `json:"vectors"`
	Comment  string   `json:"comment"`
	Hashers  []string `json:"hashers"`
	Argon2   string   `json:"argon2_cffi"`
	BcryptPy string   `json:"bcrypt"`
}

// genVectorsPy makes the vectors with Django's make_password and, for
// formats this Django does not write, with the same libraries.
const genVectorsPy = `
import base64, hashlib, warnings
import argon2, bcrypt
from django.contrib.auth import hashers as H

def mk(alg, pw, params=None, salt=None):
    h = type(H.get_hasher(alg))()
    for k, v in (params or {}).items():
        setattr(h, k, v)
    return H.make_password(pw, salt=salt, hasher=h)

V = []
def add(name, alg, enc, accept, reject, source='django make_password', error='', live=True):
    V.append(dict(name=name, algorithm=alg, encoded=enc, accept=accept, reject=reject,
                  source=source, error=error, live=live))

uni = 'p\u00e4ssw\u00f6rd \u2713 \u5bc6\u7801'
add('pbkdf2_sha256 default', 'pbkdf2_sha256', mk('pbkdf2_sha256', 'correct horse'), ['correct horse'], ['correct horsE', ''])
add('pbkdf2_sha256 Django 6.0 count', 'pbkdf2_sha256', mk('pbkdf2_sha256', 'six', {'iterations': 1200000}), ['six'], ['Six'])
add('pbkdf2_sha256 unicode', 'pbkdf2_sha256', mk('pbkdf2_sha256', uni, {'iterations': 1000}), [uni], [uni[:-1]])
add('pbkdf2_sha256 empty password', 'pbkdf2_sha256', mk('pbkdf2_sha256', '', {'iterations': 1000}), [''], [' '])
add('pbkdf2_sha256 12-char salt (Django <3.1)', 'pbkdf2_sha256',
    mk('pbkdf2_sha256', 'old salt', {'iterations': 36000}, salt='AbCdEf123456'), ['old salt'], ['old sal'])
add('pbkdf2_sha1 default', 'pbkdf2_sha1', mk('pbkdf2_sha1', 'sha one'), ['sha one'], ['sha two'])
add('pbkdf2_sha1 cheap', 'pbkdf2_sha1', mk('pbkdf2_sha1', uni, {'iterations': 1000}), [uni], ['x'])
add('argon2id default', 'argon2', mk('argon2', 'argon'), ['argon'], ['argon!'])
add('argon2id cheap', 'argon2', mk('argon2', uni, {'time_cost': 1, 'memory_cost': 1024, 'parallelism': 1}), [uni], ['nope'])
add('argon2id p=4', 'argon2', mk('argon2', 'lanes', {'time_cost': 3, 'memory_cost': 2048, 'parallelism': 4}), ['lanes'], ['lane'])
salt = H.get_hasher('argon2').salt()
add('argon2i (Django 1.10-2.x)', 'argon2',
    'argon2' + argon2.low_level.hash_secret(b'eye', salt.encode(), time_cost=2, memory_cost=512, parallelism=2,
                                            hash_len=16, type=argon2.low_level.Type.I).decode(),
    ['eye'], ['Eye'], source='argon2-cffi hash_secret, Django 1.10 parameters, Django format')
add('argon2i version 1.0', 'argon2',
    'argon2' + argon2.low_level.hash_secret(b'old', salt.encode(), time_cost=2, memory_cost=512, parallelism=2,
                                            hash_len=16, type=argon2.low_level.Type.I, version=16).decode(),
    ['old'], ['new'], source='argon2-cffi hash_secret version=16, Django format', error='unsupported')
add('bcrypt_sha256 default', 'bcrypt_sha256', mk('bcrypt_sha256', 'bee'), ['bee'], ['bea'])
long = 'L' * 72 + 'tail-one'
add('bcrypt_sha256 long password', 'bcrypt_sha256', mk('bcrypt_sha256', long, {'rounds': 4}), [long], ['L' * 72 + 'tail-two'])
add('bcrypt default', 'bcrypt', mk('bcrypt', 'plain bee'), ['plain bee'], ['plain be'])
add('bcrypt truncates at 72 bytes', 'bcrypt', mk('bcrypt', long, {'rounds': 4}), [long, 'L' * 72, 'L' * 72 + 'tail-two'], ['L' * 71])
add('bcrypt unicode', 'bcrypt', mk('bcrypt', uni, {'rounds': 5}), [uni], [uni.upper()])
if 'scrypt' in [h.algorithm for h in H.get_hashers()]:
    add('scrypt default', 'scrypt', mk('scrypt', 'ess'), ['ess'], ['esss'])
    add('scrypt cheap', 'scrypt', mk('scrypt', uni, {'work_factor': 1024}), [uni], ['x'])
else:
    def scrypt_django(pw, salt, n, r, p):
        h = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=0, dklen=64)
        return 'scrypt$%d$%s$%d$%d$%s' % (n, salt, r, p, base64.b64encode(h).decode('ascii').strip())
    src = 'hashlib.scrypt in the format of Django 4.0+ (this Django has no scrypt hasher)'
    add('scrypt default', 'scrypt', scrypt_django('ess', H.get_hasher('md5').salt(), 2**14, 8, 1), ['ess'], ['esss'], source=src, live=False)
    add('scrypt cheap', 'scrypt', scrypt_django(uni, H.get_hasher('md5').salt(), 1024, 8, 2), [uni], ['x'], source=src, live=False)
add('sha1 salted', 'sha1', mk('sha1', 'salty'), ['salty'], ['Salty'])
add('sha1 5-char salt (Django <1.4)', 'sha1', mk('sha1', 'ancient', salt='a1976'), ['ancient'], ['ancien'])
add('md5 salted', 'md5', mk('md5', uni), [uni], ['md5'])
add('md5 5-char salt', 'md5', mk('md5', 'five', salt='12345'), ['five'], ['four'])
add('unsalted_sha1', 'unsalted_sha1', mk('unsalted_sha1', 'no salt'), ['no salt'], ['no salt '])
add('unsalted_md5 bare', 'unsalted_md5', mk('unsalted_md5', 'bare'), ['bare'], ['Bare'])
add('unsalted_md5 md5$$', 'unsalted_md5', 'md5$$' + mk('unsalted_md5', 'empty salt'), ['empty salt'], ['salt'],
    source='md5$$ + make_password(unsalted_md5)')
if 'crypt' in [h.algorithm for h in H.get_hashers()]:
    add('crypt', 'crypt', mk('crypt', 'unix'), ['unix'], ['linux'], error='unsupported')
add('unusable', 'unusable', H.make_password(None), [], ['', '!'], source='django make_password(None)')
result = {'vectors': V, 'argon2_cffi': argon2.__version__, 'bcrypt': bcrypt.__version__}
`

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update-vectors)", err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 20 {
		t.Fatalf("only %d vectors in %s", len(f.Vectors), vectorsFile)
	}
	return f
}

// TestVectors verifies every stored Django vector with Spread.
func TestVectors(t *testing.T) {
	if *updateVectors {
		d := djangotest.New(t, "sqlite:"+filepath.Join(t.TempDir(), "unused.sqlite3"), nil)
		var f vectorFile
		d.Exec(t, genVectorsPy, nil, &f)
		f.Django, f.Hashers = d.Version, d.Hashers
		f.Comment = "Made by TestVectors -update-vectors with Debian's python3-django; accept/reject are Django's verdicts."
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := loadVectors(t)
	algs := map[string]bool{}
	for _, v := range f.Vectors {
		algs[v.Algorithm] = true
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			if raceEnabled && heavy(v.Encoded) {
				t.Skip("full-cost hash: verified in the tests without -race")
			}
			if got := Identify(v.Encoded); got != v.Algorithm {
				t.Errorf("Identify(%q) = %q, want %q", v.Encoded, got, v.Algorithm)
			}
			for _, pw := range v.Accept {
				ok, err := Verify([]byte(pw), v.Encoded)
				if v.Error == "unsupported" {
					if ok || !errors.Is(err, ErrUnsupported) {
						t.Errorf("Verify(%q) = %v, %v; want ErrUnsupported", pw, ok, err)
					}
					continue
				}
				if !ok || err != nil {
					t.Errorf("Verify(%q, %q) = %v, %v; Django accepts it", pw, v.Encoded, ok, err)
				}
			}
			for _, pw := range v.Reject {
				if ok, _ := Verify([]byte(pw), v.Encoded); ok {
					t.Errorf("Verify(%q, %q) = true; Django refuses it", pw, v.Encoded)
				}
			}
		})
	}
	for _, a := range []string{AlgPBKDF2SHA256, AlgPBKDF2SHA1, AlgArgon2, AlgBcryptSHA256, AlgBcrypt, AlgScrypt,
		AlgSHA1, AlgMD5, AlgUnsaltedSHA1, AlgUnsaltedMD5, "unusable"} {
		if !algs[a] {
			t.Errorf("no vector for %s", a)
		}
	}
}

// heavy reports whether verifying encoded under the race detector would
// take many seconds: bcrypt at cost 10 or more, PBKDF2 above 300,000,
// argon2 with 64 MiB or more. Django's own default pbkdf2_sha256 stays
// in. Run the tests without -race as well to cover these.
func heavy(encoded string) bool {
	parts := strings.Split(encoded, "$")
	switch Identify(encoded) {
	case AlgArgon2:
		for _, p := range parts {
			if m, ok := strings.CutPrefix(p, "m="); ok {
				kib, _ := strconv.Atoi(strings.SplitN(m, ",", 2)[0])
				return kib >= 64<<10
			}
		}
	case AlgBcrypt, AlgBcryptSHA256:
		cost, _ := strconv.Atoi(parts[3])
		return cost >= 10
	case AlgPBKDF2SHA256, AlgPBKDF2SHA1:
		n, _ := strconv.Atoi(parts[1])
		return n > 300000
	}
	return false
}

// TestVectorsLive asks the installed Django again about every stored
// vector, and about hashes that Spread's MakePassword writes.
func TestVectorsLive(t *testing.T) {
	f := loadVectors(t)
	d := djangotest.New(t, "sqlite:"+filepath.Join(t.TempDir(), "unused.sqlite3"), nil)
	var pairs [][2]string
	var want []bool
	for _, v := range f.Vectors {
		if !v.Live || (!slices.Contains(d.Hashers, v.Algorithm) && v.Algorithm != "unusable") {
			t.Logf("%s: this Django (%s) has no %s hasher; checked by Spread only", v.Name, d.Version, v.Algorithm)
			continue
		}
		for _, pw := range v.Accept {
			pairs, want = append(pairs, [2]string{pw, v.Encoded}), append(want, true)
		}
		for _, pw := range v.Reject {
			pairs, want = append(pairs, [2]string{pw, v.Encoded}), append(want, false)
		}
	}
	// Spread's own output: default count, a cheap count, Django 6.0's count.
	for _, c := range []struct {
		pw string
		n  int
	}{{"spread default", 0}, {"spread \u00e9\u00e8", 1000}, {"spread six", Django60Iterations}} {
		if raceEnabled && c.n == Django60Iterations {
			continue // about ten seconds under the race detector
		}
		enc := MakePasswordIterations([]byte(c.pw), c.n)
		pairs, want = append(pairs, [2]string{c.pw, enc}, [2]string{c.pw + "?", enc}), append(want, true, false)
	}
	got := d.CheckPasswords(t, pairs)
	for i := range pairs {
		if got[i] != want[i] {
			t.Errorf("Django check_password(%q, %q) = %v, want %v", pairs[i][0], pairs[i][1], got[i], want[i])
		}
	}
	t.Logf("Django %s checked %d (password, hash) pairs", d.Version, len(pairs))
}
