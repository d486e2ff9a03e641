package django

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Iteration counts of Django's default hasher, pbkdf2_sha256, in the
// releases Spread is tested against or is likely to meet.
const (
	// Django32Iterations is Django 3.2's count (Debian 12's python3-django).
	Django32Iterations = 260000
	// Django60Iterations is Django 6.0's count.
	Django60Iterations = 1200000

	// DefaultIterations is the count MakePassword uses and the count a
	// Store treats as current unless Config.Iterations says otherwise.
	// It matches the Django release Spread targets, 3.2. Raise it (for
	// example to Django60Iterations) when the Django project that shares
	// the database is newer; Django itself re-hashes a password whose
	// count differs from its own at the next login.
	DefaultIterations = Django32Iterations
)

// The algorithm names Django writes before the first "$" of an encoded
// password, plus the two names Django uses for prefix-less legacy forms.
const (
	AlgPBKDF2SHA256 = "pbkdf2_sha256"
	AlgPBKDF2SHA1   = "pbkdf2_sha1"
	AlgArgon2       = "argon2"
	AlgBcryptSHA256 = "bcrypt_sha256"
	AlgBcrypt       = "bcrypt"
	AlgScrypt       = "scrypt"
	AlgSHA1         = "sha1"
	AlgMD5          = "md5"
	AlgUnsaltedSHA1 = "unsalted_sha1"
	AlgUnsaltedMD5  = "unsalted_md5"
	AlgCrypt        = "crypt"
)

// UnusablePrefix starts every password Django marks unusable
// (set_unusable_password). Such a value never verifies.
const UnusablePrefix = "!"

// Errors returned by Verify. A wrong password is not an error: Verify
// returns false and a nil error for it.
var (
	// ErrUnknownAlgorithm: the encoded password names no hasher Django
	// has shipped.
	ErrUnknownAlgorithm = errors.New("django: unknown password hash algorithm")
	// ErrUnsupported: a format Django can read but Spread cannot
	// (crypt, argon2d, Argon2 version 1.0).
	ErrUnsupported = errors.New("django: unsupported password hash format")
	// ErrMalformed: the encoded password does not parse.
	ErrMalformed = errors.New("django: malformed password hash")
)

// saltChars is the alphabet Django draws salts and random strings from.
const saltChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// SaltLength is the length of the salts MakePassword draws: the fewest
// characters of the 62-letter alphabet that carry 128 bits, as Django
// (3.2 and later) does. Shorter salts make Django re-hash.
const SaltLength = 22

// unusableSuffixLength is how many random characters follow "!" in an
// unusable password.
const unusableSuffixLength = 40

// randomString returns n characters of saltChars drawn from crypto/rand
// without modulo bias.
func randomString(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("django: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 62*4 = 248: reject 248..255 so that each letter is equally likely.
			if b < 248 {
				out = append(out, saltChars[b%62])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// NewSalt returns a fresh random salt of SaltLength characters.
func NewSalt() string { return randomString(SaltLength) }

// UnusablePassword returns a new value that marks a password unusable,
// in the form Django writes ("!" and 40 random characters).
func UnusablePassword() string { return UnusablePrefix + randomString(unusableSuffixLength) }

// IsUsable reports whether encoded may verify at all, that is, it does not
// start with UnusablePrefix. (An unknown format is "usable" here, as in
// Django, but Verify refuses it.)
func IsUsable(encoded string) bool { return !strings.HasPrefix(encoded, UnusablePrefix) }

// MakePassword encodes password as pbkdf2_sha256 with DefaultIterations and
// a new random salt.
func MakePassword(password []byte) string {
	return MakePasswordIterations(password, DefaultIterations)
}

// MakePasswordIterations is MakePassword with an explicit iteration count.
// A count below 1 means DefaultIterations.
func MakePasswordIterations(password []byte, iterations int) string {
	if iterations < 1 {
		iterations = DefaultIterations
	}
	return encodePBKDF2(AlgPBKDF2SHA256, sha256.New, password, NewSalt(), iterations)
}

func encodePBKDF2(alg string, h func() hash.Hash, password []byte, salt string, iterations int) string {
	size := h().Size()
	key, err := pbkdf2.Key(h, string(password), []byte(salt), iterations, size)
	if err != nil {
		// Only for lengths or counts that the callers never pass.
		panic("django: pbkdf2: " + err.Error())
	}
	return alg + "$" + strconv.Itoa(iterations) + "$" + salt + "$" + base64.StdEncoding.EncodeToString(key)
}

// Identify returns the algorithm of encoded as Django would name it,
// without checking the rest of the value: "unusable" for unusable
// passwords, AlgUnsaltedMD5 for a bare 32-character MD5 or "md5$$...",
// AlgUnsaltedSHA1 for "sha1$$...", otherwise the text before the first
// "$" (which may name no known algorithm).
func Identify(encoded string) string {
	switch {
	case !IsUsable(encoded):
		return "unusable"
	case len(encoded) == 32 && !strings.Contains(encoded, "$"),
		len(encoded) == 37 && strings.HasPrefix(encoded, "md5$$"):
		return AlgUnsaltedMD5
	case len(encoded) == 46 && strings.HasPrefix(encoded, "sha1$$"):
		return AlgUnsaltedSHA1
	}
	alg, _, _ := strings.Cut(encoded, "$")
	return alg
}

// Verify reports whether password matches the Django-encoded password.
//
// A wrong password gives (false, nil); so does an unusable password. A
// value that names an unknown algorithm, does not parse, or uses a format
// Spread does not implement gives false and an error wrapping
// ErrUnknownAlgorithm, ErrMalformed or ErrUnsupported. The final
// comparison is always constant-time. The cost of the call is that of the
// stored hash: callers that must hide whether a user exists (Store.Check
// does) add dummy work themselves.
func Verify(password []byte, encoded string) (bool, error) {
	if !IsUsable(encoded) {
		return false, nil
	}
	switch alg := Identify(encoded); alg {
	case AlgPBKDF2SHA256:
		return verifyPBKDF2(password, encoded, alg, sha256.New)
	case AlgPBKDF2SHA1:
		return verifyPBKDF2(password, encoded, alg, sha1.New)
	case AlgArgon2:
		return verifyArgon2(password, encoded)
	case AlgBcryptSHA256, AlgBcrypt:
		return verifyBcrypt(password, encoded, alg)
	case AlgScrypt:
		return verifyScrypt(password, encoded)
	case AlgSHA1:
		return verifySalted(password, encoded, alg, sha1.New)
	case AlgMD5:
		return verifySalted(password, encoded, alg, md5.New)
	case AlgUnsaltedSHA1:
		sum := sha1.Sum(password)
		return constEq("sha1$$"+hex.EncodeToString(sum[:]), encoded), nil
	case AlgUnsaltedMD5:
		sum := md5.Sum(password)
		return constEq(hex.EncodeToString(sum[:]), strings.TrimPrefix(encoded, "md5$$")), nil
	case AlgCrypt:
		return false, fmt.Errorf("%w: crypt (Unix crypt(3))", ErrUnsupported)
	default:
		// Name the algorithm only when the value looks like a hash, so that
		// a stray plaintext in the column never reaches an error message.
		if strings.Contains(encoded, "$") && algNameRE.MatchString(alg) {
			return false, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, alg)
		}
		return false, ErrUnknownAlgorithm
	}
}

var algNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func constEq(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func malformed(alg, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, alg, why)
}

// MaxIterations bounds the work a stored PBKDF2 value can ask for.
const MaxIterations = 1 << 30

// pbkdf2Parts splits "alg$iterations$salt$hash".
func pbkdf2Parts(encoded, alg string) (iterations int, salt string, err error) {
	parts := strings.SplitN(encoded, "$", 4)
	if len(parts) != 4 || parts[0] != alg {
		return 0, "", malformed(alg, "want alg$iterations$salt$hash")
	}
	iterations, err = strconv.Atoi(parts[1])
	if err != nil || iterations < 1 || iterations > MaxIterations {
		return 0, "", malformed(alg, "bad iteration count")
	}
	if parts[2] == "" || strings.Contains(parts[2], "$") {
		return 0, "", malformed(alg, "bad salt")
	}
	return iterations, parts[2], nil
}

func verifyPBKDF2(password []byte, encoded, alg string, h func() hash.Hash) (bool, error) {
	iterations, salt, err := pbkdf2Parts(encoded, alg)
	if err != nil {
		return false, err
	}
	// Like Django: re-encode and compare the whole value.
	return constEq(encodePBKDF2(alg, h, password, salt, iterations), encoded), nil
}

func verifySalted(password []byte, encoded, alg string, h func() hash.Hash) (bool, error) {
	parts := strings.SplitN(encoded, "$", 3)
	if len(parts) != 3 || parts[1] == "" {
		return false, malformed(alg, "want alg$salt$hash")
	}
	d := h()
	d.Write([]byte(parts[1]))
	d.Write(password)
	return constEq(alg+"$"+parts[1]+"$"+hex.EncodeToString(d.Sum(nil)), encoded), nil
}

func verifyBcrypt(password []byte, encoded, alg string) (bool, error) {
	// "bcrypt_sha256$$2b$12$..." or "bcrypt$$2b$12$...": the algorithm,
	// an empty salt field, then the library's own modular-crypt string.
	rest, ok := strings.CutPrefix(encoded, alg+"$")
	if !ok || !strings.HasPrefix(rest, "$2") {
		return false, malformed(alg, "want alg$$2b$cost$...")
	}
	pw := password
	if alg == AlgBcryptSHA256 {
		// The bcrypt input is the hex of SHA-256, so long passwords are
		// not cut at bcrypt's 72 bytes.
		sum := sha256.Sum256(password)
		pw = []byte(hex.EncodeToString(sum[:]))
	} else if len(pw) > 72 {
		// bcrypt reads at most 72 bytes; say so explicitly.
		pw = pw[:72]
	}
	err := bcrypt.CompareHashAndPassword([]byte(rest), pw)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed(alg, err.Error())
	}
}

// maxArgon2Memory bounds the memory (KiB) a stored argon2 value can ask for:
// 4 GiB.
const maxArgon2Memory = 4 << 20

func verifyArgon2(password []byte, encoded string) (bool, error) {
	const alg = AlgArgon2
	// argon2$<variety>$v=19$m=...,t=...,p=...$<salt b64>$<hash b64>
	parts := strings.Split(encoded, "$")
	if len(parts) == 5 {
		// argon2-cffi before 16 wrote no version field; such values are
		// Argon2 version 1.0 (0x10).
		return false, fmt.Errorf("%w: argon2 version 1.0 (no v= field)", ErrUnsupported)
	}
	if len(parts) != 6 || parts[0] != alg {
		return false, malformed(alg, "want argon2$variety$v=..$m=..,t=..,p=..$salt$hash")
	}
	variety, version, params, saltB64, hashB64 := parts[1], parts[2], parts[3], parts[4], parts[5]
	if version != "v=19" {
		if version == "v=16" {
			return false, fmt.Errorf("%w: argon2 version 1.0 (v=16)", ErrUnsupported)
		}
		return false, malformed(alg, "bad version")
	}
	var m, t, p uint64
	seen := 0
	for _, kv := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return false, malformed(alg, "bad parameters")
		}
		switch k {
		case "m":
			m, seen = n, seen|1
		case "t":
			t, seen = n, seen|2
		case "p":
			p, seen = n, seen|4
		default:
			return false, malformed(alg, "bad parameters")
		}
	}
	if seen != 7 || t < 1 || p < 1 || m < 8*p || m > maxArgon2Memory {
		return false, malformed(alg, "bad parameters")
	}
	if p > 255 {
		return false, fmt.Errorf("%w: argon2 parallelism %d > 255", ErrUnsupported, p)
	}
	salt, err1 := b64Raw(saltB64)
	want, err2 := b64Raw(hashB64)
	if err1 != nil || err2 != nil || len(want) < 4 || len(salt) < 8 {
		return false, malformed(alg, "bad salt or hash encoding")
	}
	var got []byte
	switch variety {
	case "argon2id":
		got = argon2.IDKey(password, salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	case "argon2i":
		got = argon2.Key(password, salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	case "argon2d":
		return false, fmt.Errorf("%w: argon2d", ErrUnsupported)
	default:
		return false, malformed(alg, "unknown variety")
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// b64Raw decodes standard base64 with or without padding, as argon2's
// encoders write it without.
func b64Raw(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// maxScryptMemory bounds the memory a stored scrypt value can ask for
// (128*N*r bytes).
const maxScryptMemory = 1 << 32

func verifyScrypt(password []byte, encoded string) (bool, error) {
	const alg = AlgScrypt
	// scrypt$N$salt$r$p$hash, hash = base64 of 64 bytes (Django 4.0+).
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != alg || parts[2] == "" {
		return false, malformed(alg, "want scrypt$N$salt$r$p$hash")
	}
	n, err1 := strconv.Atoi(parts[1])
	r, err2 := strconv.Atoi(parts[3])
	p, err3 := strconv.Atoi(parts[4])
	if err1 != nil || err2 != nil || err3 != nil || n < 2 || n&(n-1) != 0 || r < 1 || p < 1 ||
		uint64(n)*uint64(r)*128 > maxScryptMemory || uint64(r)*uint64(p) >= 1<<30 {
		return false, malformed(alg, "bad parameters")
	}
	key, err := scrypt.Key(password, []byte(parts[2]), n, r, p, 64)
	if err != nil {
		return false, malformed(alg, err.Error())
	}
	again := alg + "$" + strconv.Itoa(n) + "$" + parts[2] + "$" + strconv.Itoa(r) + "$" + strconv.Itoa(p) +
		"$" + base64.StdEncoding.EncodeToString(key)
	return constEq(again, encoded), nil
}

// MustUpdate reports whether Django, with pbkdf2_sha256 at iterations as
// its preferred hasher, would re-hash encoded after a successful login:
// another algorithm, another iteration count, or a salt shorter than 128
// bits. Unusable values never need it (they never log in). A count below
// 1 means DefaultIterations.
func MustUpdate(encoded string, iterations int) bool {
	if iterations < 1 {
		iterations = DefaultIterations
	}
	if !IsUsable(encoded) {
		return false
	}
	if Identify(encoded) != AlgPBKDF2SHA256 {
		return true
	}
	n, salt, err := pbkdf2Parts(encoded, AlgPBKDF2SHA256)
	if err != nil {
		return true
	}
	return n != iterations || len(salt) < SaltLength
}

// HardenRuntime does what Django does after a wrong password whose
// pbkdf2_sha256 hash has fewer iterations than the current count: it runs
// the difference, so that old hashes do not reveal themselves by speed.
func HardenRuntime(password []byte, encoded string, iterations int) {
	if Identify(encoded) != AlgPBKDF2SHA256 {
		return
	}
	n, salt, err := pbkdf2Parts(encoded, AlgPBKDF2SHA256)
	if err != nil || n >= iterations {
		return
	}
	encodePBKDF2(AlgPBKDF2SHA256, sha256.New, password, salt, iterations-n)
}
