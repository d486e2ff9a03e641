package django

import (
	"errors"
	"strings"
	"testing"
)

func TestMakePasswordFormat(t *testing.T) {
	enc := MakePasswordIterations([]byte("pw"), 1000)
	parts := strings.Split(enc, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2_sha256" || parts[1] != "1000" || len(parts[2]) != SaltLength || len(parts[3]) != 44 {
		t.Fatalf("MakePasswordIterations = %q", enc)
	}
	for _, r := range parts[2] {
		if !strings.ContainsRune(saltChars, r) {
			t.Fatalf("salt %q has %q, outside Django's alphabet", parts[2], r)
		}
	}
	if ok, err := Verify([]byte("pw"), enc); !ok || err != nil {
		t.Fatalf("Verify own hash = %v, %v", ok, err)
	}
	if MustUpdate(enc, 1000) || !MustUpdate(enc, 2000) {
		t.Error("MustUpdate disagrees with the iteration count")
	}
	if MakePasswordIterations([]byte("pw"), 1000) == enc {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if n := strings.Split(MakePasswordIterations([]byte("x"), 0), "$")[1]; n != "260000" {
		t.Errorf("default iterations %s", n)
	}
}

func TestRandomStringAlphabet(t *testing.T) {
	seen := map[rune]int{}
	for i := 0; i < 200; i++ {
		for _, r := range NewSalt() {
			seen[r]++
		}
	}
	if len(seen) != 62 {
		t.Errorf("4400 salt characters used %d letters of 62", len(seen))
	}
	u := UnusablePassword()
	if len(u) != 41 || IsUsable(u) || Identify(u) != "unusable" {
		t.Errorf("UnusablePassword = %q", u)
	}
}

func TestIdentify(t *testing.T) {
	for enc, want := range map[string]string{
		"pbkdf2_sha256$1$s$h":                             AlgPBKDF2SHA256,
		"0123456789abcdef0123456789abcdef":                AlgUnsaltedMD5,
		"md5$$0123456789abcdef0123456789abcdef":           AlgUnsaltedMD5,
		"md5$salt$0123456789abcdef0123456789abc":          AlgMD5,
		"sha1$$0123456789abcdef0123456789abcdef01234567":  AlgUnsaltedSHA1,
		"sha1$x$0123456789abcdef0123456789abcdef01234567": AlgSHA1,
		"!":        "unusable",
		"":         "",
		"whatever": "whatever",
	} {
		if got := Identify(enc); got != want {
			t.Errorf("Identify(%q) = %q, want %q", enc, got, want)
		}
	}
}

func TestMustUpdate(t *testing.T) {
	for enc, want := range map[string]bool{
		"pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$x": false,
		"pbkdf2_sha256$999$abcdefghijklmnopqrstuv$x":  true,
		"pbkdf2_sha256$1000$abcdefghijklmnopqrstu$x":  true, // 21-char salt < 128 bits
		"pbkdf2_sha1$1000$abcdefghijklmnopqrstuv$x":   true,
		"md5$abc$x": true,
		"!unusable": false,
	} {
		if got := MustUpdate(enc, 1000); got != want {
			t.Errorf("MustUpdate(%q) = %v, want %v", enc, got, want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	good := MakePasswordIterations([]byte("pw"), 10)
	for _, c := range []struct {
		enc  string
		want error
	}{
		{"pbkdf2_sha256$x$salt$hash", ErrMalformed},
		{"pbkdf2_sha256$0$salt$hash", ErrMalformed},
		{"pbkdf2_sha256$-5$salt$hash", ErrMalformed},
		{"pbkdf2_sha256$10$$hash", ErrMalformed},
		{"pbkdf2_sha256$10", ErrMalformed},
		{"argon2$argon2id$v=19$m=1024,t=1$c2FsdHNhbHQ$aGFzaA", ErrMalformed},
		{"argon2$argon2id$v=19$m=1024,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaA", ErrMalformed},
		{"argon2$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaGhhc2g", ErrMalformed},
		{"argon2$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", ErrMalformed},
		{"argon2$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", ErrUnsupported},
		{"argon2$argon2i$m=512,t=2,p=2$c2FsdHNhbHQ$aGFzaGhhc2g", ErrUnsupported},
		{"argon2$argon2id$v=19$m=4096,t=1,p=300$c2FsdHNhbHQ$aGFzaGhhc2g", ErrUnsupported},
		{"argon2$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", ErrMalformed},
		{"bcrypt$$2b$04$short", ErrMalformed},
		{"bcrypt_sha256$2b$04$xoZnCwpAhqt9EF6/q6GhTe38dtP8II44eHNK8/jkaHiQTT763v5", ErrMalformed},
		{"scrypt$1000$salt$8$1$hash", ErrMalformed},
		{"scrypt$1024$salt$0$1$hash", ErrMalformed},
		{"scrypt$1024$$8$1$hash", ErrMalformed},
		{"sha1$$short", ErrMalformed},
		{"crypt$$ab01234567890", ErrUnsupported},
		{"pbkdf2_sha512$10$salt$hash", ErrUnknownAlgorithm},
		{"", ErrUnknownAlgorithm},
		{strings.Replace(good, "$10$", "$010$", 1), nil},
		{strings.Replace(good, "$10$", "$+10$", 1), nil},
	} {
		ok, err := Verify([]byte("pw"), c.enc)
		if ok {
			t.Errorf("Verify(%q) = true", c.enc)
		}
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("Verify(%q) error = %v, want %v", c.enc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") && !strings.Contains(c.enc, "pw") {
			t.Errorf("error mentions the password: %v", err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("pw", "pbkdf2_sha256$10$abcdefghijklmnopqrstuv$x")
	f.Add("pw", "argon2$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
	f.Add("pw", "bcrypt$$2b$04$83ajoxS9zXlrqWk5Gdbe5us4t4u5NwEtJOpuKZVU9KYp4Ffjc7QO6")
	f.Add("pw", "scrypt$16$salt$1$1$x")
	f.Add("pw", "md5$$0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, pw, enc string) {
		// Keep costs small: the fuzzer must not ask for huge work.
		if strings.Count(enc, "$") > 8 || len(enc) > 200 {
			return
		}
		for _, p := range strings.FieldsFunc(enc, func(r rune) bool { return r == '$' || r == ',' || r == '=' }) {
			if len(p) > 4 && strings.Trim(p, "0123456789") == "" {
				return
			}
		}
		ok, err := Verify([]byte(pw), enc)
		if ok && err != nil {
			t.Fatalf("ok with error %v", err)
		}
	})
}
